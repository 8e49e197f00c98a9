/**
 * Build-time script: rasterises GNU Unifont (Debian `fonts-unifont`, the CFF outlines in
 * unifont.otf, where every bitmap pixel is a 4x4-unit square) back into 8x16 / 16x16
 * bitmaps and writes `unifont-data.ts` (generated, committed) with the ranges the
 * handset needs: ASCII, Latin-1, Latin Extended-A, general punctuation, currency symbols,
 * arrows, geometric shapes, CJK symbols, kana, CJK Unified Ideographs, Hangul syllables,
 * fullwidth forms.
 *
 *   npx tsx firmware-ts/src/ui/font/generate-unifont.ts [path/to/unifont.otf]
 *
 * Unifont is dual-licensed GPL-2.0+ with the font embedding exception and SIL OFL 1.1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';

const SRC = process.argv[2] ?? '/usr/share/fonts/opentype/unifont/unifont.otf';
const OUT = new URL('./unifont-data.ts', import.meta.url);

export const RANGES: Array<[number, number]> = [
  [0x0020, 0x007e],
  [0x00a0, 0x017f],
  [0x2000, 0x206f],
  [0x20a0, 0x20cf],
  [0x2190, 0x21ff],
  [0x2500, 0x25ff],
  [0x3000, 0x30ff],
  [0x4e00, 0x9fff],
  [0xac00, 0xd7a3],
  [0xff00, 0xffef],
  [0xfffd, 0xfffd],
];

const buf = readFileSync(SRC);
const u8 = (o: number) => buf.readUInt8(o);
const u16 = (o: number) => buf.readUInt16BE(o);
const u32 = (o: number) => buf.readUInt32BE(o);

function table(tag: string): number {
  const n = u16(4);
  for (let i = 0; i < n; i++) if (buf.toString('latin1', 12 + 16 * i, 16 + 16 * i) === tag) return u32(12 + 16 * i + 8);
  throw new Error(`no ${tag} table`);
}

// ---- cmap (format 12)
const cmapOff = table('cmap');
const cmap = new Map<number, number>();
for (let i = 0; i < u16(cmapOff + 2); i++) {
  const rec = cmapOff + 4 + 8 * i;
  const sub = cmapOff + u32(rec + 4);
  if (u16(sub) !== 12) continue;
  const groups = u32(sub + 12);
  for (let g = 0; g < groups; g++) {
    const start = u32(sub + 16 + 12 * g);
    const end = u32(sub + 20 + 12 * g);
    const gid = u32(sub + 24 + 12 * g);
    for (let c = start; c <= end; c++) cmap.set(c, gid + c - start);
  }
}

// ---- hmtx advance widths
const hhea = table('hhea');
const numH = u16(hhea + 34);
const hmtx = table('hmtx');
const advance = (gid: number) => u16(hmtx + 4 * Math.min(gid, numH - 1));
const ascent = buf.readInt16BE(hhea + 4);

// ---- CFF
const cff = table('CFF ');
type Index = { count: number; item: (i: number) => [number, number]; end: number };
function readIndex(at: number): Index {
  const count = u16(at);
  if (count === 0) return { count, item: () => [0, 0], end: at + 2 };
  const offSize = u8(at + 2);
  const off = (i: number) => {
    let v = 0;
    for (let k = 0; k < offSize; k++) v = v * 256 + u8(at + 3 + i * offSize + k);
    return v;
  };
  const base = at + 3 + (count + 1) * offSize - 1;
  return { count, item: (i) => [base + off(i), base + off(i + 1)], end: base + off(count) };
}
function readDict(start: number, end: number): Map<number, number[]> {
  const d = new Map<number, number[]>();
  let ops: number[] = [];
  let p = start;
  while (p < end) {
    const b = u8(p);
    if (b <= 21) {
      let op = b;
      p++;
      if (b === 12) op = 1200 + u8(p++);
      d.set(op, ops);
      ops = [];
    } else if (b === 28) {
      ops.push(buf.readInt16BE(p + 1));
      p += 3;
    } else if (b === 29) {
      ops.push(buf.readInt32BE(p + 1));
      p += 5;
    } else if (b === 30) {
      p++;
      while (p < end) {
        const x = u8(p++);
        if ((x & 0x0f) === 0x0f || x >> 4 === 0x0f) break;
      }
      ops.push(0);
    } else if (b >= 32 && b <= 246) {
      ops.push(b - 139);
      p++;
    } else if (b >= 247 && b <= 250) {
      ops.push((b - 247) * 256 + u8(p + 1) + 108);
      p += 2;
    } else if (b >= 251 && b <= 254) {
      ops.push(-(b - 251) * 256 - u8(p + 1) - 108);
      p += 2;
    } else throw new Error(`bad dict byte ${b}`);
  }
  return d;
}
const nameIdx = readIndex(cff + u8(cff + 2));
const topIdx = readIndex(nameIdx.end);
const stringIdx = readIndex(topIdx.end);
const gsubrs = readIndex(stringIdx.end);
const [t0, t1] = topIdx.item(0);
const top = readDict(t0, t1);
const charStrings = readIndex(cff + (top.get(17)?.[0] ?? 0));
const bias = (n: number) => (n < 1240 ? 107 : n < 33900 ? 1131 : 32768);

function privateSubrs(priv: number[] | undefined): Index | undefined {
  if (!priv) return undefined;
  const [size = 0, off = 0] = priv;
  const d = readDict(cff + off, cff + off + size);
  const s = d.get(19)?.[0];
  return s === undefined ? undefined : readIndex(cff + off + s);
}
// CID-keyed fonts: FDArray (12 36) + FDSelect (12 37)
const fdArray = top.get(1236);
const fdSubrs: Array<Index | undefined> = [];
let fdSelect: ((gid: number) => number) | undefined;
if (fdArray) {
  const fa = readIndex(cff + (fdArray[0] ?? 0));
  for (let i = 0; i < fa.count; i++) {
    const [a, b] = fa.item(i);
    fdSubrs.push(privateSubrs(readDict(a, b).get(18)));
  }
  const fs = cff + (top.get(1237)?.[0] ?? 0);
  const fmt = u8(fs);
  if (fmt === 0) fdSelect = (gid) => u8(fs + 1 + gid);
  else {
    const nr = u16(fs + 1);
    fdSelect = (gid) => {
      for (let r = 0; r < nr; r++) {
        const first = u16(fs + 3 + 3 * r);
        const next = u16(fs + 3 + 3 * (r + 1));
        if (gid >= first && gid < next) return u8(fs + 3 + 3 * r + 2);
      }
      return 0;
    };
  }
}
const topSubrs = privateSubrs(top.get(18));

type Pt = [number, number];
/** Type 2 charstring -> closed contours (curves flattened to their end points: Unifont has none). */
function outline(gid: number): Pt[][] {
  const subrs = fdSelect ? fdSubrs[fdSelect(gid)] : topSubrs;
  const contours: Pt[][] = [];
  let cur: Pt[] | undefined;
  let x = 0;
  let y = 0;
  let stack: number[] = [];
  let stems = 0;
  let widthDone = false;
  const moveTo = (dx: number, dy: number) => {
    x += dx;
    y += dy;
    cur = [[x, y]];
    contours.push(cur);
  };
  const lineTo = (dx: number, dy: number) => {
    x += dx;
    y += dy;
    cur?.push([x, y]);
  };
  const takeWidth = (even: boolean) => {
    if (!widthDone && stack.length % 2 === (even ? 1 : 0)) stack.shift();
    widthDone = true;
  };
  const run = (start: number, end: number): boolean => {
    let p = start;
    while (p < end) {
      const b = u8(p);
      if (b >= 32 || b === 28) {
        if (b === 28) {
          stack.push(buf.readInt16BE(p + 1));
          p += 3;
        } else if (b <= 246) {
          stack.push(b - 139);
          p++;
        } else if (b <= 250) {
          stack.push((b - 247) * 256 + u8(p + 1) + 108);
          p += 2;
        } else if (b <= 254) {
          stack.push(-(b - 251) * 256 - u8(p + 1) - 108);
          p += 2;
        } else {
          stack.push(buf.readInt32BE(p + 1) / 65536);
          p += 5;
        }
        continue;
      }
      p++;
      switch (b) {
        case 1:
        case 3:
        case 18:
        case 23:
          takeWidth(true);
          stems += stack.length >> 1;
          stack = [];
          break;
        case 19:
        case 20:
          takeWidth(true);
          stems += stack.length >> 1;
          stack = [];
          p += (stems + 7) >> 3;
          break;
        case 21:
          if (!widthDone && stack.length > 2) stack.shift();
          widthDone = true;
          moveTo(stack[0] ?? 0, stack[1] ?? 0);
          stack = [];
          break;
        case 22:
          if (!widthDone && stack.length > 1) stack.shift();
          widthDone = true;
          moveTo(stack[0] ?? 0, 0);
          stack = [];
          break;
        case 4:
          if (!widthDone && stack.length > 1) stack.shift();
          widthDone = true;
          moveTo(0, stack[0] ?? 0);
          stack = [];
          break;
        case 5:
          for (let i = 0; i + 1 < stack.length; i += 2) lineTo(stack[i] ?? 0, stack[i + 1] ?? 0);
          stack = [];
          break;
        case 6:
        case 7: {
          let horizontal = b === 6;
          for (const v of stack) {
            if (horizontal) lineTo(v, 0);
            else lineTo(0, v);
            horizontal = !horizontal;
          }
          stack = [];
          break;
        }
        case 8:
        case 24:
        case 25:
        case 26:
        case 27:
        case 30:
        case 31:
          throw new Error(`glyph ${gid}: curve operator ${b} not expected in Unifont`);
        case 10:
        case 29: {
          const idx = b === 10 ? subrs : gsubrs;
          if (!idx) throw new Error('subr without index');
          const n = (stack.pop() ?? 0) + bias(idx.count);
          const [a, e] = idx.item(n);
          if (run(a, e)) return true;
          break;
        }
        case 11:
          return false;
        case 14:
          if (!widthDone && stack.length % 2 === 1) stack.shift();
          return true;
        default:
          throw new Error(`glyph ${gid}: operator ${b}`);
      }
    }
    return false;
  };
  const [a, e] = charStrings.item(gid);
  run(a, e);
  return contours;
}

/** Non-zero fill at pixel centres, scanline by scanline. 4 units per pixel. */
function raster(gid: number, widthPx: number): Uint8Array {
  const bytesPerRow = widthPx / 8;
  const out = new Uint8Array(16 * bytesPerRow);
  const edges: Array<[number, number, number, number]> = [];
  for (const c of outline(gid))
    for (let i = 0; i < c.length; i++) {
      const p = c[i] as Pt;
      const q = c[(i + 1) % c.length] as Pt;
      if (p[1] !== q[1]) edges.push([p[0], p[1], q[0], q[1]]);
    }
  for (let row = 0; row < 16; row++) {
    const cy = ascent - row * 4 - 2;
    const xs: Array<[number, number]> = [];
    for (const [x0, y0, x1, y1] of edges) {
      if ((cy >= y0 && cy < y1) || (cy >= y1 && cy < y0)) xs.push([x0 + ((cy - y0) * (x1 - x0)) / (y1 - y0), y1 > y0 ? 1 : -1]);
    }
    xs.sort((a, b) => a[0] - b[0]);
    for (let col = 0; col < widthPx; col++) {
      const cx = col * 4 + 2;
      let w = 0;
      for (const [ex, d] of xs) if (ex <= cx) w += d;
      if (w !== 0) out[row * bytesPerRow + (col >> 3)] = (out[row * bytesPerRow + (col >> 3)] ?? 0) | (0x80 >> (col & 7));
    }
  }
  return out;
}

const cps: number[] = [];
const wide: boolean[] = [];
const bitmaps: Uint8Array[] = [];
for (const [s, e] of RANGES)
  for (let c = s; c <= e; c++) {
    const gid = cmap.get(c);
    if (gid === undefined || gid === 0) continue;
    const adv = advance(gid);
    const w = adv > 32 ? 16 : 8;
    cps.push(c);
    wide.push(w === 16);
    bitmaps.push(raster(gid, w));
  }

const head = Buffer.alloc(4 + cps.length * 2 + Math.ceil(cps.length / 8));
head.writeUInt32LE(cps.length, 0);
let prev = 0;
cps.forEach((c, i) => {
  head.writeUInt16LE(c - prev, 4 + i * 2);
  prev = c;
  if (wide[i]) head.writeUInt8(head.readUInt8(4 + cps.length * 2 + (i >> 3)) | (1 << (i & 7)), 4 + cps.length * 2 + (i >> 3));
});
const blob = Buffer.concat([head, ...bitmaps]);
const packed = deflateRawSync(blob, { level: 9 }).toString('base64');
const lines: string[] = [];
for (let i = 0; i < packed.length; i += 120) lines.push(`  '${packed.slice(i, i + 120)}',`);
const ranges = RANGES.map(
  ([s, e]) => `U+${s.toString(16).toUpperCase().padStart(4, '0')}-${e.toString(16).toUpperCase().padStart(4, '0')}`,
).join(' ');
writeFileSync(
  OUT,
  `// generated by generate-unifont.ts from ${SRC} - do not edit.
// GNU Unifont (GPL-2.0-or-later with the font embedding exception, or SIL OFL 1.1).
// ${cps.length} glyphs, 8x16 / 16x16, ranges ${ranges}.
// Layout (raw deflate, base64): u32le count | u16le codepoint deltas | wide bitset | 16 or 32 bytes per glyph, MSB left.
export const UNIFONT_GLYPH_COUNT = ${cps.length};
export const UNIFONT_PACKED = [
${lines.join('\n')}
].join('');
`,
);
process.stdout.write(`${cps.length} glyphs, ${blob.length} bytes raw, ${packed.length} chars base64\n`);
