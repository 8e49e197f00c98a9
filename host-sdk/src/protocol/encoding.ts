/**
 * Byte helpers without Node's Buffer (the protocol package also runs in the merchant
 * page). Decoders are strict: they report the first bad character instead of skipping
 * it the way `Buffer.from(s, 'base64')` does.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const rev = (alphabet: string) => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
};
const REV_B64 = rev(B64);
const REV_B64URL = rev(B64URL);

/** Why a text could not be decoded, and the character offset. */
export class DecodeFailure {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {}
}

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? '=' : '');
  }
  return out;
}

function decode(text: string, table: Int16Array, padded: boolean): Uint8Array | DecodeFailure {
  let body = text;
  if (padded) {
    if (text.length % 4 !== 0) return new DecodeFailure(`length ${text.length} is not a multiple of 4`, text.length);
    if (text.endsWith('==')) body = text.slice(0, -2);
    else if (text.endsWith('=')) body = text.slice(0, -1);
  }
  if (body.length % 4 === 1) return new DecodeFailure('truncated: a single trailing character', body.length - 1);
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) return new DecodeFailure(`invalid character ${JSON.stringify(body[i])}`, i);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0)
    return new DecodeFailure('non-zero padding bits (non-canonical encoding)', body.length - 1);
  return out;
}

export const toBase64 = (bytes: Uint8Array): string => encode(bytes, B64, true);
export const toBase64Url = (bytes: Uint8Array): string => encode(bytes, B64URL, false);
/** Strict RFC 4648 base64 with padding; returns a DecodeFailure with the offset on error. */
export const fromBase64 = (text: string): Uint8Array | DecodeFailure => decode(text, REV_B64, true);
/** Strict base64url without padding. */
export const fromBase64Url = (text: string): Uint8Array | DecodeFailure => decode(text, REV_B64URL, false);

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array | DecodeFailure {
  if (hex.length % 2 !== 0) return new DecodeFailure('odd number of hex digits', hex.length);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const pair = hex.slice(2 * i, 2 * i + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return new DecodeFailure(`invalid hex ${JSON.stringify(pair)}`, 2 * i);
    out[i] = Number.parseInt(pair, 16);
  }
  return out;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export const utf8 = (text: string): Uint8Array => utf8Encoder.encode(text);

/**
 * Strict UTF-8 decoding; on failure reports the byte offset of the first invalid
 * sequence (found by a small validating scan, since TextDecoder does not say where).
 */
export function fromUtf8(bytes: Uint8Array): string | DecodeFailure {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return new DecodeFailure('invalid UTF-8', firstInvalidUtf8(bytes));
  }
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let n = 0;
    let min = 0;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length;
}

/** Constant-time equality of two byte arrays (length leaks, contents do not). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
