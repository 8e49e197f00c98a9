/**
 * FrameSource: a stream of camera frames as 8-bit gray images.
 *
 * Contract:
 * - `start()` starts capture; it rejects with `TransportError` (code `CAPTURE_START`)
 *   when the capture process/device cannot start within its timeout.
 * - `next()` resolves with the next whole frame. Frames are never torn: an
 *   implementation reading from a pipe reassembles frames from arbitrary chunk sizes.
 *   If the consumer is slower than the camera, old frames are dropped (only the newest
 *   is kept) and counted in `stats.dropped`: a QR scanner wants the freshest frame.
 * - When the capture dies (process exits, device unplugged) the pending and later
 *   `next()` calls reject with `TransportError` (code `CAPTURE_DIED`) with the exit
 *   code / stderr tail in `details`.
 * - `stop()` rejects a pending `next()` with `CanceledError`; it is idempotent.
 */
export interface GrayFrame {
  width: number;
  height: number;
  /** width*height bytes, row-major, no padding (stride already removed). */
  data: Uint8Array;
  /** Sequence number from the source, starting at 0. */
  seq: number;
  /** Monotonic capture time in ms. */
  timestampMs: number;
  /** Exposure time in microseconds, when the source knows it. */
  exposureUs?: number;
  /** Analogue gain (1 = unity), when the source knows it. */
  gain?: number;
}

export interface FrameSourceStats {
  received: number;
  dropped: number;
}

export interface FrameSource {
  readonly width: number;
  readonly height: number;
  readonly stats: FrameSourceStats;
  readonly isRunning: boolean;
  start(): Promise<void>;
  next(signal?: AbortSignal): Promise<GrayFrame>;
  stop(): Promise<void>;
}
