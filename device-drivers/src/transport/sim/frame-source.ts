import { type Clock, systemClock } from '../../core/clock';
import { CanceledError, TransportError, ValidationError } from '../../core/errors';
import type { FrameSource, FrameSourceStats, GrayFrame } from '../frame-source';
import { type FaultTable, PASS } from './fault';

/** What a render callback returns: the gray pixels, optionally with exposure metadata. */
export type SimRenderedFrame = Uint8Array | { data: Uint8Array; exposureUs?: number; gain?: number };

/** Draws frame `seq` captured at monotonic time `timeMs` (width*height bytes, row-major). */
export type SimFrameRenderer = (seq: number, timeMs: number) => SimRenderedFrame;

/** The operations a fault override can intercept on a SimFrameSource. */
export interface SimFrameSourceOps {
  start: () => void;
  /** Called with each frame about to be handed to `next()`; return a replacement frame, or PASS. */
  next: (frame: GrayFrame) => GrayFrame;
}

export interface SimFrameSourceOptions {
  width: number;
  height: number;
  /** Frames per second on `clock`. Default 30. */
  fps?: number;
  render: SimFrameRenderer;
  /** Default `systemClock`; use a ManualClock in tests. */
  clock?: Clock;
  /** Time from `start()` to the first frame (sensor start-up). Default 0. */
  startDelayMs?: number;
  /** Name used in errors. Default 'sim:camera'. */
  name?: string;
}

/**
 * A simulated camera (implements `FrameSource`): frames are "captured" every 1000/fps ms
 * on the injected clock; only the newest uncollected frame is kept (older ones count in
 * `stats.dropped`), exactly like the pipe reader. Rendering is lazy: a frame is drawn
 * by `render(seq, timeMs)` only when `next()` hands it out, so dropped frames cost
 * nothing (a scene that changes between capture and hand-out shows the newer scene).
 *
 * Control face: `die(exitCode, stderr)` kills the capture (pending and later `next()`
 * reject with CAPTURE_DIED), `faults.start` / `faults.next` override one operation.
 */
export class SimFrameSource implements FrameSource {
  readonly width: number;
  readonly height: number;
  readonly name: string;
  readonly stats: FrameSourceStats = { received: 0, dropped: 0 };
  faults: FaultTable<SimFrameSourceOps> = {};
  private readonly fps: number;
  private readonly render: SimFrameRenderer;
  private readonly clock: Clock;
  private readonly startDelayMs: number;
  private running = false;
  private latest: { seq: number; timeMs: number } | undefined;
  private seq = 0;
  private cancelTimer: (() => void) | undefined;
  private died: TransportError | undefined;
  private pending: { resolve: (f: GrayFrame) => void; reject: (e: unknown) => void; cleanup: () => void } | undefined;

  constructor(options: SimFrameSourceOptions) {
    const { width, height } = options;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
      throw new ValidationError(`frame size must be positive integers, got ${width}x${height}`);
    const fps = options.fps ?? 30;
    if (!(Number.isFinite(fps) && fps > 0)) throw new ValidationError(`fps must be > 0, got ${fps}`);
    this.width = width;
    this.height = height;
    this.fps = fps;
    this.render = options.render;
    this.clock = options.clock ?? systemClock;
    this.startDelayMs = options.startDelayMs ?? 0;
    this.name = options.name ?? 'sim:camera';
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const f = this.faults.start;
    if (f && (await f()) !== PASS) return;
    this.died = undefined;
    this.latest = undefined;
    this.running = true;
    this.schedule(this.startDelayMs);
  }

  next(signal?: AbortSignal): Promise<GrayFrame> {
    if (this.died) return Promise.reject(this.died);
    if (!this.running)
      return Promise.reject(new TransportError(`${this.name} is not started`, { code: 'NOT_OPEN', device: this.name }));
    if (this.pending)
      return Promise.reject(new TransportError('a next() is already pending', { code: 'READ_PENDING', device: this.name }));
    if (signal?.aborted) return Promise.reject(new CanceledError('next() aborted', { device: this.name, cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pending?.cleanup();
        this.pending = undefined;
        reject(new CanceledError('next() aborted', { device: this.name, cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      setImmediate(() => void this.pump());
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.latest = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(new CanceledError(`${this.name} stopped`, { device: this.name }));
  }

  /** Control face: the capture process dies (exit code, stderr tail in `details`). */
  die(exitCode: number | null = 1, stderr = 'simulated capture failure'): void {
    this.died = new TransportError(`${this.name} died (exit code ${exitCode}): ${stderr}`, {
      code: 'CAPTURE_DIED',
      device: this.name,
      details: { exitCode, stderr },
    });
    this.running = false;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.latest = undefined;
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(this.died);
  }

  private schedule(delayMs: number): void {
    this.cancelTimer = this.clock.setTimeout(() => {
      if (!this.running) return;
      if (this.latest) this.stats.dropped++;
      this.latest = { seq: this.seq++, timeMs: this.clock.monotonic() };
      this.stats.received++;
      void this.pump();
      this.schedule(1000 / this.fps);
    }, delayMs);
  }

  private async pump(): Promise<void> {
    const p = this.pending;
    const shot = this.latest;
    if (!p || !shot) return;
    this.pending = undefined;
    this.latest = undefined;
    p.cleanup();
    try {
      let frame = this.draw(shot.seq, shot.timeMs);
      const f = this.faults.next;
      if (f) {
        const r = await f(frame);
        if (r !== PASS) frame = r;
      }
      p.resolve(frame);
    } catch (e) {
      p.reject(e);
    }
  }

  private draw(seq: number, timeMs: number): GrayFrame {
    const r = this.render(seq, timeMs);
    const { data, exposureUs, gain } = r instanceof Uint8Array ? { data: r, exposureUs: undefined, gain: undefined } : r;
    if (data.length !== this.width * this.height)
      throw new ValidationError(
        `${this.name}: render returned ${data.length} bytes, expected ${this.width}x${this.height} = ${this.width * this.height}`,
        { device: this.name },
      );
    const frame: GrayFrame = { width: this.width, height: this.height, data, seq, timestampMs: timeMs };
    if (exposureUs !== undefined) frame.exposureUs = exposureUs;
    if (gain !== undefined) frame.gain = gain;
    return frame;
  }
}
