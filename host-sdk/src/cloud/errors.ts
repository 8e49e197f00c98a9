import { HandsetError, type HandsetErrorOptions } from '@handset/device-drivers/core';

/**
 * Cloud errors. Each carries the HTTP status the API answers with; one mapping function
 * (`httpStatusOf`) turns any thrown error into a status + JSON body. Payment declines are
 * NOT errors: they are results with a reason code (see protocol `declineReasonSchema`).
 */
export class CloudError extends HandsetError {
  readonly status: number;
  constructor(code: string, message: string, status: number, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'cloud', ...options });
    this.status = status;
  }
}

/** 404: no such order, payment, device, account, merchant. */
export class NotFoundError extends CloudError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} ${JSON.stringify(id)} not found`, 404, { details: { what, id } });
  }
}

/** 409: the same idempotency key (payment id, refund key, order ref) with a different body. */
export class IdempotencyConflictError extends CloudError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('IDEMPOTENCY_CONFLICT', message, 409, { details });
  }
}

/** 409: the operation does not fit the current state (void of a captured payment, ...). */
export class StateError extends CloudError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, 409, { details });
  }
}

/** 422: a refund the rules refuse (more than captured, payment not approved, ledger refused). */
export class RefundRefusedError extends CloudError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, 422, { details });
  }
}

/** 400: bad request body or parameter (also used for zod failures at the HTTP edge). */
export class BadRequestError extends CloudError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('BAD_REQUEST', message, 400, { details });
  }
}

/** 413: request body over the limit. */
export class PayloadTooLargeError extends CloudError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, 413, { details: { limit } });
  }
}

/** The status for anything thrown: CloudError's own; other HandsetErrors of bad input 400; the rest 500. */
export function httpStatusOf(err: unknown): number {
  if (err instanceof CloudError) return err.status;
  if (err instanceof HandsetError) {
    if (err.code === 'STORE' || err.code === 'UNEXPECTED') return 503;
    return 400;
  }
  return 500;
}
