/**
 * The decode cascade: one gray frame in, at most one QR payload out, in bounded time.
 *
 * Stages, cheapest first; each runs only if the previous found nothing and its expected
 * cost still fits the per-frame budget (default 40 ms, leaving headroom under the 50 ms
 * target); the stage costs are learnt as a decaying maximum of what each stage took:
 *
 *  1. `roi`      - video only: zxing on the region around the last hit (grown 35 %),
 *                  no try-harder: ~0.3 ms while the code stays in view.
 *  2. `full`     - zxing (zxing-cpp, local wasm, QR only, gray pixmap in, try-harder
 *                  and its own downscaling on, rotation/inversion off), also returning
 *                  where it located symbols it could not decode.
 *  3. `sharpen`  - unsharp mask (box radius 5, amount 3, after a radius-1 pre-smooth that
 *                  keeps gain noise from being sharpened) on the located region (or the
 *                  whole frame), then zxing: restores defocused / shaken module edges and
 *                  noisy low-light codes.
 *  4. `sharpen2` - a milder unsharp (radius 3, amount 2) for smaller modules.
 *  5. `jsqr`     - jsQR (`inversionAttempts: 'dontInvert'`, always passed explicitly:
 *                  jsQR's options leak between calls otherwise) on the located region
 *                  only, downscaled to <= 320 px and expanded to RGBA: a different
 *                  locator as a last resort. Skipped without a located region: on a whole
 *                  noisy frame jsQR takes 250-600 ms.
 *
 * A hit's text is returned with its raw bytes; classification (EMV / pay code /
 * unsupported) is a separate step (classify.ts).
 */
import jsQR from 'jsqr';
import { ScanError } from './errors';
import { boundsOf, crop, downscale2, type Gray, grayToRgba, type Rect, unsharp } from './gray';
import { loadZxing, type ReaderModule, type ZxingOptions, zxingScanGray } from './zxing';

export type StageName = 'roi' | 'full' | 'sharpen' | 'sharpen2' | 'jsqr';

export interface DecodeHit {
  text: string;
  bytes: Uint8Array;
  /** Corners in frame pixels (topLeft, topRight, bottomRight, bottomLeft). */
  corners: Array<{ x: number; y: number }>;
  stage: StageName;
}

export interface DecodeOutcome {
  hit?: DecodeHit;
  /** Wall time spent on this frame. */
  ms: number;
  /** Stages that ran, in order. */
  stages: StageName[];
  /** Stages skipped because the budget did not allow them. */
  skipped: StageName[];
}

export interface QrDecoderOptions {
  /** Per-frame time budget in ms. Default 40. */
  budgetMs?: number;
  /** Stages to run (default all, in the order above). */
  stages?: StageName[];
  /** Track the last hit's region across frames (video). Default true. */
  track?: boolean;
  /** Monotonic clock in ms (for budget bookkeeping). Default performance.now. */
  now?: () => number;
}

const FAST: ZxingOptions = { tryHarder: false, tryRotate: false, tryInvert: false, tryDownscale: false };
const FULL: ZxingOptions = { tryHarder: true, tryRotate: false, tryInvert: false, tryDownscale: true, returnErrors: true };
const ENHANCED: ZxingOptions = { tryHarder: true, tryRotate: false, tryInvert: false, tryDownscale: false };
const ALL_STAGES: StageName[] = ['roi', 'full', 'sharpen', 'sharpen2', 'jsqr'];
/** Initial cost guesses (ms at 640x480 on x86), refined by measurement. */
const INITIAL_COST: Record<StageName, number> = { roi: 2, full: 6, sharpen: 10, sharpen2: 10, jsqr: 10 };

/**
 * A stateful decoder for one stream of frames (or one-off images). `decode()` is
 * synchronous: a caller on the camera path drops the frames that arrive meanwhile.
 */
export class QrDecoder {
  readonly budgetMs: number;
  private readonly mod: ReaderModule;
  private readonly stages: StageName[];
  private readonly track: boolean;
  private readonly now: () => number;
  private lastRegion: { rect: Rect; width: number; height: number; misses: number } | undefined;
  /** Learnt cost per stage per megapixel-ish unit: decaying maximum of ms / (pixels / 307200). */
  private readonly cost: Record<StageName, number> = { ...INITIAL_COST };

  private constructor(mod: ReaderModule, options: QrDecoderOptions) {
    this.mod = mod;
    this.budgetMs = options.budgetMs ?? 40;
    this.stages = options.stages ?? ALL_STAGES;
    this.track = options.track ?? true;
    this.now = options.now ?? (() => performance.now());
  }

  /** Loads zxing-wasm from its local .wasm file and makes a decoder. */
  static async create(options: QrDecoderOptions = {}): Promise<QrDecoder> {
    const mod = await loadZxing();
    const d = new QrDecoder(mod, options);
    d.warmUp();
    return d;
  }

  /**
   * Runs every stage three times on a synthetic noisy frame so wasm compilation and JIT
   * warm-up (100+ ms on the first call) never land on a real frame, and seeds the cost
   * model with what the last round took on this CPU (never below the initial guesses):
   * a stage's first real run is then predicted, not discovered over budget.
   */
  private warmUp(): void {
    const w = 320;
    const h = 240;
    const data = new Uint8Array(w * h);
    let s = 12345;
    for (let i = 0; i < data.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = ((i >> 4) & 1 ? 200 : 40) + ((s >>> 24) & 31);
    }
    const g = { width: w, height: h, data };
    const small = downscale2(g);
    const rounds: Array<[StageName[], number, () => unknown]> = [
      [['full'], w * h, () => zxingScanGray(this.mod, data, w, h, FULL)],
      [['sharpen', 'sharpen2'], w * h, () => zxingScanGray(this.mod, unsharp(g, 5, 3, 1).data, w, h, ENHANCED)],
      [
        ['jsqr'],
        small.width * small.height * 4,
        () => jsQR(grayToRgba(small), small.width, small.height, { inversionAttempts: 'dontInvert' }),
      ],
    ];
    for (let k = 0; k < 3; k++) {
      for (const [stages, pixels, fn] of rounds) {
        const t = this.now();
        fn();
        const perUnit = (this.now() - t) / Math.max(0.05, pixels / 307_200);
        if (k === 2) for (const st of stages) this.cost[st] = Math.max(INITIAL_COST[st], perUnit);
      }
    }
  }

  /** Forgets the tracked region (e.g. when a new scan starts). */
  reset(): void {
    this.lastRegion = undefined;
  }

  /** Decodes one gray frame. Throws `ScanError` `FRAME_INVALID` for inconsistent input only. */
  decode(img: Gray): DecodeOutcome {
    const t0 = this.now();
    if (!(img.width > 0 && img.height > 0 && img.data.length === img.width * img.height))
      throw new ScanError('FRAME_INVALID', `frame is ${img.width}x${img.height} with ${img.data.length} bytes`);
    const ran: StageName[] = [];
    const skipped: StageName[] = [];
    let located: Rect | undefined;

    const run = (stage: StageName, pixels: number, fn: () => DecodeHit | undefined): DecodeHit | undefined => {
      if (!this.stages.includes(stage)) return undefined;
      const expected = this.cost[stage] * Math.max(0.05, pixels / 307_200);
      // the whole-frame zxing pass always runs: it is the baseline every frame gets
      if (stage !== 'full' && this.now() - t0 + expected > this.budgetMs) {
        skipped.push(stage);
        return undefined;
      }
      const s0 = this.now();
      ran.push(stage);
      let hit: DecodeHit | undefined;
      try {
        hit = fn();
      } catch {
        hit = undefined; // a decoder fault on one frame is "no code" for that frame
      }
      const took = this.now() - s0;
      const perUnit = took / Math.max(0.05, pixels / 307_200);
      // a high-ish running estimate: rises fast (but an outlier at most doubles it), decays slowly
      const prev = this.cost[stage];
      this.cost[stage] = perUnit > prev ? Math.min(prev * 2, prev + (perUnit - prev) * 0.5) : prev * 0.95 + perUnit * 0.05;
      return hit;
    };

    const finish = (hit: DecodeHit | undefined): DecodeOutcome => {
      if (this.track) {
        if (hit)
          this.lastRegion = {
            rect: boundsOf(hit.corners, 0.35, img.width, img.height),
            width: img.width,
            height: img.height,
            misses: 0,
          };
        else if (this.lastRegion && ++this.lastRegion.misses > 15) this.lastRegion = undefined;
      }
      return { hit, ms: this.now() - t0, stages: ran, skipped };
    };

    // 1. region of the last hit
    const lr = this.lastRegion;
    if (lr && lr.width === img.width && lr.height === img.height) {
      const c = crop(img, lr.rect);
      const hit = run('roi', c.width * c.height, () => this.zx(c, FAST, lr.rect, 'roi'));
      if (hit) return finish(hit);
    }

    // 2. whole frame
    let candidates: Array<Array<{ x: number; y: number }>> = [];
    const full = run('full', img.width * img.height, () => {
      const s = zxingScanGray(this.mod, img.data, img.width, img.height, FULL);
      candidates = s.candidates;
      return s.hit ? { ...s.hit, stage: 'full' } : undefined;
    });
    if (full) return finish(full);
    const first = candidates[0];
    if (first) located = boundsOf(first, 0.2, img.width, img.height);

    // 3./4. sharpened
    const region = located ?? { x: 0, y: 0, width: img.width, height: img.height };
    const base = located ? crop(img, region) : img;
    const px = base.width * base.height;
    for (const [stage, r, a, s] of [
      ['sharpen', 5, 3, 1],
      ['sharpen2', 3, 2, 1],
    ] as const) {
      const hit = run(stage, px, () => this.zx(unsharp(base, r, a, s), ENHANCED, region, stage));
      if (hit) return finish(hit);
    }

    // 5. jsQR on the located region only
    if (located) {
      let g = base;
      while (Math.max(g.width, g.height) > 320) g = downscale2(g);
      const f = base.width / g.width;
      const hit = run('jsqr', g.width * g.height * 4, () => {
        const r = jsQR(grayToRgba(g), g.width, g.height, { inversionAttempts: 'dontInvert' });
        if (!r) return undefined;
        const l = r.location;
        return {
          text: r.data,
          bytes: Uint8Array.from(r.binaryData),
          corners: [l.topLeftCorner, l.topRightCorner, l.bottomRightCorner, l.bottomLeftCorner].map((p) => ({
            x: region.x + p.x * f,
            y: region.y + p.y * f,
          })),
          stage: 'jsqr',
        };
      });
      if (hit) return finish(hit);
    }
    return finish(undefined);
  }

  private zx(g: Gray, o: ZxingOptions, at: Rect, stage: StageName): DecodeHit | undefined {
    const s = zxingScanGray(this.mod, g.data, g.width, g.height, o);
    if (!s.hit) return undefined;
    return { ...s.hit, corners: s.hit.corners.map((p) => ({ x: p.x + at.x, y: p.y + at.y })), stage };
  }
}
