/**
 * The QR scanning module: camera frames -> bounded-time decode -> classified payloads,
 * with the fill-light controller fed by every frame's exposure/gain and luminance.
 *
 * Frame dropping: `decode()` is synchronous and bounded (pipeline.ts); while it runs the
 * camera's FrameSource keeps only the newest frame, so a slow decode never builds a
 * backlog - the next frame handed out is the freshest one (`stats.dropped` counts the
 * rest).
 *
 * APIs for the chain (pick one):
 * - `for await (const r of scanner.results(signal))` - every distinct code while the
 *   camera runs (the same code is reported again only after `repeatAfterMs`);
 * - `await scanner.scanOnce({ timeoutMs })` - the first code, then the light goes off
 *   and the camera stops; rejects with `ScanError` `SCAN_TIMEOUT` when nothing came;
 * - `scanner.on('result', cb)` - callbacks alongside either.
 * Capture failures (`CAPTURE_DIED`, `CAPTURE_START`) reject / end the iterator with the
 * camera's `TransportError`; malformed frames are skipped and counted.
 */
import { EventEmitter } from 'node:events';
import { type Camera, type CameraFrame, ImageInputError, imageFileToGray, imageToGray } from '@handset/device-drivers/camera';
import { type Clock, systemClock } from '@handset/device-drivers/core';
import type { FillLightController } from '@handset/device-drivers/fill-light';
import { type ClassifiedPayload, type ClassifyParsers, classifyPayload, protocolParsers } from './classify';
import { ScanError } from './errors';
import type { Gray } from './gray';
import type { DecodeOutcome, QrDecoder, StageName } from './pipeline';

/** One code seen by the camera. */
export interface ScanResult {
  payload: ClassifiedPayload;
  /** Raw decoded text and bytes. */
  text: string;
  bytes: Uint8Array;
  stage: StageName;
  /** Decode time of the frame that produced it. */
  decodeMs: number;
  frameSeq: number;
  /** Frames decoded since the scan started (including this one). */
  framesSeen: number;
  /** Camera time of the frame. */
  timestampMs: number;
  corners: Array<{ x: number; y: number }>;
}

export interface ScannerStats {
  frames: number;
  hits: number;
  dropped: number;
  rejected: number;
  /** Slowest decode seen (ms). */
  maxDecodeMs: number;
}

export interface ScannerEvents {
  result: [ScanResult];
  frame: [CameraFrame, DecodeOutcome];
}

export interface QrScannerOptions {
  camera: Camera;
  decoder: QrDecoder;
  /** Fill-light controller; when present it sees every frame and is idled at the end. */
  light?: FillLightController;
  /** Parsers for classification. Default: the protocol's (`protocolParsers`). */
  parsers?: ClassifyParsers;
  /** Report the same text again only after this long. Default 2000 ms. */
  repeatAfterMs?: number;
  clock?: Clock;
}

export class QrScanner extends EventEmitter<ScannerEvents> {
  private readonly camera: Camera;
  private readonly decoder: QrDecoder;
  private readonly light: FillLightController | undefined;
  private readonly parsers: ClassifyParsers;
  private readonly repeatAfterMs: number;
  private readonly clock: Clock;
  private frames = 0;
  private hits = 0;
  private maxDecodeMs = 0;

  constructor(options: QrScannerOptions) {
    super();
    this.camera = options.camera;
    this.decoder = options.decoder;
    this.light = options.light;
    this.parsers = options.parsers ?? protocolParsers;
    this.repeatAfterMs = options.repeatAfterMs ?? 2000;
    this.clock = options.clock ?? systemClock;
  }

  get stats(): ScannerStats {
    const c = this.camera.stats;
    return { frames: this.frames, hits: this.hits, dropped: c.dropped, rejected: c.rejected, maxDecodeMs: this.maxDecodeMs };
  }

  /**
   * Runs the camera and yields every distinct code until `signal` aborts (returns
   * quietly) or the capture fails (throws). Starts and stops the camera; idles the light.
   */
  async *results(signal?: AbortSignal): AsyncGenerator<ScanResult> {
    const last = new Map<string, number>();
    this.decoder.reset();
    let seen = 0;
    let decoded: boolean | undefined;
    await this.camera.start();
    try {
      for await (const frame of this.camera.frames(signal)) {
        await this.light?.update(decoded === undefined ? frame : { ...frame, decoded });
        const out = this.decoder.decode(frame);
        decoded = out.hit !== undefined;
        seen++;
        this.frames++;
        this.maxDecodeMs = Math.max(this.maxDecodeMs, out.ms);
        this.emit('frame', frame, out);
        const hit = out.hit;
        if (!hit) continue;
        const now = this.clock.monotonic();
        const prev = last.get(hit.text);
        if (prev !== undefined && now - prev < this.repeatAfterMs) continue;
        last.set(hit.text, now);
        this.hits++;
        const result: ScanResult = {
          payload: classifyPayload(hit.text, hit.bytes, this.parsers),
          text: hit.text,
          bytes: hit.bytes,
          stage: hit.stage,
          decodeMs: out.ms,
          frameSeq: frame.seq,
          framesSeen: seen,
          timestampMs: frame.timestampMs,
          corners: hit.corners,
        };
        this.emit('result', result);
        yield result;
      }
    } finally {
      await this.light?.idle();
      await this.camera.stop();
    }
  }

  /**
   * Scans until the first code, at most `timeoutMs` (on the injected clock) or
   * `maxFrames` frames. Rejects with `ScanError` `SCAN_TIMEOUT` when nothing decoded.
   */
  async scanOnce(options: { timeoutMs?: number; maxFrames?: number; signal?: AbortSignal } = {}): Promise<ScanResult> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const cancel =
      options.timeoutMs === undefined ? undefined : this.clock.setTimeout(() => ac.abort('timeout'), options.timeoutMs);
    const start = this.frames;
    let counter: ((f: CameraFrame) => void) | undefined;
    if (options.maxFrames !== undefined) {
      const max = options.maxFrames;
      counter = () => {
        if (this.frames - start >= max - 1) ac.abort('max-frames');
      };
      this.on('frame', counter);
    }
    try {
      for await (const r of this.results(ac.signal)) return r;
      if (options.signal?.aborted) throw new ScanError('CANCELED', 'scan canceled');
      throw new ScanError(
        'SCAN_TIMEOUT',
        `no QR code within ${options.timeoutMs ?? '-'} ms / ${options.maxFrames ?? '-'} frames`,
        {
          details: { frames: this.frames - start },
        },
      );
    } finally {
      cancel?.();
      options.signal?.removeEventListener('abort', onAbort);
      if (counter) this.off('frame', counter);
      ac.abort('done');
    }
  }
}

/** The result of decoding one image (file or buffer) through the camera pipeline. */
export interface ImageScanResult {
  payload?: ClassifiedPayload;
  text?: string;
  stage?: StageName;
  width: number;
  height: number;
  /** Decode time (excluding image decoding). */
  decodeMs: number;
  /** Image decoding time (sharp). */
  loadMs: number;
}

/**
 * Decodes the QR in an image file (PNG/JPEG/...) with the same decoder as the camera
 * path. "No code" is a clean result (no `payload`); a file that is not an image throws
 * `ImageInputError` (`IMAGE_INVALID` / `IMAGE_UNREADABLE`).
 */
export async function scanImageFile(
  path: string,
  decoder: QrDecoder,
  parsers: ClassifyParsers = protocolParsers,
): Promise<ImageScanResult> {
  const t0 = performance.now();
  const img = await imageFileToGray(path);
  return scanGray(img, decoder, parsers, performance.now() - t0);
}

/** Like `scanImageFile` for encoded image bytes. */
export async function scanImageBytes(
  bytes: Uint8Array,
  decoder: QrDecoder,
  parsers: ClassifyParsers = protocolParsers,
): Promise<ImageScanResult> {
  const t0 = performance.now();
  const img = await imageToGray(bytes);
  return scanGray(img, decoder, parsers, performance.now() - t0);
}

function scanGray(img: Gray, decoder: QrDecoder, parsers: ClassifyParsers, loadMs: number): ImageScanResult {
  decoder.reset();
  const out = decoder.decode(img);
  const base = { width: img.width, height: img.height, decodeMs: out.ms, loadMs };
  if (!out.hit) return base;
  return { ...base, text: out.hit.text, stage: out.hit.stage, payload: classifyPayload(out.hit.text, out.hit.bytes, parsers) };
}

export { ImageInputError };
