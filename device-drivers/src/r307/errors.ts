/**
 * R307 error taxonomy. A non-zero confirmation code becomes an `R307Error` subclass
 * through ONE factory, `r307Error(code, instruction)`; link problems (corrupt or
 * unexpected replies) are `R307ProtocolError`, a `TransportError`; silence is the
 * core `DeviceTimeoutError`, whose message names the instruction.
 */
import { HandsetError, type HandsetErrorOptions, TransportError } from '../core/errors';
import { Confirmation, describeConfirmation, hex2, instructionLabel } from './protocol';

export const DEVICE = 'r307';

/** The module answered with a non-zero confirmation code. */
export class R307Error extends HandsetError {
  /** The confirmation byte the module sent. */
  readonly confirmationCode: number;
  /** The instruction it answered. */
  readonly instruction: number;

  constructor(confirmationCode: number, instruction: number, options: HandsetErrorOptions = {}) {
    const { name, message } = describeConfirmation(confirmationCode);
    super(`R307_${screaming(name)}`, `${instructionLabel(instruction)}: ${message} (confirmation 0x${hex2(confirmationCode)})`, {
      device: DEVICE,
      ...options,
      details: { confirmationCode, instruction, ...options.details },
    });
    this.confirmationCode = confirmationCode;
    this.instruction = instruction;
  }
}

/** 0x01: the module could not receive the command packet (bad checksum or format). */
export class PacketReceiveError extends R307Error {}
/** 0x02: no finger on the sensor. */
export class NoFingerError extends R307Error {}
/** 0x03: image capture failed. */
export class CaptureFailedError extends R307Error {}
/** 0x04-0x07: the image is too poor to extract features (ask for another press). */
export class ImageQualityError extends R307Error {}
/** 0x08: Match found the two buffers to be different fingers. */
export class NotMatchedError extends R307Error {}
/** 0x09: Search found no matching template in the library range. */
export class NotFoundError extends R307Error {}
/** 0x0A: RegModel could not merge the two captures (different fingers). */
export class EnrolMismatchError extends R307Error {}
/** 0x0B: page ID beyond the library. */
export class PageOutOfRangeError extends R307Error {}
/** 0x0C: the library page is empty or holds an invalid template. */
export class TemplateReadError extends R307Error {}
/** 0x0D / 0x0E / 0x0F: a bulk transfer was refused. */
export class TransferRefusedError extends R307Error {}
/** 0x10 / 0x11 / 0x18: flash operation failed (delete, empty, write). */
export class FlashError extends R307Error {}
/** 0x13: wrong password. */
export class BadPasswordError extends R307Error {}
/** 0x15: no valid image in the image buffer. */
export class NoImageError extends R307Error {}
/** 0x1A / 0x1B: invalid system parameter register or value. */
export class InvalidRegisterError extends R307Error {}
/** 0x1C: notepad page out of range. */
export class NotepadPageError extends R307Error {}
/** 0x20: address code error. */
export class AddressError extends R307Error {}
/** 0x21: a non-default password is set and VfyPwd has not succeeded yet. */
export class PasswordRequiredError extends R307Error {}

type R307ErrorClass = new (code: number, instruction: number, options?: HandsetErrorOptions) => R307Error;

const BY_CODE = new Map<number, R307ErrorClass>([
  [Confirmation.PacketReceive, PacketReceiveError],
  [Confirmation.NoFinger, NoFingerError],
  [Confirmation.CaptureFailed, CaptureFailedError],
  [Confirmation.ImageDisorderly, ImageQualityError],
  [Confirmation.ImageWet, ImageQualityError],
  [Confirmation.ImageMessy, ImageQualityError],
  [Confirmation.TooFewFeatures, ImageQualityError],
  [Confirmation.NoMatch, NotMatchedError],
  [Confirmation.NotFound, NotFoundError],
  [Confirmation.MergeFailed, EnrolMismatchError],
  [Confirmation.PageOutOfRange, PageOutOfRangeError],
  [Confirmation.TemplateReadError, TemplateReadError],
  [Confirmation.UpCharFailed, TransferRefusedError],
  [Confirmation.CannotReceive, TransferRefusedError],
  [Confirmation.UpImageFailed, TransferRefusedError],
  [Confirmation.DeleteFailed, FlashError],
  [Confirmation.EmptyFailed, FlashError],
  [Confirmation.FlashError, FlashError],
  [Confirmation.WrongPassword, BadPasswordError],
  [Confirmation.NoValidImage, NoImageError],
  [Confirmation.InvalidRegister, InvalidRegisterError],
  [Confirmation.WrongRegisterConfig, InvalidRegisterError],
  [Confirmation.WrongNotepadPage, NotepadPageError],
  [Confirmation.AddressError, AddressError],
  [Confirmation.PasswordRequired, PasswordRequiredError],
]);

/** THE mapping from a confirmation code to a typed error. Codes without a class get `R307Error`. */
export function r307Error(confirmationCode: number, instruction: number, options: HandsetErrorOptions = {}): R307Error {
  const Cls = BY_CODE.get(confirmationCode) ?? R307Error;
  return new Cls(confirmationCode, instruction, options);
}

/**
 * The link delivered something unusable for the command in flight: a corrupt reply
 * (bad checksum), a reply of the wrong shape (the answer to another command), a data
 * stream that broke off. The driver resynchronises before the next command.
 */
export class R307ProtocolError extends TransportError {
  constructor(message: string, options: HandsetErrorOptions & { code?: string } = {}) {
    super(message, { device: DEVICE, ...options, code: options.code ?? 'R307_PROTOCOL' });
  }
}

/** Enrolment refused because the finger already matches a stored template. */
export class AlreadyEnrolledError extends HandsetError {
  readonly slot: number;
  constructor(slot: number, score: number) {
    super('R307_ALREADY_ENROLLED', `this finger is already enrolled at slot ${slot} (score ${score})`, {
      device: DEVICE,
      details: { slot, score },
    });
    this.slot = slot;
  }
}

function screaming(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}
