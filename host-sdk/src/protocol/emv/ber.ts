import { EmvError } from '../errors';

/**
 * BER-TLV (EMV Book 3 Annex B) for CPM payloads: multi-byte tags (low 5 bits of the first
 * byte all set -> more tag bytes while bit 8 is set), short lengths (< 0x80) and long
 * lengths 0x81-0x84. A lone length byte >= 0x80 other than those (0x80 indefinite,
 * 0x85+) is malformed. Errors carry the byte offset.
 */
export interface TlvNode {
  /** Tag as upper-case hex, e.g. "9F26". */
  readonly tag: string;
  /** Constructed (bit 6 of the first tag byte): the value is itself TLV. */
  readonly constructed: boolean;
  readonly value: Uint8Array;
  /** Byte offset of the tag. */
  readonly offset: number;
  /** Decoded children of a constructed object (when `decodeBerTlv` was asked to descend). */
  readonly children?: TlvNode[];
}

export const MAX_TLV_DEPTH = 8;

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).toUpperCase().padStart(2, '0')).join('');

/**
 * Decodes bytes[start, end) as a sequence of TLV objects; constructed objects are
 * decoded recursively (up to MAX_TLV_DEPTH) unless `opaque` names their tag.
 * Throws EmvError TLV_TRUNCATED / TLV_BAD_LENGTH / TLV_LENGTH_PAST_END / TLV_BAD_TAG / TLV_TOO_DEEP.
 */
export function decodeBerTlv(
  bytes: Uint8Array,
  options: { opaque?: readonly string[]; start?: number; end?: number; path?: string[]; depth?: number } = {},
): TlvNode[] {
  const out: TlvNode[] = [];
  const end = options.end ?? bytes.length;
  const path = options.path ?? [];
  const depth = options.depth ?? 0;
  if (depth > MAX_TLV_DEPTH)
    throw new EmvError('TLV_TOO_DEEP', `templates nested deeper than ${MAX_TLV_DEPTH}`, options.start ?? 0, path);
  let i = options.start ?? 0;
  while (i < end) {
    const offset = i;
    const first = bytes[i]!;
    if (first === 0x00 || first === 0xff)
      throw new EmvError('TLV_BAD_TAG', `tag byte 0x${hex(Uint8Array.of(first))} is not a valid tag`, i, path);
    let tagEnd = i + 1;
    if ((first & 0x1f) === 0x1f) {
      for (;;) {
        if (tagEnd >= end) throw new EmvError('TLV_TRUNCATED', 'tag runs past the end', offset, path);
        const b = bytes[tagEnd++]!;
        if (tagEnd - i > 3) throw new EmvError('TLV_BAD_TAG', 'tag longer than 3 bytes', offset, path);
        if ((b & 0x80) === 0) break;
      }
    }
    const tag = hex(bytes.subarray(i, tagEnd));
    const p = [...path, tag];
    i = tagEnd;
    if (i >= end) throw new EmvError('TLV_TRUNCATED', `tag ${tag} has no length`, offset, p);
    const lb = bytes[i++]!;
    let length: number;
    if (lb < 0x80) length = lb;
    else {
      const n = lb & 0x7f;
      if (n === 0 || n > 4)
        throw new EmvError('TLV_BAD_LENGTH', `length byte 0x${hex(Uint8Array.of(lb))} of tag ${tag} is malformed`, i - 1, p);
      if (i + n > end) throw new EmvError('TLV_TRUNCATED', `long-form length of tag ${tag} runs past the end`, i - 1, p);
      length = 0;
      for (let k = 0; k < n; k++) length = length * 256 + bytes[i++]!;
    }
    if (i + length > end)
      throw new EmvError('TLV_LENGTH_PAST_END', `tag ${tag} declares ${length} bytes but only ${end - i} remain`, offset, p, {
        details: { length, remaining: end - i },
      });
    const value = bytes.slice(i, i + length);
    const constructed = (first & 0x20) !== 0;
    const children =
      constructed && !(options.opaque ?? []).includes(tag)
        ? decodeBerTlv(bytes, { ...options, start: i, end: i + length, path: p, depth: depth + 1 })
        : undefined;
    out.push(children ? { tag, constructed, value, offset, children } : { tag, constructed, value, offset });
    i += length;
  }
  return out;
}

/** A TLV object to encode: raw `value`, or `children` for a constructed tag. */
export interface TlvInput {
  readonly tag: string;
  readonly value?: Uint8Array;
  readonly children?: readonly TlvInput[];
}

function encodeLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function tagBytes(tag: string): number[] {
  if (typeof tag !== 'string' || !/^([0-9A-Fa-f]{2}){1,3}$/.test(tag))
    throw new EmvError('TLV_BAD_TAG', `tag ${JSON.stringify(tag)} is not 1-3 hex bytes`, 0, [String(tag)]);
  const b = tag.match(/../g)!.map((h) => Number.parseInt(h, 16));
  const multi = (b[0]! & 0x1f) === 0x1f;
  const ok = multi ? b.length > 1 && b.slice(1, -1).every((x) => x & 0x80) && (b.at(-1)! & 0x80) === 0 : b.length === 1;
  if (!ok || b[0] === 0 || b[0] === 0xff) throw new EmvError('TLV_BAD_TAG', `tag ${tag} is not a well-formed BER tag`, 0, [tag]);
  return b;
}

/** Encodes TLV objects with minimal (definite) lengths. */
export function encodeBerTlv(nodes: readonly TlvInput[]): Uint8Array {
  const out: number[] = [];
  for (const n of nodes) {
    const t = tagBytes(n.tag);
    const value = n.children ? encodeBerTlv(n.children) : n.value;
    if (!(value instanceof Uint8Array)) throw new EmvError('TLV_NO_VALUE', `tag ${n.tag} has no value`, out.length, [n.tag]);
    if (n.children && (t[0]! & 0x20) === 0)
      throw new EmvError('TLV_NOT_CONSTRUCTED', `tag ${n.tag} is primitive but has children`, out.length, [n.tag]);
    out.push(...t, ...encodeLength(value.length));
    for (const b of value) out.push(b);
  }
  return Uint8Array.from(out);
}
