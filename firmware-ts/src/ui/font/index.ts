/**
 * The handset's bundled bitmap font: GNU Unifont 8x16 (Latin) / 16x16 (CJK) glyphs,
 * generated at build time into `unifont-data.ts` (no system fonts at runtime).
 */
import { inflateRawSync } from 'node:zlib';
import { UNIFONT_PACKED } from './unifont-data';

export interface Glyph {
  codepoint: number;
  /** 8 or 16 pixels. */
  width: number;
  /** 16 rows, `width / 8` bytes each, MSB = leftmost pixel, 1 = ink. */
  rows: Uint8Array;
}

/** Line height of the font at scale 1, in pixels. */
export const FONT_HEIGHT = 16;
/** Drawn for code points the bundled subset lacks. */
export const REPLACEMENT = 0xfffd;

let table: { cps: Uint32Array; offs: Uint32Array; wide: Uint8Array; data: Buffer } | undefined;

function load() {
  if (table) return table;
  const raw = inflateRawSync(Buffer.from(UNIFONT_PACKED, 'base64'));
  const n = raw.readUInt32LE(0);
  const cps = new Uint32Array(n);
  const offs = new Uint32Array(n);
  const wide = new Uint8Array(n);
  const bits = 4 + n * 2;
  let off = bits + Math.ceil(n / 8);
  let cp = 0;
  for (let i = 0; i < n; i++) {
    cp += raw.readUInt16LE(4 + i * 2);
    cps[i] = cp;
    wide[i] = (raw[bits + (i >> 3)] ?? 0) & (1 << (i & 7)) ? 1 : 0;
    offs[i] = off;
    off += wide[i] ? 32 : 16;
  }
  table = { cps, offs, wide, data: raw };
  return table;
}

/** The glyph for a code point, or undefined when the bundled subset lacks it. */
export function glyph(codepoint: number): Glyph | undefined {
  const t = load();
  let lo = 0;
  let hi = t.cps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = t.cps[mid] ?? 0;
    if (c === codepoint) {
      const w = t.wide[mid] ? 16 : 8;
      const o = t.offs[mid] ?? 0;
      return { codepoint, width: w, rows: t.data.subarray(o, o + w * 2) };
    }
    if (c < codepoint) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** Like `glyph`, falling back to U+FFFD (then to a space) so text always draws. */
export function glyphOrReplacement(codepoint: number): Glyph {
  return glyph(codepoint) ?? glyph(REPLACEMENT) ?? (glyph(0x20) as Glyph);
}

/** Number of glyphs bundled. */
export function glyphCount(): number {
  return load().cps.length;
}
