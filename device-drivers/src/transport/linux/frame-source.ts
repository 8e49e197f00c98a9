import { type ChildProcess, spawn } from 'node:child_process';
import { type Clock, systemClock } from '../../core/clock';
import { CanceledError, TransportError, ValidationError } from '../../core/errors';
import type { FrameSource, FrameSourceStats, GrayFrame } from '../frame-source';

/**
 * A capture command writing raw frames to stdout, back to back, no headers.
 * - `gray`: width*height bytes per frame (rows padded to `stride` when given).
 * - `yuv420`: planar YUV 4:2:0, Y plane of `stride`*height bytes, then U and V planes of
 *   (stride/2)*ceil(height/2) bytes each. Only the Y plane is used: it is the gray image.
 */
export interface CaptureCommand {
  cmd: string;
  args: string[];
  width: number;
  height: number;
  pixelFormat: 'gray' | 'yuv420';
  /** Bytes per Y row on the wire (>= width). Default width. */
  stride?: number;
}

export interface RpicamVidOptions {
  width: number;
  height: number;
  fps: number;
  /** Camera index (--camera). */
  camera?: number;
  /** Fixed exposure in µs (--shutter); omitted = auto exposure. */
  shutterUs?: number;
  /** Fixed analogue gain (--gain). */
  gain?: number;
  /** Mains flicker period for AE (--flicker-period), e.g. '10000us' for 50 Hz. */
  flickerPeriod?: string;
  /**
   * Y row stride in bytes. Default: width rounded up to a multiple of 64, as the Pi ISP
   * pads rows (a 480-wide request gave a 512-byte stride; reference §1.2). Confirm on
   * hardware and override if a camera/kernel pads differently.
   */
  stride?: number;
  /** Binary name; default 'rpicam-vid' (older images: 'libcamera-vid'). */
  bin?: string;
  extraArgs?: string[];
}

/** `rpicam-vid -t 0 -n --codec yuv420 --width W --height H --framerate F -o -` (CSI camera). */
export function rpicamVidCommand(o: RpicamVidOptions): CaptureCommand {
  const args = ['-t', '0', '-n', '--codec', 'yuv420', '--width', String(o.width), '--height', String(o.height)];
  args.push('--framerate', String(o.fps));
  if (o.camera !== undefined) args.push('--camera', String(o.camera));
  if (o.shutterUs !== undefined) args.push('--shutter', String(o.shutterUs));
  if (o.gain !== undefined) args.push('--gain', String(o.gain));
  if (o.flickerPeriod !== undefined) args.push('--flicker-period', o.flickerPeriod);
  args.push(...(o.extraArgs ?? []), '-o', '-');
  return {
    cmd: o.bin ?? 'rpicam-vid',
    args,
    width: o.width,
    height: o.height,
    pixelFormat: 'yuv420',
    stride: o.stride ?? Math.ceil(o.width / 64) * 64,
  };
}

export interface FfmpegV4l2Options {
  /** /dev/videoN of a UVC webcam. */
  device: string;
  width: number;
  height: number;
  fps: number;
  /** Camera-side format: 'yuyv422' (default) or 'mjpeg' for high resolutions. */
  inputFormat?: string;
  bin?: string;
}

/** `ffmpeg -f v4l2 -input_format yuyv422 -video_size WxH -framerate F -i DEV -f rawvideo -pix_fmt gray -` (USB webcam). */
export function ffmpegV4l2Command(o: FfmpegV4l2Options): CaptureCommand {
  return {
    cmd: o.bin ?? 'ffmpeg',
    args: [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'v4l2',
      '-input_format',
      o.inputFormat ?? 'yuyv422',
      '-video_size',
      `${o.width}x${o.height}`,
      '-framerate',
      String(o.fps),
      '-i',
      o.device,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      '-',
    ],
    width: o.width,
    height: o.height,
    pixelFormat: 'gray',
  };
}

/** Bytes of one frame on the wire for a capture command. */
export function frameBytes(c: Pick<CaptureCommand, 'width' | 'height' | 'pixelFormat' | 'stride'>): number {
  const stride = c.stride ?? c.width;
  if (c.pixelFormat === 'gray') return stride * c.height;
  return stride * c.height + 2 * Math.ceil(stride / 2) * Math.ceil(c.height / 2);
}

export interface ProcessFrameSourceOptions {
  /** How long `start()` waits for the first whole frame. Default 10,000 ms. */
  startTimeoutMs?: number;
  /** Clock for frame timestamps and the start timeout. Default `systemClock`. */
  clock?: Clock;
  /** Name used in errors. Default the command name. */
  name?: string;
  /** Bytes of stderr kept for error details. Default 4096. */
  stderrTailBytes?: number;
}

/**
 * `FrameSource` over a child process writing raw frames to stdout (rpicam-vid, ffmpeg).
 *
 * Reassembles frames from arbitrary stdout chunks (they never align with frames),
 * keeps only the newest whole frame (older unread frames count in `stats.dropped`),
 * and strips the row stride and chroma planes lazily when a frame is handed out.
 * `start()` resolves when the first whole frame has arrived; it rejects with
 * CAPTURE_START when the command cannot be spawned, exits first, or stays silent past
 * `startTimeoutMs`. After the process exits, the last unread frame is still handed out,
 * then `next()` rejects with CAPTURE_DIED ({exitCode, signal, stderr} in details).
 */
export class ProcessFrameSource implements FrameSource {
  readonly width: number;
  readonly height: number;
  readonly name: string;
  readonly stats: FrameSourceStats = { received: 0, dropped: 0 };
  private readonly command: CaptureCommand;
  private readonly options: ProcessFrameSourceOptions;
  private readonly clock: Clock;
  private readonly stride: number;
  private readonly frameSize: number;
  private proc: ChildProcess | undefined;
  private running = false;
  private stopping = false;
  private cur: Buffer;
  private curLen = 0;
  private seq = 0;
  private latest: { raw: Buffer; seq: number; timestampMs: number } | undefined;
  private pending: { resolve: (f: GrayFrame) => void; reject: (e: unknown) => void; cleanup: () => void } | undefined;
  private died: TransportError | undefined;
  private stderrTail = '';
  private firstFrame: (() => void) | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(command: CaptureCommand, options: ProcessFrameSourceOptions = {}) {
    const { width, height } = command;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
      throw new ValidationError(`frame size must be positive integers, got ${width}x${height}`);
    const stride = command.stride ?? width;
    if (!Number.isInteger(stride) || stride < width)
      throw new ValidationError(`stride ${stride} must be an integer >= width ${width}`);
    this.command = command;
    this.options = options;
    this.width = width;
    this.height = height;
    this.stride = stride;
    this.frameSize = frameBytes(command);
    this.cur = Buffer.allocUnsafe(this.frameSize);
    this.clock = options.clock ?? systemClock;
    this.name = options.name ?? `capture:${command.cmd}`;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Process id of the running capture command (for supervision and fault tests). */
  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  /** Bytes per frame on the wire. */
  get bytesPerFrame(): number {
    return this.frameSize;
  }

  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.died = undefined;
    this.latest = undefined;
    this.curLen = 0;
    this.seq = 0;
    this.stats.received = 0;
    this.stats.dropped = 0;
    this.stderrTail = '';
    this.stopping = false;
    const cmdline = [this.command.cmd, ...this.command.args].join(' ');
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: TransportError) => {
        if (settled) return;
        settled = true;
        cancelTimer();
        this.firstFrame = undefined;
        reject(e);
      };
      const cancelTimer = this.clock.setTimeout(() => {
        const e = this.startError(`no frame from '${cmdline}' within ${timeoutMs} ms`, null, null);
        this.stopping = true;
        this.running = false;
        fail(e);
        void this.kill();
      }, timeoutMs);
      this.firstFrame = () => {
        if (settled) return;
        settled = true;
        cancelTimer();
        resolve();
      };

      const proc = spawn(this.command.cmd, this.command.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      this.running = true;
      this.exited = new Promise<void>((done) => {
        proc.once('close', (code, signal) => {
          this.onExit(proc, code, signal);
          if (!settled) fail(this.startError(`'${cmdline}' exited before the first frame`, code, signal));
          done();
        });
      });
      proc.once('error', (err) => {
        fail(
          new TransportError(`cannot start '${this.command.cmd}': ${err.message}`, {
            code: 'CAPTURE_START',
            device: this.name,
            cause: err,
            details: { exitCode: null, stderr: '' },
          }),
        );
      });
      proc.stdout?.on('data', (chunk: Buffer) => this.onData(proc, chunk));
      proc.stderr?.on('data', (chunk: Buffer) => {
        const max = this.options.stderrTailBytes ?? 4096;
        this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-max);
      });
    });
  }

  next(signal?: AbortSignal): Promise<GrayFrame> {
    if (this.pending)
      return Promise.reject(new TransportError('a next() is already pending', { code: 'READ_PENDING', device: this.name }));
    const shot = this.latest;
    if (shot) {
      this.latest = undefined;
      return Promise.resolve(this.toFrame(shot));
    }
    if (this.died) return Promise.reject(this.died);
    if (!this.running)
      return Promise.reject(new TransportError(`${this.name} is not started`, { code: 'NOT_OPEN', device: this.name }));
    if (signal?.aborted) return Promise.reject(new CanceledError('next() aborted', { device: this.name, cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pending = undefined;
        reject(new CanceledError('next() aborted', { device: this.name, cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
    });
  }

  async stop(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(new CanceledError(`${this.name} stopped`, { device: this.name }));
    this.latest = undefined;
    if (!this.running) return;
    this.stopping = true;
    this.running = false;
    await this.kill();
  }

  private async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return this.exited;
    proc.kill('SIGTERM');
    let t: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((r) => {
        t = setTimeout(() => r(true), 2000);
      }),
    ]);
    clearTimeout(t);
    if (timedOut) {
      proc.kill('SIGKILL');
      await this.exited;
    }
  }

  private onData(proc: ChildProcess, chunk: Buffer): void {
    if (proc !== this.proc) return;
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(this.frameSize - this.curLen, chunk.length - off);
      chunk.copy(this.cur, this.curLen, off, off + n);
      this.curLen += n;
      off += n;
      if (this.curLen === this.frameSize) {
        const raw = this.cur;
        this.cur = Buffer.allocUnsafe(this.frameSize);
        this.curLen = 0;
        this.onFrame(raw);
      }
    }
  }

  private onFrame(raw: Buffer): void {
    if (!this.running) return;
    const shot = { raw, seq: this.seq++, timestampMs: this.clock.monotonic() };
    this.stats.received++;
    const first = this.firstFrame;
    this.firstFrame = undefined;
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      p.cleanup();
      p.resolve(this.toFrame(shot));
    } else {
      if (this.latest) this.stats.dropped++;
      this.latest = shot;
    }
    first?.();
  }

  private onExit(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (proc !== this.proc) return;
    const wasStopping = this.stopping;
    this.running = false;
    if (wasStopping) return;
    const tail = this.stderrTail.trim();
    const lastLine = tail.split('\n').pop() ?? '';
    const how = signal ? `killed by ${signal}` : code === 0 ? 'ended (exit code 0)' : `exited with code ${code}`;
    this.died = new TransportError(`capture '${this.command.cmd}' ${how}${lastLine ? `: ${lastLine}` : ''}`, {
      code: 'CAPTURE_DIED',
      device: this.name,
      details: { exitCode: code, signal, stderr: tail, partialFrameBytes: this.curLen },
    });
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(this.died);
  }

  private startError(message: string, code: number | null, signal: NodeJS.Signals | null): TransportError {
    const tail = this.stderrTail.trim();
    return new TransportError(`${message}${tail ? `: ${tail.split('\n').pop()}` : ''}`, {
      code: 'CAPTURE_START',
      device: this.name,
      details: { exitCode: code, signal, stderr: tail },
    });
  }

  private toFrame(shot: { raw: Buffer; seq: number; timestampMs: number }): GrayFrame {
    const { width, height, stride } = this;
    let data: Uint8Array;
    if (stride === width) {
      data = new Uint8Array(shot.raw.buffer, shot.raw.byteOffset, width * height);
    } else {
      data = new Uint8Array(width * height);
      for (let y = 0; y < height; y++) data.set(shot.raw.subarray(y * stride, y * stride + width), y * width);
    }
    return { width, height, data, seq: shot.seq, timestampMs: shot.timestampMs };
  }
}
