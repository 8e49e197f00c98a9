/**
 * The error taxonomy shared by every driver, the runtime and the host tools.
 *
 * Every error we throw on purpose is a `HandsetError` with a stable `code` (for
 * programs), a `device` (which part raised it, when one did) and an optional `cause`.
 * Subclasses exist only where a caller can act differently on them.
 */
export interface HandsetErrorOptions {
  /** Which part raised the error: 'uart:/dev/ttyAMA0', 'r307', 'ssd1680', 'cloud', ... */
  device?: string;
  cause?: unknown;
  /** Extra machine-readable facts (never secrets: no PINs, no templates, no keys). */
  details?: Record<string, unknown>;
}

export class HandsetError extends Error {
  readonly code: string;
  readonly device: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.device = options.device;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, device: this.device, details: this.details };
  }
}

/** A bus failed: the port is missing, vanished, refused a write, or is not open. */
export class TransportError extends HandsetError {
  constructor(message: string, options: HandsetErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'TRANSPORT', message, options);
  }
}

/** A device did not answer (or BUSY did not fall) within the allotted time. */
export class DeviceTimeoutError extends HandsetError {
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options: HandsetErrorOptions = {}) {
    super('DEVICE_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The operation was cancelled: the port closed under it, or the caller aborted. */
export class CanceledError extends HandsetError {
  constructor(message = 'operation canceled', options: HandsetErrorOptions = {}) {
    super('CANCELED', message, options);
  }
}

/** Input that does not follow the rules (a board file, a frame, a CLI argument, config). */
export class ValidationError extends HandsetError {
  constructor(message: string, options: HandsetErrorOptions & { code?: string } = {}) {
    super(options.code ?? 'INVALID', message, options);
  }
}

/** Normalises anything thrown into a HandsetError, keeping the original as `cause`. */
export function toHandsetError(err: unknown, device?: string): HandsetError {
  if (err instanceof HandsetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new HandsetError('UNEXPECTED', message, { device, cause: err });
}

/** Rejects with CanceledError if the signal is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, device?: string): void {
  if (signal?.aborted) throw new CanceledError('operation aborted', { device, cause: signal.reason });
}
