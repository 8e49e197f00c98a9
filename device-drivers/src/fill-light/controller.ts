/**
 * FillLightController: decides, frame by frame, whether the fill-light is needed and
 * how bright, and drives a `FillLightOutput` (the johnny-five `FillLight`).
 *
 * Rules (reference section 3.3, after libcamera's AGC):
 * - With the camera's AE running the frame mean is regulated and hides the darkness, so
 *   the metadata decides: LED on / up when exposure >= `upExposureUs` (20 ms) or gain >=
 *   `upGain` (4); down / off when exposure <= `downExposureUs` (5 ms) at gain <=
 *   `downGain` (1). Between the two is the hysteresis band: hold.
 * - Frames without metadata (locked exposure, a UVC camera) use the central mean Y:
 *   up below `lumaLow` (60), down above `lumaHigh` (170).
 * - Glare: more than `clipMax` (2 %) of the centre clipped while the LED is on -> down.
 * - Steps are multiplicative (x1.5 up, x0.67 down) within [minDuty, maxDuty]; stepping
 *   down below `minDuty` turns the LED off (low duty bands worst on a rolling shutter).
 * - Rate limit: after a change the next `settleFrames` frames are ignored (the camera's
 *   AE has to settle on the new light) and at most one step per `framesPerStep` frames.
 * - Scan-aware boost: while the scanner keeps failing (`decoded: false` for
 *   `boostAfterMisses` frames in a row) and the shutter is still above
 *   `boostExposureUs` (10 ms: hand-shake blur), step up even inside the band - the light
 *   exists to shorten the shutter.
 * - A failing LED (PWM error) never stops the controller: the error is recorded in
 *   `faults`, emitted as `fault`, the decision is `fault`, and the write is retried
 *   after `retryAfterFrames` frames. Scanning goes on without light.
 */
import { EventEmitter } from 'node:events';
import { HandsetError, toHandsetError } from '../core/errors';
import { FillLightError } from './errors';

/** What the controller drives. `FillLight` implements it. */
export interface FillLightOutput {
  readonly duty: number;
  setDuty(duty: number): Promise<void>;
}

/** What the controller reads from a frame (a `CameraFrame` has all of it). */
export interface FillLightInput {
  exposureUs?: number;
  gain?: number;
  luma: { meanY: number; clipped: number };
  /** Whether the scanner decoded the previous frame (omit when not scanning). */
  decoded?: boolean;
}

export interface FillLightControllerOptions {
  light: FillLightOutput;
  minDuty?: number;
  maxDuty?: number;
  /** Duty when the light first comes on. Default 0.15. */
  onDuty?: number;
  stepUp?: number;
  stepDown?: number;
  upExposureUs?: number;
  upGain?: number;
  downExposureUs?: number;
  downGain?: number;
  lumaLow?: number;
  lumaHigh?: number;
  clipMax?: number;
  settleFrames?: number;
  framesPerStep?: number;
  retryAfterFrames?: number;
  boostAfterMisses?: number;
  boostExposureUs?: number;
}

export type FillLightAction = 'hold' | 'on' | 'up' | 'down' | 'off' | 'settling' | 'fault';

export interface FillLightDecision {
  action: FillLightAction;
  /** The duty now commanded (0 = off). */
  duty: number;
  reason: string;
}

export interface FillLightControllerEvents {
  change: [FillLightDecision];
  fault: [HandsetError];
}

export class FillLightController extends EventEmitter<FillLightControllerEvents> {
  readonly faults: HandsetError[] = [];
  private readonly o: Required<Omit<FillLightControllerOptions, 'light'>>;
  private readonly light: FillLightOutput;
  private target = 0;
  private sinceChange = Number.POSITIVE_INFINITY;
  private faultedAt: number | undefined;
  private frame = 0;
  private misses = 0;

  constructor(options: FillLightControllerOptions) {
    super();
    this.light = options.light;
    this.o = {
      minDuty: options.minDuty ?? 0.1,
      maxDuty: options.maxDuty ?? 1,
      onDuty: options.onDuty ?? 0.15,
      stepUp: options.stepUp ?? 1.5,
      stepDown: options.stepDown ?? 0.67,
      upExposureUs: options.upExposureUs ?? 20_000,
      upGain: options.upGain ?? 4,
      downExposureUs: options.downExposureUs ?? 5_000,
      downGain: options.downGain ?? 1.05,
      lumaLow: options.lumaLow ?? 60,
      lumaHigh: options.lumaHigh ?? 170,
      clipMax: options.clipMax ?? 0.02,
      settleFrames: options.settleFrames ?? 3,
      framesPerStep: options.framesPerStep ?? 3,
      retryAfterFrames: options.retryAfterFrames ?? 30,
      boostAfterMisses: options.boostAfterMisses ?? 6,
      boostExposureUs: options.boostExposureUs ?? 10_000,
    };
    if (!(this.o.minDuty > 0 && this.o.minDuty <= this.o.maxDuty && this.o.maxDuty <= 1))
      throw new FillLightError('LED_CONFIG', `need 0 < minDuty <= maxDuty <= 1, got ${this.o.minDuty}..${this.o.maxDuty}`);
  }

  /** The duty the controller wants (what the LED shows unless it is faulted). */
  get duty(): number {
    return this.target;
  }

  get faulted(): boolean {
    return this.faultedAt !== undefined;
  }

  /** Feeds one frame; resolves with what was done. Never rejects. */
  async update(input: FillLightInput): Promise<FillLightDecision> {
    this.frame++;
    this.sinceChange++;
    if (input.decoded === false) this.misses++;
    else if (input.decoded === true) this.misses = 0;
    if (this.faultedAt !== undefined) {
      if (this.frame - this.faultedAt < this.o.retryAfterFrames)
        return { action: 'fault', duty: this.target, reason: 'LED faulted' };
      return this.apply(this.target, 'hold', 'retry after fault');
    }
    const hold = Math.max(this.o.settleFrames, this.o.framesPerStep);
    if (this.sinceChange <= hold) return { action: 'settling', duty: this.target, reason: 'waiting for AE to settle' };

    const want = this.want(input);
    const on = this.target > 0;
    if (want.dir > 0) {
      if (!on) return this.apply(Math.max(this.o.minDuty, this.o.onDuty), 'on', want.reason);
      if (this.target >= this.o.maxDuty) return { action: 'hold', duty: this.target, reason: `${want.reason}; at max duty` };
      return this.apply(Math.min(this.o.maxDuty, this.target * this.o.stepUp), 'up', want.reason);
    }
    if (want.dir < 0 && on) {
      const d = this.target * this.o.stepDown;
      if (d < this.o.minDuty) return this.apply(0, 'off', want.reason);
      return this.apply(d, 'down', want.reason);
    }
    return { action: 'hold', duty: this.target, reason: want.reason };
  }

  /** Turns the light off (scan done or timed out). Never rejects. */
  async idle(): Promise<FillLightDecision> {
    this.misses = 0;
    if (this.target === 0 && this.light.duty === 0) return { action: 'hold', duty: 0, reason: 'already off' };
    return this.apply(0, 'off', 'idle');
  }

  private want(f: FillLightInput): { dir: -1 | 0 | 1; reason: string } {
    const o = this.o;
    if (this.target > 0 && f.luma.clipped > o.clipMax)
      return { dir: -1, reason: `glare: ${(f.luma.clipped * 100).toFixed(1)} % clipped` };
    if (f.exposureUs !== undefined && f.gain !== undefined) {
      if (f.exposureUs >= o.upExposureUs || f.gain >= o.upGain)
        return { dir: 1, reason: `dark: exposure ${(f.exposureUs / 1000).toFixed(1)} ms, gain ${f.gain}` };
      if (f.exposureUs <= o.downExposureUs && f.gain <= o.downGain)
        return { dir: -1, reason: `bright: exposure ${(f.exposureUs / 1000).toFixed(1)} ms, gain ${f.gain}` };
      if (this.misses >= o.boostAfterMisses && f.exposureUs > o.boostExposureUs)
        return { dir: 1, reason: `no decode for ${this.misses} frames at ${(f.exposureUs / 1000).toFixed(1)} ms shutter` };
      return { dir: 0, reason: 'exposure within band' };
    }
    if (f.luma.meanY < o.lumaLow) return { dir: 1, reason: `dark: mean Y ${f.luma.meanY.toFixed(0)}` };
    if (f.luma.meanY > o.lumaHigh) return { dir: -1, reason: `bright: mean Y ${f.luma.meanY.toFixed(0)}` };
    return { dir: 0, reason: 'mean Y within band' };
  }

  private async apply(duty: number, action: FillLightAction, reason: string): Promise<FillLightDecision> {
    this.target = duty;
    this.sinceChange = 0;
    try {
      await this.light.setDuty(duty);
      this.faultedAt = undefined;
      const d = { action, duty, reason };
      this.emit('change', d);
      return d;
    } catch (err) {
      const e =
        err instanceof HandsetError
          ? err
          : new FillLightError('LED_PWM', `fill-light write failed: ${toHandsetError(err).message}`, { cause: err });
      this.faults.push(e);
      this.faultedAt = this.frame;
      this.emit('fault', e);
      return { action: 'fault', duty, reason: `${e.code}: ${e.message}` };
    }
  }
}
