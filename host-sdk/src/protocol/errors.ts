import { HandsetError, type HandsetErrorOptions } from '@handset/device-drivers/core';

/**
 * Typed errors of the wire contract. Every parser in `protocol/` throws only these (or
 * returns problem lists); nothing here throws an untyped exception on hostile input.
 *
 * | class        | raised by                        | where                          |
 * | ------------ | -------------------------------- | ------------------------------ |
 * | MoneyError   | money.ts amount parsing          | `details.input`                |
 * | TopicError   | topics.ts id and topic grammar   | `details.topic` / `details.id` |
 * | MessageError | messages.ts decodeMessage        | `path` (e.g. `amount`, `slots.0.slot`) |
 * | SigningError | signing.ts key import / encoding | `details.field`                |
 * | PaycodeError | paycode.ts                       | `position` (digit index)       |
 * | EmvError     | emv/* MPM + CPM codecs           | `offset` (character or byte), `idPath` |
 */
export class ProtocolError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'protocol', ...options });
  }
}

/** Amount or currency input that is not an exact, positive-or-zero integer of minor units within range. */
export class MoneyError extends ProtocolError {}

/** A topic or identifier outside the topic grammar. */
export class TopicError extends ProtocolError {}

/** A wire message that is too large, not UTF-8, not JSON, or not valid against its schema. */
export class MessageError extends ProtocolError {
  /** Dotted path of the offending field (`'$'` for the whole message). */
  readonly path: string;
  constructor(code: string, message: string, path: string, options: HandsetErrorOptions = {}) {
    super(code, message, { ...options, details: { path, ...options.details } });
    this.path = path;
  }
}

/** Key material or signing input that cannot be used. */
export class SigningError extends ProtocolError {}

/** A pay code that is malformed (length, digits, version, check digit) or a bad pay-code parameter. */
export class PaycodeError extends ProtocolError {
  /** Digit index (0-based) where the problem was found, when known. */
  readonly position: number | undefined;
  constructor(code: string, message: string, position?: number, options: HandsetErrorOptions = {}) {
    super(code, message, { ...options, details: { position, ...options.details } });
    this.position = position;
  }
}

/** An EMV QR payload (MPM text or CPM bytes) that cannot be read at all. */
export class EmvError extends ProtocolError {
  /** Character offset (MPM) or byte offset (CPM) in the input. */
  readonly offset: number;
  /** ID path to the object being read, e.g. `['62', '05']` (MPM) or `['61', '4F']` (CPM). */
  readonly idPath: readonly string[];
  constructor(code: string, message: string, offset: number, idPath: readonly string[] = [], options: HandsetErrorOptions = {}) {
    super(code, message, { ...options, details: { offset, idPath, ...options.details } });
    this.offset = offset;
    this.idPath = idPath;
  }
}
