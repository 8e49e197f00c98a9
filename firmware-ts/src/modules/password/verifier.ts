/**
 * Local PIN check: a salted slow hash (scrypt, node:crypto) compared in constant time
 * (`crypto.timingSafeEqual`). The PIN arrives as ASCII digit bytes in a buffer the
 * caller wipes; this file never turns it into a string and zeroes every buffer it
 * derives from it.
 *
 * Parameters (`SCRYPT_PIN_PARAMS`): N = 2^14, r = 8, p = 1, 32-byte key, 16-byte random
 * salt per PIN - 16 MiB and ~50-100 ms per check on the 2-core x86 dev machine (several
 * times that on a Pi 4/5), once per PIN entry. They are stored in each record, so a
 * record made with other parameters still verifies. What the slow hash buys: a 4-6 digit
 * PIN has at most 10^6 values, so against someone holding the state file it only raises
 * the cost of trying them all (about a day of one core per record); the real defences
 * are the 3-try lock, the file's 0600 mode, and the optional `pepper` (a device secret
 * from the keystore, mixed in with HMAC-SHA256 before scrypt) that the file alone does
 * not reveal.
 */
import { createHmac, randomBytes as nodeRandomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '@handset/device-drivers/core';

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost, a power of two (2^10 .. 2^20). */
  N: number;
  /** Block size (1 .. 32). */
  r: number;
  /** Parallelism (1 .. 16). */
  p: number;
  /** Derived key bytes (16 .. 64). */
  keyLen: number;
}

/** The defaults for new PINs (see the file comment for the reasoning). */
export const SCRYPT_PIN_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 1 << 14, r: 8, p: 1, keyLen: 32 });
export const PIN_SALT_BYTES = 16;

/** What is stored for a PIN: never the PIN, only the salted slow hash and how it was made. */
export interface PinHashRecord extends ScryptParams {
  alg: 'scrypt';
  /** base64 */
  salt: string;
  /** base64, `keyLen` bytes */
  hash: string;
  /** True when the PIN was mixed with the device pepper before scrypt. */
  peppered: boolean;
}

/** Makes and checks PIN records. `pin` is ASCII digits; implementations must not keep or copy it beyond the call. */
export interface PinVerifier {
  hash(pin: Uint8Array): Promise<PinHashRecord>;
  /** True when `pin` matches; compares in constant time. Throws `PinRecordError` for a record it cannot use. */
  verify(pin: Uint8Array, record: PinHashRecord): Promise<boolean>;
}

/** A stored PIN record that is malformed, out of bounds, or needs a pepper this verifier lacks. */
export class PinRecordError extends ValidationError {
  constructor(message: string) {
    super(message, { code: 'PIN_RECORD', device: 'password' });
  }
}

export interface ScryptPinVerifierOptions {
  /** Cost for new records. Default `SCRYPT_PIN_PARAMS`. */
  params?: ScryptParams;
  /** Device secret mixed in with HMAC-SHA256 (from the keystore); records say whether they used one. */
  pepper?: Uint8Array;
  /** The equal-length comparison. Default `crypto.timingSafeEqual` (the seam lets a test see it used). */
  compare?: (a: Uint8Array, b: Uint8Array) => boolean;
  /** Salt source. Default `crypto.randomBytes`. */
  randomBytes?: (n: number) => Uint8Array;
}

function checkParams(p: ScryptParams): void {
  const pow2 = Number.isInteger(p.N) && p.N >= 1 << 10 && p.N <= 1 << 20 && (p.N & (p.N - 1)) === 0;
  if (!pow2) throw new PinRecordError('scrypt N must be a power of two between 2^10 and 2^20');
  if (!Number.isInteger(p.r) || p.r < 1 || p.r > 32) throw new PinRecordError('scrypt r must be 1..32');
  if (!Number.isInteger(p.p) || p.p < 1 || p.p > 16) throw new PinRecordError('scrypt p must be 1..16');
  if (!Number.isInteger(p.keyLen) || p.keyLen < 16 || p.keyLen > 64) throw new PinRecordError('scrypt keyLen must be 16..64');
}

/** Checks a record read from storage (shape, bounds, salt and hash sizes). */
export function validatePinRecord(value: unknown): PinHashRecord {
  if (typeof value !== 'object' || value === null) throw new PinRecordError('PIN record is not an object');
  const r = value as Record<string, unknown>;
  if (r.alg !== 'scrypt') throw new PinRecordError('PIN record algorithm is not scrypt');
  for (const k of ['N', 'r', 'p', 'keyLen'] as const)
    if (typeof r[k] !== 'number') throw new PinRecordError(`PIN record field ${k} is not a number`);
  if (typeof r.salt !== 'string' || typeof r.hash !== 'string' || typeof r.peppered !== 'boolean')
    throw new PinRecordError('PIN record salt/hash/peppered fields are malformed');
  const rec = r as unknown as PinHashRecord;
  checkParams(rec);
  const b64 = /^[A-Za-z0-9+/]*={0,2}$/;
  if (!b64.test(rec.salt) || !b64.test(rec.hash)) throw new PinRecordError('PIN record salt/hash are not base64');
  if (Buffer.from(rec.salt, 'base64').length < PIN_SALT_BYTES) throw new PinRecordError('PIN record salt is too short');
  if (Buffer.from(rec.hash, 'base64').length !== rec.keyLen) throw new PinRecordError('PIN record hash length is not keyLen');
  return {
    alg: 'scrypt',
    N: rec.N,
    r: rec.r,
    p: rec.p,
    keyLen: rec.keyLen,
    salt: rec.salt,
    hash: rec.hash,
    peppered: rec.peppered,
  };
}

function derive(password: Uint8Array, salt: Uint8Array, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, p.keyLen, { N: p.N, r: p.r, p: p.p, maxmem: 128 * p.N * p.r * 2 + (1 << 20) }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `PinVerifier` with scrypt and a constant-time compare. */
export class ScryptPinVerifier implements PinVerifier {
  readonly params: ScryptParams;
  private readonly pepper: Uint8Array | undefined;
  private readonly compare: (a: Uint8Array, b: Uint8Array) => boolean;
  private readonly random: (n: number) => Uint8Array;

  constructor(options: ScryptPinVerifierOptions = {}) {
    this.params = { ...(options.params ?? SCRYPT_PIN_PARAMS) };
    checkParams(this.params);
    this.pepper = options.pepper ? Uint8Array.from(options.pepper) : undefined;
    this.compare = options.compare ?? timingSafeEqual;
    this.random = options.randomBytes ?? nodeRandomBytes;
  }

  async hash(pin: Uint8Array): Promise<PinHashRecord> {
    const salt = Buffer.from(this.random(PIN_SALT_BYTES));
    const key = await this.derive(pin, salt, this.params, this.pepper !== undefined);
    try {
      return {
        alg: 'scrypt',
        ...this.params,
        salt: salt.toString('base64'),
        hash: key.toString('base64'),
        peppered: this.pepper !== undefined,
      };
    } finally {
      key.fill(0);
    }
  }

  async verify(pin: Uint8Array, record: PinHashRecord): Promise<boolean> {
    const rec = validatePinRecord(record);
    if (rec.peppered && !this.pepper) throw new PinRecordError('PIN record needs the device pepper, none was given');
    const expected = Buffer.from(rec.hash, 'base64');
    const key = await this.derive(pin, Buffer.from(rec.salt, 'base64'), rec, rec.peppered);
    try {
      if (key.length !== expected.length) return false;
      return this.compare(key, expected);
    } finally {
      key.fill(0);
      expected.fill(0);
    }
  }

  private async derive(pin: Uint8Array, salt: Uint8Array, p: ScryptParams, peppered: boolean): Promise<Buffer> {
    if (!peppered) return derive(pin, salt, p);
    const mixed = createHmac('sha256', this.pepper as Uint8Array)
      .update(pin)
      .digest();
    try {
      return await derive(mixed, salt, p);
    } finally {
      mixed.fill(0);
    }
  }
}
