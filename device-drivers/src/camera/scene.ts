/**
 * The scene renderer behind the simulated camera and the scan corpus: draws a QR code
 * (from a payload via `qrcode`, or from any gray image such as a screenshot of the
 * merchant page) into a gray camera frame, through a physical-ish model:
 *
 *   reflectance (code on paper / e-ink / a screen, clutter around it)
 *   x irradiance (ambient lux + the fill-light's lux x PWM duty, with fall-off and
 *     rolling-shutter banding for low PWM frequencies) + specular glare
 *   -> optics (lens PSF + defocus + hand-shake motion blur growing with the shutter time)
 *   -> sensor (signal = irradiance x K x exposure x gain; shot + read noise growing with
 *      gain; clipping) -> gamma 2.2 -> 8-bit Y.
 *
 * Geometry: the code is a plane at the focal distance, rotated in-plane, tilted about the
 * x and y axes (perspective) and projected through a pinhole camera. Everything random
 * (clutter, noise) comes from a seeded `Rng`, so a (scene, seed, frame index) triple
 * always renders the same bytes.
 *
 * Units: irradiance in lux; `K` maps lux x seconds to a linear signal where 1.0 is full
 * scale: 100 lux on a 0.5-reflectance surface, 10 ms at gain 1 -> 0.2.
 */
import QRCode from 'qrcode';
import { Rng } from './random';

/** An 8-bit gray image, row-major, no padding. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Reflectances of the code's dark and light parts. */
export interface Surface {
  dark: number;
  light: number;
}

/** Paper print, an e-ink panel (grey white, low contrast), an emissive phone screen. */
export const SURFACES = {
  paper: { dark: 0.06, light: 0.85 },
  eink: { dark: 0.16, light: 0.5 },
  screen: { dark: 0.03, light: 0.9 },
} as const satisfies Record<string, Surface>;

export type QrEcc = 'L' | 'M' | 'Q' | 'H';

/** What is drawn: a QR made from a payload, or an arbitrary gray image (light = paper white). */
export type CodeSource =
  | { kind: 'qr'; payload: string | Uint8Array; ecc?: QrEcc; quietModules?: number }
  | { kind: 'image'; image: GrayImage };

/** Where the code sits. */
export interface Pose {
  /** Centre of the code in frame pixels. Default: frame centre. */
  cx?: number;
  cy?: number;
  /** Camera pixels per QR module (qr) or per image pixel (image). */
  scale: number;
  rotationDeg?: number;
  /** Tilt of the code's plane about the horizontal / vertical axis (perspective). */
  tiltXDeg?: number;
  tiltYDeg?: number;
}

export interface Glare {
  /** Centre in frame pixels. */
  x: number;
  y: number;
  /** Gaussian radius (sigma) in pixels. */
  radius: number;
  /** Peak specular irradiance as a multiple of the scene's diffuse white irradiance. */
  strength: number;
}

/** Everything about the scene except the light and the exposure. */
export interface SceneSpec {
  code?: CodeSource;
  pose?: Pose;
  surface?: Surface;
  /** Reflectance of the table/wall around the code. Default 0.3. */
  background?: number;
  /** Number of random rectangles (and a few finder-like squares) in the background. */
  clutter?: number;
  /** Extra defocus blur sigma in pixels (the lens alone is 0.5). */
  blurSigma?: number;
  /** Hand-shake speed in px/s: motion blur sigma = shake x shutter time. Default 40. */
  shakePxPerS?: number;
  glare?: Glare;
  /** Seed for clutter and noise. Default 1. */
  seed?: number;
}

/** The light falling on the scene for one frame. */
export interface Lighting {
  ambientLux: number;
  /** Fill-light lux at the code at 100 % duty. */
  ledFullLux?: number;
  /** Effective LED duty 0..1 (0 when the PWM is disabled). */
  ledDuty?: number;
  /** PWM frequency, for rolling-shutter banding. Default 25 kHz. */
  ledFrequencyHz?: number;
}

/** The sensor settings of one frame. */
export interface Exposure {
  exposureUs: number;
  gain: number;
}

/** The sensor model's constants. */
export const SENSOR = {
  /** lux x s -> linear full scale (see module doc). */
  K: 0.4,
  /** Read noise sigma (linear full scale) at gain 1; scales with gain. */
  readNoise: 0.002,
  /** Shot noise: variance = shot x signal x gain. */
  shot: 0.0004,
  /** Lens PSF sigma in px. */
  lensSigma: 0.5,
  /** Focal length in px (about 50 degrees across 640 px). */
  focalPx: 700,
  /** Rolling shutter: time between two rows' exposure starts. */
  lineTimeUs: 30,
  gamma: 2.2,
} as const;

const TEXTURE_PX_PER_MODULE = 4;
const GAMMA_LUT_SIZE = 4096;
const NOISE_TABLE_SIZE = 1 << 16;

interface Texture {
  width: number;
  height: number;
  /** 0 = dark .. 1 = light */
  data: Float32Array;
  /** frame px per texture px at pose.scale = 1 */
  unit: number;
}

/** Makes the module matrix of a QR for `payload` (qrcode package), with its version. */
export function qrModules(
  payload: string | Uint8Array,
  ecc: QrEcc = 'M',
): { size: number; modules: Uint8Array; version: number } {
  const qr =
    typeof payload === 'string'
      ? QRCode.create(payload, { errorCorrectionLevel: ecc })
      : QRCode.create([{ data: payload, mode: 'byte' }], { errorCorrectionLevel: ecc });
  return { size: qr.modules.size, modules: Uint8Array.from(qr.modules.data), version: qr.version };
}

function buildTexture(code: CodeSource): Texture {
  if (code.kind === 'image') {
    const { width, height, data } = code.image;
    const out = new Float32Array(width * height);
    for (let i = 0; i < out.length; i++) out[i] = (data[i] ?? 0) / 255;
    return { width, height, data: out, unit: 1 };
  }
  const { size, modules } = qrModules(code.payload, code.ecc);
  const quiet = code.quietModules ?? 4;
  const n = size + 2 * quiet;
  const p = TEXTURE_PX_PER_MODULE;
  const w = n * p;
  const out = new Float32Array(w * w).fill(1);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      if (!modules[r * size + c]) continue;
      for (let y = 0; y < p; y++) {
        const row = ((r + quiet) * p + y) * w + (c + quiet) * p;
        out.fill(0, row, row + p);
      }
    }
  }
  return { width: w, height: w, data: out, unit: 1 / p };
}

/** Solves the 3x3 homography mapping the four `src` points onto the four `dst` points. */
export function homography(
  src: ReadonlyArray<readonly [number, number]>,
  dst: ReadonlyArray<readonly [number, number]>,
): number[] {
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = src[i] as [number, number];
    const [u, v] = dst[i] as [number, number];
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let col = 0; col < 8; col++) {
    let piv = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[piv]![col]!)) piv = r;
    [a[col], a[piv]] = [a[piv]!, a[col]!];
    const pr = a[col]!;
    const d = pr[col]!;
    if (Math.abs(d) < 1e-12) throw new RangeError('degenerate homography');
    for (let k = col; k < 9; k++) pr[k] = pr[k]! / d;
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const row = a[r]!;
      const f = row[col]!;
      if (f === 0) continue;
      for (let k = col; k < 9; k++) row[k] = row[k]! - f * pr[k]!;
    }
  }
  return [...a.map((r) => r[8]!), 1];
}

/** Where the four corners of a `w` x `h` texture land in the frame for a pose. */
export function projectCorners(
  w: number,
  h: number,
  unit: number,
  pose: Pose,
  frameW: number,
  frameH: number,
): Array<[number, number]> {
  const s = pose.scale * unit;
  const cx = pose.cx ?? frameW / 2;
  const cy = pose.cy ?? frameH / 2;
  const rot = ((pose.rotationDeg ?? 0) * Math.PI) / 180;
  const tx = ((pose.tiltXDeg ?? 0) * Math.PI) / 180;
  const ty = ((pose.tiltYDeg ?? 0) * Math.PI) / 180;
  const f = SENSOR.focalPx;
  const corners: Array<[number, number]> = [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ];
  return corners.map(([x0, y0]) => {
    let x = x0 * s;
    let y = y0 * s;
    // in-plane rotation
    [x, y] = [x * Math.cos(rot) - y * Math.sin(rot), x * Math.sin(rot) + y * Math.cos(rot)];
    // tilt about the x axis, then the y axis
    let z = 0;
    [y, z] = [y * Math.cos(tx), y * Math.sin(tx)];
    [x, z] = [x * Math.cos(ty) + z * Math.sin(ty), -x * Math.sin(ty) + z * Math.cos(ty)];
    return [cx + (f * x) / (f + z), cy + (f * y) / (f + z)];
  });
}

function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(sigma * 2.5));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = k[i]! / sum;
  return k;
}

/** Separable gaussian blur in place (edges clamp). */
export function gaussianBlur(
  img: Float32Array,
  w: number,
  h: number,
  sigma: number,
  tmp: Float32Array = new Float32Array(w * h),
): void {
  if (sigma < 0.3) return;
  if (sigma > 1.5) {
    // three box passes approximate a gaussian at a cost independent of sigma
    const n = 3;
    const ideal = Math.sqrt((12 * sigma * sigma) / n + 1);
    let wl = Math.floor(ideal);
    if (wl % 2 === 0) wl--;
    const wu = wl + 2;
    const m = Math.round((12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4));
    for (let i = 0; i < n; i++) {
      const r = ((i < m ? wl : wu) - 1) / 2;
      boxBlurH(img, tmp, w, h, r);
      boxBlurV(tmp, img, w, h, r);
    }
    return;
  }
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) >> 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) {
        let xx = x + i;
        if (xx < 0) xx = 0;
        else if (xx >= w) xx = w - 1;
        acc += img[row + xx]! * k[i + r]!;
      }
      tmp[row + x] = acc;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) {
        let yy = y + i;
        if (yy < 0) yy = 0;
        else if (yy >= h) yy = h - 1;
        acc += tmp[yy * w + x]! * k[i + r]!;
      }
      img[y * w + x] = acc;
    }
  }
}

function boxBlurH(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const inv = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const first = src[row]!;
    const last = src[row + w - 1]!;
    let acc = r * first;
    for (let j = 0; j < r; j++) acc += src[row + Math.min(j, w - 1)]!;
    for (let x = 0; x < w; x++) {
      acc += x + r < w ? src[row + x + r]! : last;
      dst[row + x] = acc * inv;
      acc -= x - r >= 0 ? src[row + x - r]! : first;
    }
  }
}

function boxBlurV(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const inv = 1 / (2 * r + 1);
  for (let x = 0; x < w; x++) {
    const first = src[x]!;
    const last = src[(h - 1) * w + x]!;
    let acc = r * first;
    for (let j = 0; j < r; j++) acc += src[Math.min(j, h - 1) * w + x]!;
    for (let y = 0; y < h; y++) {
      acc += y + r < h ? src[(y + r) * w + x]! : last;
      dst[y * w + x] = acc * inv;
      acc -= y - r >= 0 ? src[(y - r) * w + x]! : first;
    }
  }
}

let gammaLut: Uint8Array | undefined;
function gammaTable(): Uint8Array {
  if (!gammaLut) {
    gammaLut = new Uint8Array(GAMMA_LUT_SIZE + 1);
    for (let i = 0; i <= GAMMA_LUT_SIZE; i++) gammaLut[i] = Math.round(255 * (i / GAMMA_LUT_SIZE) ** (1 / SENSOR.gamma));
  }
  return gammaLut;
}

/** What one render produced besides the pixels: what the camera's AE would meter. */
export interface RenderInfo {
  /** Mean linear signal (0..1, clipped) over the centre-weighted metering area. */
  meteredMean: number;
  /** Fraction of pixels at full scale. */
  clipped: number;
  /** Total blur sigma applied (px). */
  blurSigma: number;
  /** Where the code's corners landed (texture corners incl. quiet zone), if a code is drawn. */
  corners?: Array<[number, number]>;
}

/**
 * Renders frames of one scene. Build once per scene (texture, clutter and the noise
 * table are cached); call `render()` per frame with the light and exposure of that frame.
 */
export class SceneRenderer {
  readonly width: number;
  readonly height: number;
  private spec: SceneSpec;
  private texture: Texture | undefined;
  private backgroundMap: Float32Array;
  private readonly noise: Float32Array;
  private readonly signal: Float32Array;
  private readonly tmp: Float32Array;
  private noiseRng: Rng;

  constructor(width: number, height: number, spec: SceneSpec = {}) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0))
      throw new RangeError(`frame size must be positive integers, got ${width}x${height}`);
    this.width = width;
    this.height = height;
    this.spec = spec;
    this.signal = new Float32Array(width * height);
    this.tmp = new Float32Array(width * height);
    const seed = spec.seed ?? 1;
    const nrng = new Rng(seed ^ 0x5eed);
    this.noise = new Float32Array(NOISE_TABLE_SIZE);
    for (let i = 0; i < NOISE_TABLE_SIZE; i++) this.noise[i] = nrng.gaussian();
    this.noiseRng = new Rng(seed * 7919 + 1);
    this.texture = spec.code ? buildTexture(spec.code) : undefined;
    this.backgroundMap = this.buildBackground();
  }

  get scene(): SceneSpec {
    return this.spec;
  }

  /** Changes parts of the scene; the texture / clutter are rebuilt only when they change. */
  update(patch: Partial<SceneSpec>): void {
    const prev = this.spec;
    this.spec = { ...prev, ...patch };
    if ('code' in patch && patch.code !== prev.code) this.texture = patch.code ? buildTexture(patch.code) : undefined;
    if (('clutter' in patch && patch.clutter !== prev.clutter) || ('background' in patch && patch.background !== prev.background))
      this.backgroundMap = this.buildBackground();
  }

  private buildBackground(): Float32Array {
    const { width: w, height: h } = this;
    const base = this.spec.background ?? 0.3;
    const map = new Float32Array(w * h);
    for (let y = 0; y < h; y++) {
      const g = base * (0.85 + (0.3 * y) / h);
      map.fill(g, y * w, (y + 1) * w);
    }
    const n = this.spec.clutter ?? 0;
    if (n <= 0) return map;
    const rng = new Rng((this.spec.seed ?? 1) * 31 + 17);
    const rect = (x0: number, y0: number, rw: number, rh: number, v: number) => {
      const xa = Math.max(0, Math.floor(x0));
      const ya = Math.max(0, Math.floor(y0));
      const xb = Math.min(w, Math.floor(x0 + rw));
      const yb = Math.min(h, Math.floor(y0 + rh));
      for (let y = ya; y < yb; y++) map.fill(v, y * w + xa, y * w + xb);
    };
    for (let i = 0; i < n; i++) {
      const rw = rng.range(4, w / 5);
      const rh = rng.range(2, h / 5);
      rect(rng.range(-rw / 2, w), rng.range(-rh / 2, h), rw, rh, rng.range(0.03, 0.9));
    }
    // a few finder-pattern look-alikes (1:1:3:1:1 squares) to tempt a locator
    for (let i = 0; i < Math.min(4, Math.floor(n / 20)); i++) {
      const m = rng.range(2, 5);
      const x = rng.range(0, w - 7 * m);
      const y = rng.range(0, h - 7 * m);
      rect(x, y, 7 * m, 7 * m, 0.05);
      rect(x + m, y + m, 5 * m, 5 * m, 0.85);
      rect(x + 2 * m, y + 2 * m, 3 * m, 3 * m, 0.05);
    }
    return map;
  }

  /**
   * What the AE meter would read for this light and exposure, without rendering: the
   * centre-weighted mean linear signal sampled every 8th pixel, no blur or noise.
   */
  meter(light: Lighting, exposure: Exposure): number {
    const { width: w, height: h } = this;
    const spec = this.spec;
    const surface = spec.surface ?? SURFACES.paper;
    const tex = this.texture;
    let inv: number[] | undefined;
    if (tex && spec.pose) {
      const corners = projectCorners(tex.width, tex.height, tex.unit, spec.pose, w, h);
      inv = homography(corners, [
        [0, 0],
        [tex.width, 0],
        [tex.width, tex.height],
        [0, tex.height],
      ]);
    }
    const scale = SENSOR.K * (exposure.exposureUs / 1e6) * exposure.gain;
    const ledLux = (light.ledFullLux ?? 0) * Math.min(1, Math.max(0, light.ledDuty ?? 0));
    const r0 = 0.6 * w;
    let sum = 0;
    let wsum = 0;
    for (let y = 4; y < h; y += 8) {
      for (let x = 4; x < w; x += 8) {
        let refl = this.backgroundMap[y * w + x]!;
        if (inv && tex) {
          const [a, b, c, d, e, f, g, hh, i] = inv as [number, number, number, number, number, number, number, number, number];
          const den = g * x + hh * y + i;
          const u = Math.floor((a * x + b * y + c) / den);
          const v = Math.floor((d * x + e * y + f) / den);
          if (u >= 0 && v >= 0 && u < tex.width && v < tex.height)
            refl = surface.dark + (surface.light - surface.dark) * tex.data[v * tex.width + u]!;
        }
        const dx = x - w / 2;
        const dy = y - h / 2;
        const led = ledLux / (1 + (dx * dx + dy * dy) / (r0 * r0));
        let s = refl * (light.ambientLux + led);
        if (spec.glare) {
          const gx = x - spec.glare.x;
          const gy = y - spec.glare.y;
          s += spec.glare.strength * (light.ambientLux + ledLux) * Math.exp(-(gx * gx + gy * gy) / (2 * spec.glare.radius ** 2));
        }
        s = Math.min(1, s * scale);
        const wgt = x >= w / 4 && x < (3 * w) / 4 && y >= h / 4 && y < (3 * h) / 4 ? 3 : 1;
        sum += s * wgt;
        wsum += wgt;
      }
    }
    return wsum ? sum / wsum : 0;
  }

  /** Renders one frame into `out` (allocated when omitted). */
  render(
    light: Lighting,
    exposure: Exposure,
    out = new Uint8Array(this.width * this.height),
  ): { frame: Uint8Array; info: RenderInfo } {
    const { width: w, height: h, signal } = this;
    const spec = this.spec;
    const surface = spec.surface ?? SURFACES.paper;
    const tex = this.texture;
    let corners: Array<[number, number]> | undefined;

    // 1. reflectance
    signal.set(this.backgroundMap);
    if (tex && spec.pose) {
      corners = projectCorners(tex.width, tex.height, tex.unit, spec.pose, w, h);
      const hm = homography(corners, [
        [0, 0],
        [tex.width, 0],
        [tex.width, tex.height],
        [0, tex.height],
      ]);
      const [a, b, c, d, e, f, g, hh, i] = hm as [number, number, number, number, number, number, number, number, number];
      const tw = tex.width;
      const th = tex.height;
      const td = tex.data;
      const span = surface.light - surface.dark;
      let minX = w;
      let maxX = 0;
      let minY = h;
      let maxY = 0;
      for (const [x, y] of corners) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
      const x0 = Math.max(0, Math.floor(minX));
      const x1 = Math.min(w - 1, Math.ceil(maxX));
      const y0 = Math.max(0, Math.floor(minY));
      const y1 = Math.min(h - 1, Math.ceil(maxY));
      for (let y = y0; y <= y1; y++) {
        const py = y + 0.5;
        for (let x = x0; x <= x1; x++) {
          const px = x + 0.5;
          const den = g * px + hh * py + i;
          const u = (a * px + b * py + c) / den - 0.5;
          const v = (d * px + e * py + f) / den - 0.5;
          if (u < -0.5 || v < -0.5 || u > tw - 0.5 || v > th - 0.5) continue;
          const ui = Math.floor(u);
          const vi = Math.floor(v);
          const fu = u - ui;
          const fv = v - vi;
          const u0 = Math.max(ui, 0);
          const v0 = Math.max(vi, 0);
          const u1 = ui + 1 >= tw ? tw - 1 : ui + 1;
          const v1 = vi + 1 >= th ? th - 1 : vi + 1;
          const t =
            (td[v0 * tw + u0]! * (1 - fu) + td[v0 * tw + u1]! * fu) * (1 - fv) +
            (td[v1 * tw + u0]! * (1 - fu) + td[v1 * tw + u1]! * fu) * fv;
          signal[y * w + x] = surface.dark + span * t;
        }
      }
    }

    // 2. irradiance x sensor scale (K x exposure x gain), LED fall-off + banding, glare
    const expS = exposure.exposureUs / 1e6;
    const scale = SENSOR.K * expS * exposure.gain;
    const ambient = Math.max(0, light.ambientLux);
    const duty = Math.min(1, Math.max(0, light.ledDuty ?? 0));
    const ledLux = (light.ledFullLux ?? 0) * duty;
    const freq = light.ledFrequencyHz ?? 25_000;
    // relative band depth <= min(D, 1-D) T / (D t_exp) (reference section 3.1)
    const bandDepth = ledLux > 0 && duty < 1 ? Math.min(1, Math.min(duty, 1 - duty) / (duty * freq * Math.max(expS, 1e-6))) : 0;
    const r0 = 0.6 * w;
    const cxw = w / 2;
    const cyh = h / 2;
    const glare = spec.glare;
    const white = ambient + ledLux;
    for (let y = 0; y < h; y++) {
      const band = bandDepth > 0 ? 1 + bandDepth * Math.sin(2 * Math.PI * freq * y * SENSOR.lineTimeUs * 1e-6) : 1;
      const dy = y - cyh;
      const gy = glare ? (y - glare.y) * (y - glare.y) : 0;
      for (let x = 0; x < w; x++) {
        const dx = x - cxw;
        const led = ledLux > 0 ? (ledLux * band) / (1 + (dx * dx + dy * dy) / (r0 * r0)) : 0;
        let irr = signal[y * w + x]! * (ambient + led);
        if (glare) {
          const gx = x - glare.x;
          irr += glare.strength * white * Math.exp(-(gx * gx + gy) / (2 * glare.radius * glare.radius));
        }
        signal[y * w + x] = irr * scale;
      }
    }

    // 3. optics
    const motion = (spec.shakePxPerS ?? 40) * expS;
    const blurSigma = Math.sqrt(SENSOR.lensSigma ** 2 + (spec.blurSigma ?? 0) ** 2 + motion ** 2);
    gaussianBlur(signal, w, h, blurSigma, this.tmp);

    // 4. sensor noise, clipping, metering, gamma
    const lut = gammaTable();
    const noise = this.noise;
    const rng = this.noiseRng;
    const readVar = (SENSOR.readNoise * exposure.gain) ** 2;
    const shotK = SENSOR.shot * exposure.gain;
    let clipped = 0;
    let meterSum = 0;
    let meterW = 0;
    const mx0 = Math.floor(w / 4);
    const mx1 = Math.floor((3 * w) / 4);
    const my0 = Math.floor(h / 4);
    const my1 = Math.floor((3 * h) / 4);
    let rnd = rng.nextU32();
    for (let y = 0; y < h; y++) {
      const inY = y >= my0 && y < my1;
      for (let x = 0; x < w; x++) {
        const idx = y * w + x;
        const s = signal[idx]!;
        if ((x & 1) === 0) rnd = rng.nextU32();
        const nz = noise[x & 1 ? rnd >>> 16 : rnd & 0xffff]!;
        let v = s + nz * Math.sqrt(readVar + shotK * Math.max(s, 0));
        if (v >= 1) {
          v = 1;
          clipped++;
        } else if (v < 0) v = 0;
        if ((x & 3) === 0 && (y & 3) === 0) {
          const wgt = inY && x >= mx0 && x < mx1 ? 3 : 1;
          meterSum += Math.min(s, 1) * wgt;
          meterW += wgt;
        }
        out[idx] = lut[(v * GAMMA_LUT_SIZE) | 0]!;
      }
    }
    return { frame: out, info: { meteredMean: meterW ? meterSum / meterW : 0, clipped: clipped / (w * h), blurSigma, corners } };
  }
}
