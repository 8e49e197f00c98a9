/**
 * The simulated camera: a `SceneRenderer` plus an auto-exposure model, feeding the
 * transports' `SimFrameSource` (the bus face: the same `FrameSource` the real capture
 * process implements, with 30 fps timing on an injected clock and newest-frame-wins
 * dropping).
 *
 * Closed loop with the fill-light: each frame reads the simulated LED's PWM state
 * (`enabled ? duty : 0`, and its frequency for rolling-shutter banding) and adds
 * `fullLux x duty` to the ambient light. The AE model (libcamera-like: shutter first,
 * then gain, `EXPOSURE_PROFILE`) meters the rendered frame and moves the total exposure
 * towards the target a fraction per frame, so a dark scene drives gain up (noise up,
 * long shutter -> motion blur) until the LED brightens the scene.
 *
 * Control face: `setAmbientLux()`, `setCode()`, `setPose()`, `updateScene()`,
 * `lockExposure()` / `autoExposure()`, `attachLight()`; `source.die()` and
 * `source.faults` for capture faults.
 */
import type { Clock } from '../core/clock';
import { ValidationError } from '../core/errors';
import type { PwmState } from '../transport/pwm';
import { SimFrameSource } from '../transport/sim/frame-source';
import { EXPOSURE_PROFILE, splitExposure } from './protocol';
import { type CodeSource, type Exposure, type Pose, type RenderInfo, SceneRenderer, type SceneSpec } from './scene';

/** Anything with a PWM state: a `SimPwm`, or the Pwm behind the virtual IO plugin. */
export interface LightSource {
  readonly state: PwmState;
}

export interface SimCameraOptions {
  width?: number;
  height?: number;
  fps?: number;
  clock?: Clock;
  scene?: SceneSpec;
  /** Ambient light at the code, lux. Default 300 (a lit shop). */
  ambientLux?: number;
  /** The fill-light's PWM and its lux at the code at 100 % duty (default 250). */
  light?: { pwm: LightSource; fullLux?: number };
  /** Fraction of the exposure error AE corrects per frame (log domain). Default 0.6. */
  aeSpeed?: number;
  /** Start exposure. Default 10 ms at gain 1. */
  initialExposure?: Exposure;
  startDelayMs?: number;
  name?: string;
}

export class SimCamera {
  /** Bus face. */
  readonly source: SimFrameSource;
  readonly renderer: SceneRenderer;
  private ambientLux: number;
  private light: { pwm: LightSource; fullLux: number } | undefined;
  private readonly aeSpeed: number;
  private exposure_: Exposure;
  private locked = false;
  private lastSeq = -1;
  /** What the last rendered frame looked like (metering, clipping, blur, code corners). */
  lastRender: (RenderInfo & { seq: number; exposure: Exposure; ledDuty: number }) | undefined;

  constructor(options: SimCameraOptions = {}) {
    const width = options.width ?? 640;
    const height = options.height ?? 480;
    this.renderer = new SceneRenderer(width, height, options.scene ?? {});
    this.ambientLux = options.ambientLux ?? 300;
    this.light = options.light ? { pwm: options.light.pwm, fullLux: options.light.fullLux ?? 250 } : undefined;
    this.aeSpeed = options.aeSpeed ?? 0.6;
    this.exposure_ = options.initialExposure ?? { exposureUs: 10_000, gain: 1 };
    this.source = new SimFrameSource({
      width,
      height,
      fps: options.fps,
      clock: options.clock,
      startDelayMs: options.startDelayMs,
      name: options.name ?? 'sim:camera',
      render: (seq) => this.renderFrame(seq),
    });
  }

  /** The exposure the next frame will use. */
  get exposure(): Exposure {
    return { ...this.exposure_ };
  }

  get lux(): number {
    return this.ambientLux;
  }

  setAmbientLux(lux: number): void {
    if (!(Number.isFinite(lux) && lux >= 0)) throw new ValidationError(`ambient lux must be >= 0, got ${lux}`);
    this.ambientLux = lux;
  }

  setCode(code: CodeSource | undefined, pose?: Pose): void {
    this.renderer.update(pose ? { code, pose } : { code });
  }

  setPose(pose: Pose): void {
    this.renderer.update({ pose });
  }

  updateScene(patch: Partial<SceneSpec>): void {
    this.renderer.update(patch);
  }

  attachLight(pwm: LightSource, fullLux = 250): void {
    this.light = { pwm, fullLux };
  }

  /** Fixes shutter and gain (rpicam-vid --shutter/--gain). */
  lockExposure(exposure: Exposure): void {
    this.exposure_ = { ...exposure };
    this.locked = true;
  }

  autoExposure(): void {
    this.locked = false;
  }

  private renderFrame(seq: number): { data: Uint8Array; exposureUs: number; gain: number } {
    const st = this.light?.pwm.state;
    const ledDuty = st?.enabled ? st.duty : 0;
    const exposure = this.exposure_;
    const { frame, info } = this.renderer.render(
      { ambientLux: this.ambientLux, ledFullLux: this.light?.fullLux ?? 0, ledDuty, ledFrequencyHz: st?.frequencyHz },
      exposure,
    );
    this.lastRender = { ...info, seq, exposure: { ...exposure }, ledDuty };
    if (!this.locked) this.stepAe(info.meteredMean, Math.max(1, seq - this.lastSeq));
    this.lastSeq = seq;
    return { data: frame, exposureUs: Math.round(exposure.exposureUs), gain: Math.round(exposure.gain * 100) / 100 };
  }

  private stepAe(metered: number, frames: number): void {
    const total = this.exposure_.exposureUs * this.exposure_.gain;
    const m = Math.max(metered, 1e-4);
    // a clipped meter under-reads: move down decisively
    const err = metered >= 0.98 ? 0.25 : EXPOSURE_PROFILE.yTarget / m;
    const k = 1 - (1 - this.aeSpeed) ** frames;
    const next = total * Math.exp(k * Math.log(Math.min(8, Math.max(0.125, err))));
    const maxTotal = (EXPOSURE_PROFILE.shutterUs[EXPOSURE_PROFILE.shutterUs.length - 1] ?? 66_666) * EXPOSURE_PROFILE.maxGain;
    this.exposure_ = splitExposure(Math.min(maxTotal, Math.max(EXPOSURE_PROFILE.shutterUs[0] ?? 100, next)));
  }
}
