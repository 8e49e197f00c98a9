import type { CryptoProvider } from './crypto';
import { fromBase64Url, toBase64Url, utf8 } from './encoding';
import { SigningError } from './errors';
import type { Authorisation, AuthorisationFields, RegistrationRequest } from './messages';
import { PROTOCOL_VERSION } from './messages';
import { checkMinorUnits } from './money';

/**
 * Canonical byte encoding and Ed25519 signatures of authorisations (and of registration
 * requests, as proof that the handset holds its key).
 *
 * Layout (all integers big-endian):
 *
 *     u16 len(domain) | domain (ASCII)          domain separation, e.g. "handset/v1/authorisation"
 *     u8  version = 1                           encoding version tag
 *     u8  field count
 *     per field, in the fixed order below:
 *       u8  tag (1, 2, 3, ...)
 *       u16 length of value
 *       value
 *
 * Authorisation fields: 1 paymentId (UTF-8), 2 deviceId, 3 account, 4 merchantId,
 * 5 orderRef, 6 amount (u64, minor units), 7 currency (ISO alpha, ASCII), 8 method
 * (ASCII "fingerprint" | "fingerprint+pin"), 9 counter (u64), 10 ts (u64, ms since epoch).
 *
 * Every field is tagged and length-prefixed, so no two different field tuples share an
 * encoding (no "ab"+"c" = "a"+"bc" ambiguity), and the domain string keeps a signature
 * over one message type from being valid for another.
 */
export const AUTH_DOMAIN = 'handset/v1/authorisation';
export const REGISTRATION_DOMAIN = 'handset/v1/registration';
export const CANONICAL_VERSION = 1;

class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }
  u8(n: number): void {
    this.push(Uint8Array.of(n & 0xff));
  }
  u16(n: number): void {
    this.push(Uint8Array.of((n >> 8) & 0xff, n & 0xff));
  }
  field(tag: number, value: Uint8Array, name: string): void {
    if (value.length > 0xffff)
      throw new SigningError('FIELD_TOO_LONG', `${name}: ${value.length} bytes do not fit a u16 length`, {
        details: { field: name },
      });
    this.u8(tag);
    this.u16(value.length);
    this.push(value);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function u64(value: bigint | number, name: string): Uint8Array {
  if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0))
    throw new SigningError('BAD_FIELD', `${name}: ${value} is not a non-negative safe integer`, { details: { field: name } });
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn)
    throw new SigningError('BAD_FIELD', `${name}: out of u64 range`, { details: { field: name } });
  const b = new Uint8Array(8);
  let x = v;
  for (let i = 7; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

function str(value: unknown, name: string): Uint8Array {
  if (typeof value !== 'string') throw new SigningError('BAD_FIELD', `${name}: expected a string`, { details: { field: name } });
  return utf8(value);
}

function header(w: Writer, domain: string, count: number): void {
  const d = utf8(domain);
  w.u16(d.length);
  w.push(d);
  w.u8(CANONICAL_VERSION);
  w.u8(count);
}

/** The exact bytes an authorisation signature covers. */
export function authorisationSigningBytes(f: AuthorisationFields): Uint8Array {
  const w = new Writer();
  header(w, AUTH_DOMAIN, 10);
  w.field(1, str(f.paymentId, 'paymentId'), 'paymentId');
  w.field(2, str(f.deviceId, 'deviceId'), 'deviceId');
  w.field(3, str(f.account, 'account'), 'account');
  w.field(4, str(f.merchantId, 'merchantId'), 'merchantId');
  w.field(5, str(f.orderRef, 'orderRef'), 'orderRef');
  let amount: bigint;
  try {
    amount = checkMinorUnits(f.amount);
  } catch (cause) {
    throw new SigningError('BAD_FIELD', `amount: ${(cause as Error).message}`, { cause, details: { field: 'amount' } });
  }
  w.field(6, u64(amount, 'amount'), 'amount');
  w.field(7, str(f.currency, 'currency'), 'currency');
  w.field(8, str(f.method, 'method'), 'method');
  w.field(9, u64(f.counter, 'counter'), 'counter');
  w.field(10, u64(f.ts, 'ts'), 'ts');
  return w.bytes();
}

/** Fields of a registration request covered by its proof-of-possession signature. */
export type RegistrationFields = Omit<RegistrationRequest, 'v' | 'type' | 'signature'>;

/**
 * Registration fields: 1 requestId, 2 deviceId, 3 account, 4 publicKey (32 raw bytes),
 * 5 slots (u16 count, then per slot u16 slot id + 32-byte SHA-256), 6 ts (u64).
 */
export function registrationSigningBytes(f: RegistrationFields): Uint8Array {
  const w = new Writer();
  header(w, REGISTRATION_DOMAIN, 6);
  w.field(1, str(f.requestId, 'requestId'), 'requestId');
  w.field(2, str(f.deviceId, 'deviceId'), 'deviceId');
  w.field(3, str(f.account, 'account'), 'account');
  w.field(4, publicKeyFromBase64Url(f.publicKey), 'publicKey');
  const slots = new Writer();
  slots.u16(f.slots.length);
  for (const s of f.slots) {
    slots.u16(s.slot);
    const d = /^[0-9a-f]{64}$/.test(s.templateSha256)
      ? Uint8Array.from(s.templateSha256.match(/../g)!, (h) => Number.parseInt(h, 16))
      : undefined;
    if (!d)
      throw new SigningError('BAD_FIELD', `slots: digest of slot ${s.slot} is not 64 hex digits`, {
        details: { field: 'slots' },
      });
    slots.push(d);
  }
  w.field(5, slots.bytes(), 'slots');
  w.field(6, u64(f.ts, 'ts'), 'ts');
  return w.bytes();
}

/** Raw 32-byte public key from its base64url wire form; SigningError BAD_KEY otherwise. */
export function publicKeyFromBase64Url(text: string): Uint8Array {
  const b = typeof text === 'string' ? fromBase64Url(text) : undefined;
  if (!(b instanceof Uint8Array) || b.length !== 32)
    throw new SigningError('BAD_KEY', 'public key must be 32 bytes in base64url');
  return b;
}

export const publicKeyToBase64Url = (raw: Uint8Array): string => {
  if (raw.length !== 32) throw new SigningError('BAD_KEY', 'public key must be 32 bytes');
  return toBase64Url(raw);
};

function signatureBytes(text: string): Uint8Array | undefined {
  const b = typeof text === 'string' ? fromBase64Url(text) : undefined;
  return b instanceof Uint8Array && b.length === 64 ? b : undefined;
}

/** Signs the fields with the device key and returns the complete `authorisation` message. */
export function signAuthorisation(crypto: CryptoProvider, privateKey: Uint8Array, fields: AuthorisationFields): Authorisation {
  const sig = crypto.ed25519Sign(privateKey, authorisationSigningBytes(fields));
  return {
    v: PROTOCOL_VERSION,
    type: 'authorisation',
    paymentId: fields.paymentId,
    deviceId: fields.deviceId,
    account: fields.account,
    merchantId: fields.merchantId,
    orderRef: fields.orderRef,
    amount: fields.amount,
    currency: fields.currency,
    method: fields.method,
    counter: fields.counter,
    ts: fields.ts,
    signature: toBase64Url(sig),
  };
}

/**
 * True only if `auth.signature` is the Ed25519 signature of its canonical fields by
 * `publicKey` (raw 32 bytes or base64url). Never throws: malformed input is `false`.
 * Counter, time window, amount and idempotency checks are the cloud's job on top.
 */
export function verifyAuthorisation(crypto: CryptoProvider, publicKey: Uint8Array | string, auth: Authorisation): boolean {
  try {
    const pk = typeof publicKey === 'string' ? publicKeyFromBase64Url(publicKey) : publicKey;
    const sig = signatureBytes(auth.signature);
    if (!sig) return false;
    return crypto.ed25519Verify(pk, authorisationSigningBytes(auth), sig);
  } catch {
    return false;
  }
}

/**
 * What an authorisation's signature check needs - the raw public key, the canonical
 * signed bytes and the raw signature - for verifiers that check a batch at once (off
 * the event loop). Undefined when the key or the signature is malformed (= not valid).
 */
export function authorisationSignatureCheck(
  publicKey: Uint8Array | string,
  auth: Authorisation,
  /** `authorisationSigningBytes(auth)`, when the caller has it already. */
  message: Uint8Array = authorisationSigningBytes(auth),
): { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array } | undefined {
  try {
    const pk = typeof publicKey === 'string' ? publicKeyFromBase64Url(publicKey) : publicKey;
    const signature = signatureBytes(auth.signature);
    if (!signature || pk.length !== 32) return undefined;
    return { publicKey: pk, message, signature };
  } catch {
    return undefined;
  }
}

/** Builds a signed registration request (proof of possession of the device key). */
export function signRegistration(
  crypto: CryptoProvider,
  privateKey: Uint8Array,
  fields: RegistrationFields,
): RegistrationRequest {
  const sig = crypto.ed25519Sign(privateKey, registrationSigningBytes(fields));
  return { v: PROTOCOL_VERSION, type: 'registration.request', ...fields, signature: toBase64Url(sig) };
}

/** Checks a registration request's signature against the public key it carries. Never throws. */
export function verifyRegistration(crypto: CryptoProvider, req: RegistrationRequest): boolean {
  try {
    const sig = signatureBytes(req.signature);
    if (!sig) return false;
    return crypto.ed25519Verify(publicKeyFromBase64Url(req.publicKey), registrationSigningBytes(req), sig);
  } catch {
    return false;
  }
}
