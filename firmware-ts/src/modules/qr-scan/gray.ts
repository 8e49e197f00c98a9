/**
 * Plain-loop image operations on 8-bit gray frames for the scan pipeline. At 640x480
 * each is one or two passes of integer arithmetic (about 1 ms on x86), cheaper than a
 * sharp call's fixed overhead (reference section 2.5).
 */

/** An 8-bit gray image, row-major, no padding. */
export interface Gray {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Copies a rectangle (clamped to the image) out of an image. */
export function crop(img: Gray, r: Rect): Gray {
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(img.width, Math.ceil(r.x + r.width));
  const y1 = Math.min(img.height, Math.ceil(r.y + r.height));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) out.set(img.data.subarray((y0 + y) * img.width + x0, (y0 + y) * img.width + x0 + w), y * w);
  return { width: w, height: h, data: out };
}

/** Halves both dimensions by 2x2 averaging (also averages noise down by 2x). */
export function downscale2(img: Gray): Gray {
  const w = img.width >> 1;
  const h = img.height >> 1;
  const s = img.data;
  const sw = img.width;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    let i = 2 * y * sw;
    const o = y * w;
    for (let x = 0; x < w; x++, i += 2) out[o + x] = (s[i]! + s[i + 1]! + s[i + sw]! + s[i + sw + 1]! + 2) >> 2;
  }
  return { width: w, height: h, data: out };
}

/** Box mean with radius r (window 2r+1), edges clamped; running sums, O(1) per pixel. */
export function boxMean(img: Gray, r: number): Uint8Array {
  const { width: w, height: h, data } = img;
  const tmp = new Uint16Array(w * h);
  const out = new Uint8Array(w * h);
  const win = 2 * r + 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let acc = (r + 1) * data[row]!;
    for (let j = 1; j <= r; j++) acc += data[row + Math.min(j, w - 1)]!;
    for (let x = 0; x < w; x++) {
      tmp[row + x] = acc;
      acc += data[row + Math.min(x + r + 1, w - 1)]! - data[row + Math.max(x - r, 0)]!;
    }
  }
  const div = win * win;
  const half = div >> 1;
  for (let x = 0; x < w; x++) {
    let acc = (r + 1) * tmp[x]!;
    for (let j = 1; j <= r; j++) acc += tmp[Math.min(j, h - 1) * w + x]!;
    for (let y = 0; y < h; y++) {
      out[y * w + x] = ((acc + half) / div) | 0;
      acc += tmp[Math.min(y + r + 1, h - 1) * w + x]! - tmp[Math.max(y - r, 0) * w + x]!;
    }
  }
  return out;
}

/**
 * Unsharp mask: out = src + amount x (src - boxMean(src, r)), optionally after a
 * light pre-smoothing (`smooth` = box radius) that keeps sensor noise from being
 * sharpened too. Restores the module edges of a defocused or shaken code.
 */
export function unsharp(img: Gray, r: number, amount: number, smooth = 0): Gray {
  const base = smooth > 0 ? { ...img, data: boxMean(img, smooth) } : img;
  const blur = boxMean(base, r);
  const s = base.data;
  const n = s.length;
  const out = new Uint8Array(n);
  const a = Math.round(amount * 256);
  for (let i = 0; i < n; i++) {
    const v = s[i]! + ((a * (s[i]! - blur[i]!)) >> 8);
    out[i] = v < 0 ? 0 : Math.min(v, 255);
  }
  return { width: img.width, height: img.height, data: out };
}

/** Gray -> RGBA (R = G = B = Y, A = 255) for jsQR, which only takes RGBA. */
export function grayToRgba(img: Gray): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  const o32 = new Uint32Array(out.buffer);
  const s = img.data;
  for (let i = 0; i < n; i++) {
    const v = s[i]!;
    o32[i] = 0xff000000 | (v << 16) | (v << 8) | v;
  }
  return out;
}

/** Bounding box of points, grown by `margin` (fraction of the larger side), clamped. */
export function boundsOf(points: ReadonlyArray<{ x: number; y: number }>, margin: number, w: number, h: number): Rect {
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x);
    y1 = Math.max(y1, p.y);
  }
  const m = Math.max(x1 - x0, y1 - y0) * margin;
  const rx = Math.max(0, Math.floor(x0 - m));
  const ry = Math.max(0, Math.floor(y0 - m));
  return { x: rx, y: ry, width: Math.min(w, Math.ceil(x1 + m)) - rx, height: Math.min(h, Math.ceil(y1 + m)) - ry };
}
