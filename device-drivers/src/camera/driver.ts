/**
 * Camera: gray frames with metadata over any `FrameSource` (the rpicam-vid / ffmpeg
 * capture process on a device, `SimCamera.source` in simulation).
 *
 * - Validates every frame: dimensions must match the configured size (`FRAME_SIZE`)
 *   and the data must hold width x height bytes (`FRAME_TRUNCATED`); a bad frame is
 *   counted in `stats.rejected` and rejected with a `CameraFrameError` from `next()`;
 *   `frames()` skips it (emitting `frame-error`) and gives up only after
 *   `maxConsecutiveBadFrames`.
 * - Adds per-frame luminance statistics (`luma`) for the fill-light controller and
 *   exposure/gain metadata (from the frame, or from an optional metadata reader such as
 *   rpicam-vid's `--metadata` stream).
 * - Dropped-frame accounting: `stats.dropped` is what the source dropped because the
 *   consumer was busy (newest frame wins), plus sequence gaps the source did not report.
 * - Capture death (`CAPTURE_DIED`) and start failure (`CAPTURE_START`) pass through as
 *   the source's `TransportError`s.
 */
import { EventEmitter } from 'node:events';
import type { FrameSource, GrayFrame } from '../transport/frame-source';
import { CameraFrameError, type FrameLuma, frameLuma } from './protocol';

/** A validated frame with metadata. */
export interface CameraFrame extends GrayFrame {
  luma: FrameLuma;
}

export interface CameraStats {
  /** Frames handed out by `next()`. */
  delivered: number;
  /** Frames the source captured but nobody collected in time, plus sequence gaps. */
  dropped: number;
  /** Frames refused as malformed. */
  rejected: number;
}

export interface CameraEvents {
  frame: [CameraFrame];
  'frame-error': [CameraFrameError];
}

export interface CameraOptions {
  source: FrameSource;
  /** Expected frame size. Default: the source's. */
  width?: number;
  height?: number;
  /** Exposure/gain for frames that do not carry them (e.g. rpicam-vid metadata reader). */
  metadata?: (frame: GrayFrame) => { exposureUs?: number; gain?: number } | undefined;
  /** `frames()` throws after this many bad frames in a row. Default 10. */
  maxConsecutiveBadFrames?: number;
  name?: string;
}

export class Camera extends EventEmitter<CameraEvents> {
  readonly width: number;
  readonly height: number;
  readonly name: string;
  private readonly source: FrameSource;
  private readonly metadata: CameraOptions['metadata'];
  private readonly maxBad: number;
  private lastSeq: number | undefined;
  private gaps = 0;
  private delivered = 0;
  private rejected = 0;

  constructor(options: CameraOptions) {
    super();
    this.source = options.source;
    this.width = options.width ?? options.source.width;
    this.height = options.height ?? options.source.height;
    this.metadata = options.metadata;
    this.maxBad = options.maxConsecutiveBadFrames ?? 10;
    this.name = options.name ?? 'camera';
  }

  get isRunning(): boolean {
    return this.source.isRunning;
  }

  get stats(): CameraStats {
    return { delivered: this.delivered, dropped: Math.max(this.source.stats.dropped, this.gaps), rejected: this.rejected };
  }

  async start(): Promise<void> {
    this.lastSeq = undefined;
    await this.source.start();
  }

  async stop(): Promise<void> {
    await this.source.stop();
  }

  /** The next valid frame; rejects with `CameraFrameError` for a malformed one. */
  async next(signal?: AbortSignal): Promise<CameraFrame> {
    const f = await this.source.next(signal);
    if (f.width !== this.width || f.height !== this.height) {
      this.rejected++;
      throw new CameraFrameError(
        'FRAME_SIZE',
        `frame ${f.seq} is ${f.width}x${f.height}, expected ${this.width}x${this.height}`,
        {
          device: this.name,
          details: { seq: f.seq, width: f.width, height: f.height },
        },
      );
    }
    if (!(f.data instanceof Uint8Array) || f.data.length !== f.width * f.height) {
      this.rejected++;
      throw new CameraFrameError(
        'FRAME_TRUNCATED',
        `frame ${f.seq} has ${f.data?.length ?? 0} bytes, expected ${f.width * f.height}`,
        { device: this.name, details: { seq: f.seq, bytes: f.data?.length ?? 0 } },
      );
    }
    if (this.lastSeq !== undefined && f.seq > this.lastSeq + 1) this.gaps += f.seq - this.lastSeq - 1;
    this.lastSeq = f.seq;
    const frame: CameraFrame = { ...f, luma: frameLuma(f.data, f.width, f.height) };
    if (frame.exposureUs === undefined || frame.gain === undefined) {
      const m = this.metadata?.(f);
      if (m?.exposureUs !== undefined && frame.exposureUs === undefined) frame.exposureUs = m.exposureUs;
      if (m?.gain !== undefined && frame.gain === undefined) frame.gain = m.gain;
    }
    this.delivered++;
    this.emit('frame', frame);
    return frame;
  }

  /**
   * Valid frames until `signal` aborts (then returns quietly) or the capture dies (then
   * throws its TransportError). Malformed frames are skipped and emitted as
   * `frame-error`; `maxConsecutiveBadFrames` in a row throw the last error.
   */
  async *frames(signal?: AbortSignal): AsyncGenerator<CameraFrame> {
    let bad = 0;
    while (!signal?.aborted) {
      try {
        const f = await this.next(signal);
        bad = 0;
        yield f;
      } catch (err) {
        if (signal?.aborted) return;
        if (err instanceof CameraFrameError) {
          this.emit('frame-error', err);
          if (++bad >= this.maxBad) throw err;
          continue;
        }
        throw err;
      }
    }
  }
}
