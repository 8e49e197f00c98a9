/**
 * The simulated sensor's fingerprint model (used by sim.ts only).
 *
 * A finger is a set of minutiae seeded from its name, so `alice` is the same finger in
 * every run. A press places it with an offset and a quality: the sensor sees the
 * minutiae shifted, jittered by a pixel or two, some of them lost and a few spurious
 * ones added as quality falls. Matching aligns two minutia sets by translation voting
 * and scores the overlap: the same finger scores ~100-280, different fingers < 15
 * (the security level decides the threshold). Feature files (256 B) and templates
 * (512 B) are our own binary layout with a magic and a checksum, so a template that
 * went through UpChar/DownChar round-trips exactly and random bytes are recognised as
 * invalid.
 */
import { CHAR_FILE_BYTES, Confirmation, IMAGE_BYTES, IMAGE_HEIGHT, IMAGE_WIDTH, TEMPLATE_BYTES } from './protocol';

export interface Minutia {
  x: number;
  y: number;
  /** Direction in 1/256 turns. */
  angle: number;
  /** 0 ridge ending, 1 bifurcation. */
  kind: 0 | 1;
}

export interface Press {
  finger: string;
  /** 0 (smudge) .. 1 (perfect). */
  quality: number;
  dx: number;
  dy: number;
  /** Capture counter: jitter differs per capture, reproducibly. */
  seq: number;
}

/** Score at or above which two feature sets are the same finger, per security level 1-5. */
export const MATCH_THRESHOLDS = [0, 30, 40, 50, 65, 80] as const;
/** RegModel merges the two captures only when they score at least this. */
export const MERGE_THRESHOLD = 40;
const MAX_MINUTIAE = 48;
const MAGIC = [0x52, 0x37];

/** FNV-1a 32-bit hash of a string. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: a small seeded PRNG returning [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The finger's own minutiae (centred on the sensor), stable for a given name. */
export function fingerMinutiae(name: string): Minutia[] {
  const rnd = prng(hashString(`finger:${name}`));
  const n = 36 + Math.floor(rnd() * 10);
  const out: Minutia[] = [];
  while (out.length < n) {
    const x = 30 + rnd() * (IMAGE_WIDTH - 60);
    const y = 30 + rnd() * (IMAGE_HEIGHT - 60);
    if (out.some((m) => Math.hypot(m.x - x, m.y - y) < 12)) continue;
    out.push({ x: Math.round(x), y: Math.round(y), angle: Math.floor(rnd() * 256), kind: rnd() < 0.5 ? 0 : 1 });
  }
  return out;
}

/** What the sensor extracts from one press. */
export function pressMinutiae(press: Press): Minutia[] {
  const rnd = prng(hashString(`press:${press.finger}:${press.seq}`));
  const q = Math.max(0, Math.min(1, press.quality));
  const drop = (1 - q) * 0.6;
  const out: Minutia[] = [];
  for (const m of fingerMinutiae(press.finger)) {
    if (rnd() < drop) continue;
    const x = m.x + press.dx + (rnd() - 0.5) * 4;
    const y = m.y + press.dy + (rnd() - 0.5) * 4;
    if (x < 8 || y < 8 || x > IMAGE_WIDTH - 8 || y > IMAGE_HEIGHT - 8) continue;
    out.push({ x: Math.round(x), y: Math.round(y), angle: (m.angle + Math.round((rnd() - 0.5) * 8) + 256) % 256, kind: m.kind });
  }
  const spurious = Math.round((1 - q) * 10);
  for (let i = 0; i < spurious; i++)
    out.push({
      x: Math.round(8 + rnd() * (IMAGE_WIDTH - 16)),
      y: Math.round(8 + rnd() * (IMAGE_HEIGHT - 16)),
      angle: Math.floor(rnd() * 256),
      kind: rnd() < 0.5 ? 0 : 1,
    });
  return out.slice(0, MAX_MINUTIAE);
}

/** Img2Tz outcome for a press: a confirmation code and, on success, the minutiae. */
export function extract(press: Press): { code: number; minutiae?: Minutia[] } {
  if (press.quality < 0.25) return { code: Confirmation.ImageMessy };
  const minutiae = pressMinutiae(press);
  if (minutiae.length < 12) return { code: Confirmation.TooFewFeatures };
  return { code: Confirmation.Ok, minutiae };
}

/** Aligns two minutia sets by translation voting and returns the overlap score (0 - ~300). */
export function matchScore(a: Minutia[], b: Minutia[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  const votes = new Map<number, number>();
  for (const p of a)
    for (const q of b) {
      if (angleDiff(p.angle, q.angle) > 14) continue;
      const key = ((Math.round((q.x - p.x) / 4) + 512) << 11) | (Math.round((q.y - p.y) / 4) + 512);
      votes.set(key, (votes.get(key) ?? 0) + 1);
    }
  const candidates = [...votes.entries()].sort((x, y) => y[1] - x[1]).slice(0, 4);
  let best = 0;
  for (const [key] of candidates) {
    const tx = ((key >> 11) - 512) * 4;
    const ty = ((key & 0x7ff) - 512) * 4;
    const used = new Set<number>();
    let matched = 0;
    for (const p of a) {
      let hit = -1;
      let hitD = 8;
      b.forEach((q, j) => {
        if (used.has(j) || angleDiff(p.angle, q.angle) > 16) return;
        const d = Math.hypot(p.x + tx - q.x, p.y + ty - q.y);
        if (d <= hitD) {
          hitD = d;
          hit = j;
        }
      });
      if (hit >= 0) {
        used.add(hit);
        matched++;
      }
    }
    best = Math.max(best, matched);
  }
  if (best < 3) return 0;
  return Math.round((300 * best * best) / (a.length * b.length));
}

/** RegModel: merges two captures into one set (the first capture's frame), or undefined when they differ. */
export function mergeMinutiae(a: Minutia[], b: Minutia[]): Minutia[] | undefined {
  if (matchScore(a, b) < MERGE_THRESHOLD) return undefined;
  return a.slice(0, MAX_MINUTIAE);
}

// ---------------------------------------------------------------------------------
// Binary layouts

/**
 * Encodes minutiae as a 256-byte feature file (`kind` 1) or the first half of a
 * 512-byte template (`kind` 2): magic "R7", kind, count, then 5 bytes per minutia
 * (x low byte; flags = x bit 8 | y bit 8 << 1 | kind << 2; y low byte; angle; a check
 * byte), and a 16-bit sum at bytes 254-255.
 */
export function encodeFeatures(minutiae: Minutia[], kind: 1 | 2): Uint8Array {
  const out = new Uint8Array(kind === 1 ? CHAR_FILE_BYTES : TEMPLATE_BYTES);
  out[0] = MAGIC[0]!;
  out[1] = MAGIC[1]!;
  out[2] = kind;
  const list = minutiae.slice(0, MAX_MINUTIAE);
  out[3] = list.length;
  list.forEach((m, i) => {
    const o = 4 + 5 * i;
    out[o] = m.x & 0xff;
    out[o + 1] = ((m.x >> 8) & 0x01) | (((m.y >> 8) & 0x01) << 1) | (m.kind << 2);
    out[o + 2] = m.y & 0xff;
    out[o + 3] = m.angle & 0xff;
    out[o + 4] = (m.x * 7 + m.y * 13 + m.angle) & 0xff;
  });
  const sum = sum16(out.subarray(0, 254));
  out[254] = sum >> 8;
  out[255] = sum & 0xff;
  if (kind === 2) {
    // Second half: a copy of the first (a real module keeps more detail there).
    out.set(out.subarray(0, 256), 256);
  }
  return out;
}

/** Decodes a feature file or template (first 256 bytes); undefined when the bytes are not ours or corrupt. */
export function decodeFeatures(buf: Uint8Array): Minutia[] | undefined {
  if (buf.length < 256 || buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1]) return undefined;
  if ((buf[2] !== 1 && buf[2] !== 2) || buf[3]! > MAX_MINUTIAE) return undefined;
  if (sum16(buf.subarray(0, 254)) !== ((buf[254]! << 8) | buf[255]!)) return undefined;
  const out: Minutia[] = [];
  for (let i = 0; i < buf[3]!; i++) {
    const o = 4 + 5 * i;
    const flags = buf[o + 1]!;
    out.push({
      x: buf[o]! | ((flags & 1) << 8),
      y: buf[o + 2]! | ((flags & 2) << 7),
      angle: buf[o + 3]!,
      kind: flags & 4 ? 1 : 0,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Images

/**
 * Renders what the sensor sees for a press (or an empty sensor): a ridge pattern
 * seeded by the finger, inside an elliptical contact area shifted by the offset, with
 * contrast and noise set by quality. Returns the packed 4-bpp UART image.
 */
export function renderImage(press: Press | undefined): Uint8Array {
  const out = new Uint8Array(IMAGE_BYTES);
  const noise = prng(hashString(`noise:${press?.finger ?? ''}:${press?.seq ?? 0}`));
  if (!press) {
    for (let i = 0; i < out.length; i++) out[i] = 0xff - (noise() < 0.05 ? 0x11 : 0);
    return out;
  }
  const rnd = prng(hashString(`ridges:${press.finger}`));
  const cx = 128 + (rnd() - 0.5) * 40 + press.dx;
  const cy = 150 + (rnd() - 0.5) * 50 + press.dy;
  const period = 7 + rnd() * 3;
  const waves = [0, 1, 2].map(() => ({ fx: rnd() * 0.04, fy: rnd() * 0.04, a: 4 + rnd() * 8, ph: rnd() * 6.28 }));
  const q = Math.max(0, Math.min(1, press.quality));
  const ex = 100;
  const ey = 125;
  const pixel = (x: number, y: number): number => {
    const u = (x - (128 + press.dx)) / ex;
    const v = (y - (148 + press.dy)) / ey;
    if (u * u + v * v > 1) return 15;
    let r = Math.hypot((x - cx) * 1.1, y - cy);
    for (const w of waves) r += w.a * Math.sin(w.fx * x + w.fy * y + w.ph);
    const s = Math.sin((2 * Math.PI * r) / period);
    const g = 8 + s * 7 * q + (noise() - 0.5) * 10 * (1 - q);
    return Math.max(0, Math.min(15, Math.round(g)));
  };
  for (let y = 0; y < IMAGE_HEIGHT; y++)
    for (let x = 0; x < IMAGE_WIDTH; x += 2) out[(y * IMAGE_WIDTH + x) >> 1] = (pixel(x, y) << 4) | pixel(x + 1, y);
  return out;
}

function angleDiff(a: number, b: number): number {
  const d = Math.abs(a - b) % 256;
  return d > 128 ? 256 - d : d;
}

function sum16(b: Uint8Array): number {
  let s = 0;
  for (const x of b) s = (s + x) & 0xffff;
  return s;
}
