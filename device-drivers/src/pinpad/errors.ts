/**
 * PIN pad errors. None of them carries digits, a PIN length or report bytes: messages
 * and details say what happened, never what was typed.
 */
import { HandsetError, type HandsetErrorOptions } from '../core/errors';

/** Who ended a PIN entry early: the cardholder (Cancel/Esc key) or the caller (AbortSignal, close()). */
export type PinAbortSource = 'user' | 'caller';

/** PIN entry ended without a PIN: Cancel on the pad, the caller's signal, or the pad closed. */
export class PinEntryAbortedError extends HandsetError {
  readonly by: PinAbortSource;
  constructor(by: PinAbortSource, options: HandsetErrorOptions = {}) {
    super('PIN_ABORTED', by === 'user' ? 'PIN entry cancelled on the PIN pad' : 'PIN entry aborted by the caller', {
      device: 'pinpad',
      ...options,
      details: { by, ...options.details },
    });
    this.by = by;
  }
}

/** Which limit ran out: the whole entry, or the time since the last key. */
export type PinTimeoutKind = 'total' | 'idle';

/** No complete PIN within the allotted time. */
export class PinEntryTimeoutError extends HandsetError {
  readonly timeoutMs: number;
  readonly kind: PinTimeoutKind;
  constructor(kind: PinTimeoutKind, timeoutMs: number) {
    super(
      'PIN_TIMEOUT',
      kind === 'total' ? `PIN entry not finished within ${timeoutMs} ms` : `no key pressed on the PIN pad for ${timeoutMs} ms`,
      { device: 'pinpad', details: { kind, timeoutMs } },
    );
    this.timeoutMs = timeoutMs;
    this.kind = kind;
  }
}

/** A second reader while one is active (one PIN entry or key reader at a time). */
export class PinPadBusyError extends HandsetError {
  constructor() {
    super('PINPAD_BUSY', 'the PIN pad is already being read', { device: 'pinpad' });
  }
}
