/**
 * Text on a 1-bit bitmap with the bundled Unifont: measuring, fitting with an ellipsis,
 * drawing at integer scales (nearest neighbour: 1 = 16 px lines, 2 = 32 px lines).
 */
import { MonoBitmap } from '@handset/device-drivers/ssd1680';
import { FONT_HEIGHT, glyphOrReplacement } from './font/index';

export const ELLIPSIS = '\u2026';

export interface TextStyle {
  /** Integer scale (1 = 16 px line). Default 1. */
  scale?: number;
  /** Draw white on black. */
  invert?: boolean;
  /** Alignment inside `width` (when given). */
  align?: 'left' | 'center' | 'right';
  /** Box width for alignment and truncation; text wider than it ends in an ellipsis. */
  width?: number;
}

/** Code points that draw: control characters are dropped, tabs become spaces. */
export function codepoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0x20;
    if (cp === 0x09) out.push(0x20);
    else if (cp >= 0x20 && !(cp >= 0x7f && cp < 0xa0)) out.push(cp);
  }
  return out;
}

/** Width in pixels of `text` at `scale`. */
export function measureText(text: string, scale = 1): number {
  let w = 0;
  for (const cp of codepoints(text)) w += glyphOrReplacement(cp).width;
  return w * scale;
}

/**
 * The longest prefix of `text` that fits `maxWidth` pixels, ending in "…" when cut.
 * Returns the text unchanged when it fits.
 */
export function fitText(text: string, maxWidth: number, scale = 1): { text: string; truncated: boolean } {
  if (measureText(text, scale) <= maxWidth) return { text, truncated: false };
  const ell = glyphOrReplacement(ELLIPSIS.codePointAt(0) ?? 0x2e).width * scale;
  let w = 0;
  let out = '';
  for (const ch of text) {
    const cps = codepoints(ch);
    const cw = cps.length ? glyphOrReplacement(cps[0] ?? 0x20).width * scale : 0;
    if (w + cw + ell > maxWidth) break;
    w += cw;
    out += ch;
  }
  return { text: out.trimEnd() + ELLIPSIS, truncated: true };
}

/**
 * Draws `text` with its top-left corner at (x, y) (or aligned in `style.width`), clipped
 * to the bitmap, truncated with an ellipsis to `style.width`. Returns the drawn width.
 */
export function drawText(bm: MonoBitmap, x: number, y: number, text: string, style: TextStyle = {}): number {
  const scale = Math.max(1, Math.floor(style.scale ?? 1));
  let s = text;
  if (style.width !== undefined) s = fitText(text, style.width, scale).text;
  const w = measureText(s, scale);
  let cx = x;
  if (style.width !== undefined && style.align === 'center') cx = x + Math.floor((style.width - w) / 2);
  else if (style.width !== undefined && style.align === 'right') cx = x + style.width - w;
  const ink = style.invert ? 0 : 1;
  for (const cp of codepoints(s)) {
    const g = glyphOrReplacement(cp);
    const bpr = g.width / 8;
    for (let r = 0; r < FONT_HEIGHT; r++)
      for (let c = 0; c < g.width; c++) {
        if (!((g.rows[r * bpr + (c >> 3)] ?? 0) & (0x80 >> (c & 7)))) continue;
        bm.fillRect(cx + c * scale, y + r * scale, scale, scale, ink);
      }
    cx += g.width * scale;
  }
  return w;
}

/** Line height in pixels at `scale`. */
export function lineHeight(scale = 1): number {
  return FONT_HEIGHT * scale;
}

export { MonoBitmap };
