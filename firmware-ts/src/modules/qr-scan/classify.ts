/**
 * What a decoded QR payload is, for the chain:
 * - `emv`: an EMV merchant-presented code: starts with the payload format indicator
 *   `000201` and ends with the CRC object `6304` + 4 hex digits whose CRC-16/CCITT-FALSE
 *   (over the UTF-8 bytes up to and including `6304`) matches. This is the light check;
 *   pass `parseMpm` (the protocol's full codec) to have the parse attached and its
 *   verdict (`ok`) required.
 * - `paycode`: our one-time pay code (digits only; with `parsePaycode` from the protocol,
 *   its structure - 20 digits, version 9, Damm check digit - is required).
 * - `unsupported`: anything else, with a reason: `binary` (control bytes or invalid
 *   UTF-8: binary garbage), `emv-crc` (looks like EMV, CRC wrong or missing),
 *   `emv-invalid` (the full parser refused it), `paycode-invalid`, `unknown-format`.
 * Never throws: a QR's content is untrusted input.
 */

import { parseMpm, parsePaycode } from '@handset/host-sdk/protocol';

export type PayloadKind = 'emv' | 'paycode' | 'unsupported';

export type UnsupportedReason = 'binary' | 'emv-crc' | 'emv-invalid' | 'paycode-invalid' | 'unknown-format' | 'too-long';

export type ClassifiedPayload =
  | { kind: 'emv'; text: string; crc: string; mpm?: unknown }
  | { kind: 'paycode'; text: string }
  | { kind: 'unsupported'; reason: UnsupportedReason; detail: string; text?: string };

/** Optional full parsers from `@handset/host-sdk/protocol`. */
export interface ClassifyParsers {
  /** `parseMpm`: never throws, returns `{ok, ...}`. */
  parseMpm?: (text: string) => { ok: boolean; problems?: ReadonlyArray<{ code: string; message: string }> };
  /** `parsePaycode`: throws on a malformed code. */
  parsePaycode?: (text: string) => unknown;
}

const MAX_TEXT = 4096;

/** CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as EMV MPM uses. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function looksBinary(text: string, bytes: Uint8Array | undefined): string | undefined {
  if (bytes?.length) {
    try {
      utf8.decode(bytes);
    } catch {
      return 'payload bytes are not valid UTF-8';
    }
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.test(text)) return 'payload contains control characters';
  return undefined;
}

/** Classifies a decoded payload (text as the decoder produced it, raw bytes if known). */
export function classifyPayload(text: string, bytes?: Uint8Array, parsers: ClassifyParsers = {}): ClassifiedPayload {
  if (text.length > MAX_TEXT) return { kind: 'unsupported', reason: 'too-long', detail: `${text.length} characters` };
  const bin = looksBinary(text, bytes);
  if (bin) return { kind: 'unsupported', reason: 'binary', detail: bin };
  if (text.startsWith('000201')) {
    const m = /6304([0-9A-Fa-f]{4})$/.exec(text);
    if (!m) return { kind: 'unsupported', reason: 'emv-crc', detail: 'no CRC object 6304 at the end', text };
    const body = new TextEncoder().encode(text.slice(0, -4));
    const want = crc16(body).toString(16).toUpperCase().padStart(4, '0');
    const given = (m[1] ?? '').toUpperCase();
    if (want !== given) return { kind: 'unsupported', reason: 'emv-crc', detail: `CRC ${given} != computed ${want}`, text };
    if (parsers.parseMpm) {
      const r = parsers.parseMpm(text);
      if (!r.ok) {
        const p = r.problems?.[0];
        return { kind: 'unsupported', reason: 'emv-invalid', detail: p ? `${p.code}: ${p.message}` : 'invalid MPM', text };
      }
      return { kind: 'emv', text, crc: given, mpm: r };
    }
    return { kind: 'emv', text, crc: given };
  }
  if (/^[0-9]+$/.test(text)) {
    if (parsers.parsePaycode) {
      try {
        parsers.parsePaycode(text);
      } catch (err) {
        return { kind: 'unsupported', reason: 'paycode-invalid', detail: err instanceof Error ? err.message : String(err), text };
      }
    }
    return { kind: 'paycode', text };
  }
  return { kind: 'unsupported', reason: 'unknown-format', detail: 'neither an EMV merchant code nor a pay code', text };
}

/**
 * The protocol's full parsers (`@handset/host-sdk/protocol`): EMV MPM parse/validate
 * and the pay-code structure check. What the handset and `handset scan` use.
 */
export const protocolParsers: ClassifyParsers = {
  parseMpm: (text) => parseMpm(text),
  parsePaycode: (text) => parsePaycode(text),
};
