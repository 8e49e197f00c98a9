/**
 * The scan corpus: ~200 degraded 640x480 gray frames the project generates itself with
 * the camera's scene renderer (device-drivers/src/camera/scene.ts), seeded, in
 * categories: clean, blur, noise, rotation (to 45 degrees), perspective, small modules,
 * low light, clutter, glare, e-ink, partly out of frame, no code. Each frame carries its
 * ground truth (the payload, or null when there is no code).
 *
 * Exposure per frame is what the camera's AE would settle on (meter a first render,
 * scale the total exposure to the AE target, split along the exposure profile), so
 * "low light" frames come out at high gain with noise and long-shutter motion blur,
 * just as the sim camera produces them.
 *
 * Frames are cached under .cache/scan-corpus/<version>-<seed>/ (regenerated when the
 * generator version changes); nothing is committed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EXPOSURE_PROFILE,
  type Exposure,
  Rng,
  SceneRenderer,
  type SceneSpec,
  SURFACES,
  splitExposure,
} from '@handset/device-drivers/camera';

export const CORPUS_VERSION = 4;

export interface CorpusFrame {
  id: string;
  category: string;
  /** Ground truth: the payload drawn, or null for "no code". */
  payload: string | null;
  width: number;
  height: number;
  data: Uint8Array;
  exposure: Exposure;
  ambientLux: number;
}

/** Categories and how many frames each gets (sums to 200 by default). */
export const CATEGORIES: Record<string, number> = {
  clean: 14,
  blur: 20,
  noise: 20,
  rotation: 20,
  perspective: 20,
  'small-modules': 20,
  'low-light': 20,
  clutter: 18,
  glare: 10,
  eink: 12,
  'out-of-frame': 12,
  'no-code': 14,
};

function payloadFor(rng: Rng, i: number): string {
  switch (i % 3) {
    case 0: {
      const amount = `${rng.int(1, 9999)}.${String(rng.int(0, 99)).padStart(2, '0')}`;
      const ref = `ORD${rng.int(100000, 999999)}`;
      const mid = `M${rng.int(10000000, 99999999)}`;
      const body = `000201010212263000${'12'}${'D15600000000'}05${String(mid.length).padStart(2, '0')}${mid}52045812530397854${String(amount.length).padStart(2, '0')}${amount}5802DE5910SHOP ${String(rng.int(10000, 99999))}6006BERLIN6210${'05'}${'06'}${ref.slice(0, 6)}6304`;
      return body + 'ABCD';
    }
    case 1:
      return String(rng.int(10_000_000, 99_999_999)) + String(rng.int(10_000_000, 99_999_999)) + String(rng.int(1000, 9999));
    default:
      return `https://pay.example/m/${rng.int(100000, 999999)}?ref=${rng.int(1e6, 9e6)}`;
  }
}

/** Builds the scene + light for frame `i` of `category`. */
function sceneFor(category: string, i: number, rng: Rng): { spec: SceneSpec; lux: number; payload: string | null } {
  const payload = category === 'no-code' ? null : payloadFor(rng, i);
  const seed = rng.int(1, 1 << 30);
  const base: SceneSpec = {
    code: payload ? { kind: 'qr', payload, ecc: 'M' } : undefined,
    pose: {
      scale: rng.range(3.2, 5.5),
      rotationDeg: rng.range(-8, 8),
      tiltXDeg: rng.range(-8, 8),
      tiltYDeg: rng.range(-8, 8),
      cx: rng.range(260, 380),
      cy: rng.range(190, 290),
    },
    clutter: rng.int(10, 40),
    blurSigma: rng.range(0, 0.6),
    shakePxPerS: 30,
    seed,
  };
  let lux = rng.range(150, 600);
  const pose = base.pose!;
  switch (category) {
    case 'clean':
      break;
    case 'blur':
      base.blurSigma = rng.range(1, 3.2);
      pose.scale = rng.range(3.5, 7);
      break;
    case 'noise':
      lux = rng.range(6, 25);
      base.shakePxPerS = 5;
      break;
    case 'rotation':
      pose.rotationDeg = rng.range(15, 45) * (rng.next() < 0.5 ? -1 : 1);
      break;
    case 'perspective':
      pose.tiltXDeg = rng.range(20, 45) * (rng.next() < 0.5 ? -1 : 1);
      pose.tiltYDeg = rng.range(10, 40) * (rng.next() < 0.5 ? -1 : 1);
      pose.rotationDeg = rng.range(-20, 20);
      break;
    case 'small-modules':
      pose.scale = rng.range(1.8, 3);
      base.blurSigma = rng.range(0, 0.4);
      break;
    case 'low-light':
      lux = rng.range(1, 8);
      base.shakePxPerS = rng.range(15, 40);
      break;
    case 'clutter':
      base.clutter = rng.int(80, 160);
      break;
    case 'glare':
      base.surface = SURFACES.screen;
      base.glare = {
        x: pose.cx! + rng.range(-60, 60),
        y: pose.cy! + rng.range(-60, 60),
        radius: rng.range(15, 40),
        strength: rng.range(0.5, 2),
      };
      break;
    case 'eink':
      base.surface = SURFACES.eink;
      pose.scale = rng.range(2.6, 4.5);
      base.blurSigma = rng.range(0.3, 1.2);
      lux = rng.range(60, 300);
      break;
    case 'out-of-frame': {
      const edge = rng.int(0, 3);
      const off = rng.range(0.2, 0.4) * 40 * pose.scale;
      if (edge === 0) pose.cx = off;
      else if (edge === 1) pose.cx = 640 - off;
      else if (edge === 2) pose.cy = off;
      else pose.cy = 480 - off;
      break;
    }
    case 'no-code':
      base.clutter = rng.int(30, 160);
      break;
  }
  return { spec: base, lux, payload };
}

/** What AE would settle on for this scene and light. */
function settleExposure(r: SceneRenderer, lux: number): Exposure {
  let exp: Exposure = { exposureUs: 10_000, gain: 1 };
  for (let k = 0; k < 3; k++) {
    const m = Math.max(1e-4, r.meter({ ambientLux: lux }, exp));
    const err = m >= 0.98 ? 0.25 : EXPOSURE_PROFILE.yTarget / m;
    const total = Math.min(66_666 * EXPOSURE_PROFILE.maxGain, exp.exposureUs * exp.gain * err);
    exp = splitExposure(total);
    if (Math.abs(Math.log(err)) < 0.05) break;
  }
  return exp;
}

export interface CorpusOptions {
  seed?: number;
  /** Scale every category's count (e.g. 0.1 for a quick test corpus). */
  fraction?: number;
  /** Cache directory; undefined = no cache. */
  cacheDir?: string;
}

/** Generates (or loads from the cache) the corpus. */
export function loadCorpus(options: CorpusOptions = {}): CorpusFrame[] {
  const seed = options.seed ?? 20260101;
  const fraction = options.fraction ?? 1;
  const dir = options.cacheDir ? join(options.cacheDir, `v${CORPUS_VERSION}-${seed}-${fraction}`) : undefined;
  if (dir && existsSync(join(dir, 'index.json'))) {
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as Array<Omit<CorpusFrame, 'data'>>;
    const blob = readFileSync(join(dir, 'frames.bin'));
    let off = 0;
    return index.map((f) => {
      const n = f.width * f.height;
      const data = new Uint8Array(blob.buffer, blob.byteOffset + off, n);
      off += n;
      return { ...f, data };
    });
  }
  const rng = new Rng(seed);
  const frames: CorpusFrame[] = [];
  for (const [category, count] of Object.entries(CATEGORIES)) {
    const n = Math.max(1, Math.round(count * fraction));
    for (let i = 0; i < n; i++) {
      const { spec, lux, payload } = sceneFor(category, i, rng);
      const r = new SceneRenderer(640, 480, spec);
      const exposure = settleExposure(r, lux);
      const { frame } = r.render({ ambientLux: lux }, exposure);
      frames.push({
        id: `${category}-${i}`,
        category,
        payload,
        width: 640,
        height: 480,
        data: frame,
        exposure: { exposureUs: Math.round(exposure.exposureUs), gain: Math.round(exposure.gain * 100) / 100 },
        ambientLux: Math.round(lux * 10) / 10,
      });
    }
  }
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'frames.bin'), Buffer.concat(frames.map((f) => f.data)));
    writeFileSync(join(dir, 'index.json'), JSON.stringify(frames.map(({ data: _d, ...rest }) => rest)));
  }
  return frames;
}
