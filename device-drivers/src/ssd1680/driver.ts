/**
 * SSD1680 e-ink driver over `Spi` + `GpioLine`s (DC, RST, BUSY, optional PWR).
 *
 * Sequences follow shared/reference/eink-ssd1680.md §6 (Waveshare 2.13" V4 / GxEPD2):
 * - init: PWR on, hardware reset, wait BUSY, 0x12, wait BUSY, 0x01, 0x11 03, full window
 *   and counters, 0x3C 05, 0x21 00 80, 0x18 80, wait BUSY.
 * - full: window + counters, 0x24 frame, counters, 0x26 frame (both planes equal, the
 *   §6.1 fix), 0x22 F7, 0x20, wait BUSY. Fast: the V4 `init_fast` loads (0x22 B1, 0x1A
 *   64 00, 0x22 91) after init, then the planes and 0x22 C7.
 * - partial: 0x3C 80 once, window (8-px aligned in X) = the changed bytes plus the window
 *   where 0x26 is stale from the previous partial, 0x26 = what is on the glass,
 *   0x24 = the new frame, 0x22 FF, 0x20, wait BUSY. No short reset before a partial
 *   (GxEPD2 style), so the controller keeps its registers and RAM.
 *   Panels without an OTP mode-2 waveform (2.9" V2) need `partialLut` (159 bytes:
 *   0x32 + 0x3F/0x03/0x04/0x2C); without it every refresh is full.
 * - sleep: 0x10 01; the next update wakes by hardware reset and refreshes fully.
 *
 * Policy: the last frame on the glass is kept (host copy) so every partial has a correct
 * previous plane; after `maxPartials` (default 5) partials, after a wake, and after any
 * error, the next refresh is full. A failed SPI write or a BUSY timeout rejects with a
 * typed error; the panel shows its previous image (nothing is activated half-written)
 * or - after a BUSY timeout - is treated as unknown and refreshed fully from a reset.
 */
import { type Clock, systemClock } from '../core/clock';
import { CanceledError, DeviceTimeoutError, HandsetError, toHandsetError } from '../core/errors';
import type { GpioLevel, GpioLine } from '../transport/gpio';
import type { Spi } from '../transport/spi';
import {
  EinkDisplay,
  type EinkDriverStats,
  type MonoBitmap,
  type Rect,
  type RefreshKind,
  type UpdateInfo,
  type UpdateOptions,
} from './display';
import {
  BORDER_FOLLOW_WHITE,
  BORDER_HOLD,
  Cmd,
  DataEntry,
  DEEP_SLEEP_MODE_1,
  EinkBusError,
  EinkBusyTimeoutError,
  EinkInputError,
  FAST_TEMP_C,
  frameBytes,
  LUT_BLOCK_BYTES,
  PANELS,
  type PanelId,
  type PanelProfile,
  type Rotation,
  TEMP_SENSOR_INTERNAL,
  toNative,
  UpdateSeq,
} from './protocol';

export interface Ssd1680Options {
  spi: Spi;
  /** Data/command select: low = command byte, high = data bytes. */
  dc: GpioLine;
  /** Reset, active low. */
  rst: GpioLine;
  /** BUSY input, high = busy. */
  busy: GpioLine;
  /** HAT rev 2.3 power switch, driven high while in use. */
  pwr?: GpioLine;
  panel?: PanelProfile | PanelId;
  /** Rotation of the logical frame against the panel's native portrait (90: landscape 250x122). */
  rotation?: Rotation;
  clock?: Clock;
  /** Give up waiting for BUSY after this long (GxEPD2: 10 s). */
  busyTimeoutMs?: number;
  /** Partial refreshes allowed between full ones (reference §9: 5). */
  maxPartials?: number;
  /** Mode-2 waveform for panels without one in OTP (159 bytes). */
  partialLut?: Uint8Array;
  /** Largest SPI write; defaults to the bus's `maxTransferSize` (spidev bufsiz). */
  maxChunk?: number;
  /** Name used in errors. Default 'ssd1680'. */
  device?: string;
}

type ByteRect = { x0: number; x1: number; y0: number; y1: number };

export class Ssd1680 extends EinkDisplay {
  readonly panel: PanelProfile;
  readonly rotation: Rotation;
  readonly width: number;
  readonly height: number;
  readonly maxPartials: number;
  readonly busyTimeoutMs: number;
  readonly stats: EinkDriverStats = {
    updates: { full: 0, fast: 0, partial: 0, none: 0 },
    bytesSent: 0,
    busyMs: 0,
    errors: 0,
    wakes: 0,
  };

  private readonly spi: Spi;
  private readonly dc: GpioLine;
  private readonly rst: GpioLine;
  private readonly busyLine: GpioLine;
  private readonly pwr: GpioLine | undefined;
  private readonly clock: Clock;
  private readonly device: string;
  private readonly partialLut: Uint8Array | undefined;
  private readonly chunk: number;

  private chain: Promise<unknown> = Promise.resolve();
  private dcLevel: GpioLevel | undefined;
  private ready = false;
  private asleep = false;
  private forceFull: string | undefined = 'first';
  private shownFrame: MonoBitmap | undefined;
  private shownPlane: Uint8Array | undefined;
  private stale: ByteRect[] = [];
  private partials = 0;
  private borderHeld = false;
  private lutLoaded = false;
  private opBytes = 0;
  private opBusyMs = 0;

  constructor(options: Ssd1680Options) {
    super();
    this.panel = typeof options.panel === 'string' ? PANELS[options.panel] : (options.panel ?? PANELS['2in13']);
    if (!this.panel) throw new EinkInputError(`unknown panel '${String(options.panel)}'`);
    this.rotation = options.rotation ?? 0;
    if (![0, 90, 180, 270].includes(this.rotation)) throw new EinkInputError(`rotation must be 0, 90, 180 or 270`);
    const turned = this.rotation === 90 || this.rotation === 270;
    this.width = turned ? this.panel.height : this.panel.width;
    this.height = turned ? this.panel.width : this.panel.height;
    this.maxPartials = options.maxPartials ?? 5;
    if (!Number.isInteger(this.maxPartials) || this.maxPartials < 0)
      throw new EinkInputError('maxPartials must be a non-negative integer');
    this.busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    this.spi = options.spi;
    this.dc = options.dc;
    this.rst = options.rst;
    this.busyLine = options.busy;
    this.pwr = options.pwr;
    this.clock = options.clock ?? systemClock;
    this.device = options.device ?? 'ssd1680';
    if (options.partialLut && options.partialLut.length !== LUT_BLOCK_BYTES)
      throw new EinkInputError(`partialLut must be ${LUT_BLOCK_BYTES} bytes, got ${options.partialLut.length}`);
    this.partialLut = options.partialLut;
    this.chunk = Math.max(1, Math.min(options.maxChunk ?? this.spi.maxTransferSize, this.spi.maxTransferSize));
  }

  /** The frame on the glass as far as the driver knows; undefined after power-up or an error mid-refresh. */
  get shown(): MonoBitmap | undefined {
    return this.shownFrame?.clone();
  }

  /** Partial refreshes since the last full one. */
  get partialsSinceFull(): number {
    return this.partials;
  }

  /** True between `sleep()` and the next update. */
  get sleeping(): boolean {
    return this.asleep;
  }

  init(signal?: AbortSignal): Promise<void> {
    return this.serial(async () => {
      await this.initController(signal);
    });
  }

  update(frame: MonoBitmap, options: UpdateOptions = {}): Promise<UpdateInfo> {
    return this.serial(() => this.doUpdate(frame, options));
  }

  /** Full refresh to white. */
  clear(): Promise<UpdateInfo> {
    return this.update(this.blank(), { mode: 'full' });
  }

  sleep(): Promise<void> {
    return this.serial(async () => {
      if (this.asleep || !this.ready) return;
      try {
        await this.command(Cmd.DEEP_SLEEP, [DEEP_SLEEP_MODE_1]);
      } catch (err) {
        throw this.failed(err, false);
      }
      this.asleep = true;
      this.ready = false;
      this.emit('sleep');
    });
  }

  /** Puts the panel to deep sleep (it keeps its image); does not close the bus or lines it was given. */
  async close(): Promise<void> {
    await this.sleep().catch(() => undefined);
  }

  // ------------------------------------------------------------------ update

  private async doUpdate(frame: MonoBitmap, options: UpdateOptions): Promise<UpdateInfo> {
    const plane = this.pack(frame);
    this.opBytes = 0;
    this.opBusyMs = 0;
    const asked = options.mode ?? 'auto';
    let kind: RefreshKind;
    let reason: string | undefined;
    let activated = false;
    try {
      if (this.asleep) {
        this.asleep = false;
        this.forceFull = 'wake';
        this.stats.wakes++;
        this.emit('wake');
      }
      if (!this.ready) await this.initController(options.signal);
      const canPartial = this.panel.otpPartialWaveform || this.partialLut !== undefined;
      if (asked === 'full' || asked === 'fast') kind = asked;
      else if (this.forceFull || !this.shownPlane) {
        kind = 'full';
        reason = this.forceFull ?? 'first';
      } else if (this.partials >= this.maxPartials) {
        kind = 'full';
        reason = 'limit';
      } else if (!canPartial) {
        kind = 'full';
        reason = 'no-partial-waveform';
      } else kind = 'partial';

      let window: Rect | undefined;
      let windows: Rect[] | undefined;
      if (kind === 'partial') {
        if (!this.diff(plane))
          return this.finish({ kind: 'none', bytes: 0, busyMs: 0, partialsSinceFull: this.partials }, frame, plane);
        const rects = this.windows(plane);
        windows = rects.map(toPixels);
        window = toPixels(rects.reduce(union));
        await this.partialSequence(plane, rects, () => {
          activated = true;
        });
        this.stale = rects;
        this.partials++;
      } else {
        if (asked === 'auto' && reason === undefined && this.shownPlane && !this.diff(plane))
          return this.finish({ kind: 'none', bytes: 0, busyMs: 0, partialsSinceFull: this.partials }, frame, plane);
        await this.fullSequence(plane, kind === 'fast', () => {
          activated = true;
        });
        this.stale = [];
        this.partials = 0;
        this.forceFull = undefined;
      }
      return this.finish(
        { kind, reason, window, windows, bytes: this.opBytes, busyMs: this.opBusyMs, partialsSinceFull: this.partials },
        frame,
        plane,
      );
    } catch (err) {
      throw this.failed(err, activated);
    }
  }

  private finish(info: UpdateInfo, frame: MonoBitmap, plane: Uint8Array): UpdateInfo {
    this.shownFrame = frame.clone();
    this.shownPlane = plane;
    this.stats.updates[info.kind]++;
    this.stats.bytesSent += info.bytes;
    this.stats.busyMs += info.busyMs;
    this.emit('update', info);
    return info;
  }

  /** After any failure: reset + full refresh next time; forget the glass if a refresh was started. */
  private failed(err: unknown, activated: boolean): HandsetError {
    this.stats.errors++;
    this.stats.bytesSent += this.opBytes;
    this.stats.busyMs += this.opBusyMs;
    this.ready = false;
    this.dcLevel = undefined;
    this.forceFull = 'recover';
    this.lutLoaded = false;
    if (activated) {
      this.shownFrame = undefined;
      this.shownPlane = undefined;
    }
    const e =
      err instanceof HandsetError && !(err.constructor === HandsetError)
        ? err
        : new EinkBusError(`e-ink update failed: ${err instanceof Error ? err.message : String(err)}`, {
            device: this.device,
            cause: err,
          });
    this.emit('error', e);
    return e;
  }

  // ------------------------------------------------------------------ sequences

  private async initController(signal?: AbortSignal): Promise<void> {
    try {
      if (this.pwr) await this.pwr.write(1);
      await this.hardwareReset();
      await this.waitBusy(signal);
      await this.command(Cmd.SW_RESET);
      await this.waitBusy(signal);
      await this.command(Cmd.DRIVER_OUTPUT, this.panel.driverOutput);
      await this.command(Cmd.DATA_ENTRY_MODE, [DataEntry.XINC_YINC_X]);
      await this.setWindow(this.fullRect());
      await this.setCursor(0, 0);
      await this.command(Cmd.BORDER_WAVEFORM, [BORDER_FOLLOW_WHITE]);
      await this.command(Cmd.UPDATE_CONTROL_1, [0x00, 0x80]);
      await this.command(Cmd.TEMP_SENSOR, [TEMP_SENSOR_INTERNAL]);
      await this.waitBusy(signal);
    } catch (err) {
      this.ready = false;
      throw err;
    }
    this.borderHeld = false;
    this.lutLoaded = false;
    this.asleep = false;
    this.ready = true;
    // RAM planes no longer match anything we know of
    this.stale = [];
    if (!this.forceFull) this.forceFull = 'reset';
  }

  private async hardwareReset(): Promise<void> {
    const t = this.panel.timings;
    await this.rst.write(1);
    await this.clock.sleep(t.resetHighMs);
    await this.rst.write(0);
    await this.clock.sleep(t.resetLowMs);
    await this.rst.write(1);
    await this.clock.sleep(t.resetAfterMs);
  }

  private async fullSequence(plane: Uint8Array, fast: boolean, onActivate: () => void): Promise<void> {
    const all = this.fullRect();
    if (fast) {
      await this.initController();
      await this.activate(UpdateSeq.LOAD_TEMP);
      await this.command(Cmd.WRITE_TEMP, [FAST_TEMP_C, 0x00]);
      await this.activate(UpdateSeq.LOAD_TEMP_LUT);
    }
    if (this.borderHeld) {
      await this.command(Cmd.BORDER_WAVEFORM, [BORDER_FOLLOW_WHITE]);
      this.borderHeld = false;
    }
    await this.setWindow(all);
    await this.setCursor(0, 0);
    await this.command(Cmd.WRITE_RAM_BW, this.slice(plane, all));
    await this.setCursor(0, 0);
    await this.command(Cmd.WRITE_RAM_RED, this.slice(plane, all));
    onActivate();
    await this.activate(fast ? UpdateSeq.FAST : UpdateSeq.FULL);
    this.lutLoaded = false;
  }

  private async partialSequence(plane: Uint8Array, rects: ByteRect[], onActivate: () => void): Promise<void> {
    const old = this.shownPlane as Uint8Array;
    const custom = !this.panel.otpPartialWaveform && this.partialLut;
    if (custom && !this.lutLoaded) {
      const lut = this.partialLut as Uint8Array;
      await this.command(Cmd.WRITE_LUT, lut.subarray(0, 153));
      await this.command(Cmd.END_OPTION, [lut[153] ?? 0]);
      await this.command(Cmd.GATE_VOLTAGE, [lut[154] ?? 0]);
      await this.command(Cmd.SOURCE_VOLTAGE, lut.subarray(155, 158));
      await this.command(Cmd.VCOM, [lut[158] ?? 0]);
      this.lutLoaded = true;
    }
    if (!this.borderHeld) {
      await this.command(Cmd.BORDER_WAVEFORM, [BORDER_HOLD]);
      this.borderHeld = true;
    }
    if (custom) await this.activate(UpdateSeq.POWER_ON);
    for (const w of rects) {
      await this.setWindow(w);
      await this.setCursor(w.x0, w.y0);
      await this.command(Cmd.WRITE_RAM_RED, this.slice(old, w));
      await this.setCursor(w.x0, w.y0);
      await this.command(Cmd.WRITE_RAM_BW, this.slice(plane, w));
    }
    onActivate();
    await this.activate(custom ? UpdateSeq.PARTIAL_CUSTOM_LUT : UpdateSeq.PARTIAL);
  }

  private async activate(seq: number): Promise<void> {
    await this.command(Cmd.UPDATE_CONTROL_2, [seq]);
    await this.command(Cmd.MASTER_ACTIVATION);
    await this.waitBusy();
  }

  private async setWindow(w: ByteRect): Promise<void> {
    await this.command(Cmd.RAM_X_WINDOW, [w.x0, w.x1]);
    await this.command(Cmd.RAM_Y_WINDOW, [w.y0 & 0xff, w.y0 >> 8, w.y1 & 0xff, w.y1 >> 8]);
  }

  private async setCursor(xByte: number, y: number): Promise<void> {
    await this.command(Cmd.RAM_X_COUNTER, [xByte]);
    await this.command(Cmd.RAM_Y_COUNTER, [y & 0xff, y >> 8]);
  }

  // ------------------------------------------------------------------ bus

  private async command(code: number, data?: ArrayLike<number>): Promise<void> {
    await this.setDc(0);
    await this.write(Uint8Array.of(code));
    if (data && data.length > 0) {
      await this.setDc(1);
      const bytes = data instanceof Uint8Array ? data : Uint8Array.from(data);
      for (let o = 0; o < bytes.length; o += this.chunk) await this.write(bytes.subarray(o, o + this.chunk));
    }
  }

  private async setDc(level: GpioLevel): Promise<void> {
    if (this.dcLevel === level) return;
    this.dcLevel = undefined;
    try {
      await this.dc.write(level);
    } catch (err) {
      throw new EinkBusError(`DC line write failed: ${(err as Error).message}`, { device: this.device, cause: err });
    }
    this.dcLevel = level;
  }

  private async write(bytes: Uint8Array): Promise<void> {
    try {
      await this.spi.write(bytes);
    } catch (err) {
      if (err instanceof CanceledError) throw err;
      throw new EinkBusError(`SPI write of ${bytes.length} bytes failed: ${(err as Error).message}`, {
        device: this.device,
        cause: err,
      });
    }
    this.opBytes += bytes.length;
  }

  private async waitBusy(signal?: AbortSignal): Promise<void> {
    const t0 = this.clock.monotonic();
    try {
      await this.busyLine.waitFor(0, this.busyTimeoutMs, signal);
    } catch (err) {
      if (err instanceof DeviceTimeoutError)
        throw new EinkBusyTimeoutError(`BUSY stayed high for ${this.busyTimeoutMs} ms`, this.busyTimeoutMs, {
          device: this.device,
          cause: err,
        });
      if (err instanceof CanceledError) throw err;
      throw toHandsetError(err, this.device);
    } finally {
      this.opBusyMs += this.clock.monotonic() - t0;
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------------ pixels

  private fullRect(): ByteRect {
    return { x0: 0, x1: this.panel.bytesPerRow - 1, y0: 0, y1: this.panel.height - 1 };
  }

  /** Logical frame -> controller plane (1 = white, MSB leftmost, padding bits white). */
  pack(frame: MonoBitmap): Uint8Array {
    if (frame.width !== this.width || frame.height !== this.height)
      throw new EinkInputError(
        `frame is ${frame.width}x${frame.height}, the display is ${this.width}x${this.height} (rotation ${this.rotation})`,
        { device: this.device },
      );
    const bpr = this.panel.bytesPerRow;
    const W = this.panel.width;
    const H = this.panel.height;
    const plane = new Uint8Array(frameBytes(this.panel)).fill(0xff);
    const src = frame.data;
    for (let y = 0; y < frame.height; y++)
      for (let x = 0; x < frame.width; x++) {
        if (!src[y * frame.width + x]) continue;
        const [nx, ny] = toNative(x, y, this.rotation, W, H);
        const i = ny * bpr + (nx >> 3);
        plane[i] = (plane[i] ?? 0xff) & ~(0x80 >> (nx & 7));
      }
    return plane;
  }

  private diff(plane: Uint8Array): ByteRect | undefined {
    const old = this.shownPlane;
    if (!old) return { ...this.fullRect() };
    const bpr = this.panel.bytesPerRow;
    let x0 = bpr;
    let x1 = -1;
    let y0 = -1;
    let y1 = -1;
    for (let y = 0; y < this.panel.height; y++)
      for (let x = 0; x < bpr; x++) {
        const i = y * bpr + x;
        if (plane[i] === old[i]) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y0 < 0) y0 = y;
        y1 = y;
      }
    return x1 < 0 ? undefined : { x0, x1, y0, y1 };
  }

  /**
   * The RAM windows for a partial refresh: per native row, the changed byte range plus
   * the ranges whose old plane is stale from the previous partial; rows are grouped into
   * rectangles greedily, merging while one rectangle costs fewer bytes (both planes) than
   * two (the window and counter commands of one more window).
   */
  private windows(plane: Uint8Array): ByteRect[] {
    const old = this.shownPlane as Uint8Array;
    const bpr = this.panel.bytesPerRow;
    const H = this.panel.height;
    const lo = new Int16Array(H).fill(bpr);
    const hi = new Int16Array(H).fill(-1);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < bpr; x++) {
        const i = y * bpr + x;
        if (plane[i] === old[i]) continue;
        if (x < (lo[y] ?? bpr)) lo[y] = x;
        hi[y] = x;
      }
    for (const r of this.stale)
      for (let y = r.y0; y <= r.y1; y++) {
        lo[y] = Math.min(lo[y] ?? bpr, r.x0);
        hi[y] = Math.max(hi[y] ?? -1, r.x1);
      }
    const area = (r: ByteRect) => (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1);
    const rects: ByteRect[] = [];
    let cur: ByteRect | undefined;
    for (let y = 0; y < H; y++) {
      const h = hi[y] ?? -1;
      if (h < 0) continue;
      const row = { x0: lo[y] ?? 0, x1: h, y0: y, y1: y };
      if (!cur) {
        cur = row;
        continue;
      }
      const merged = union(cur, row);
      if (2 * area(merged) <= 2 * (area(cur) + area(row)) + WINDOW_OVERHEAD) cur = merged;
      else {
        rects.push(cur);
        cur = row;
      }
    }
    if (cur) rects.push(cur);
    if (rects.length > MAX_WINDOWS) return [rects.reduce(union)];
    return rects;
  }

  private slice(plane: Uint8Array, w: ByteRect): Uint8Array {
    const bpr = this.panel.bytesPerRow;
    const cols = w.x1 - w.x0 + 1;
    const out = new Uint8Array(cols * (w.y1 - w.y0 + 1));
    for (let y = w.y0; y <= w.y1; y++) out.set(plane.subarray(y * bpr + w.x0, y * bpr + w.x1 + 1), (y - w.y0) * cols);
    return out;
  }
}

/** Bytes of the 0x44/0x45/0x4E/0x4F commands one extra window costs. */
const WINDOW_OVERHEAD = 21;
const MAX_WINDOWS = 16;

function toPixels(r: ByteRect): Rect {
  return { x: r.x0 * 8, y: r.y0, w: (r.x1 - r.x0 + 1) * 8, h: r.y1 - r.y0 + 1 };
}

function union(a: ByteRect, b: ByteRect): ByteRect {
  return { x0: Math.min(a.x0, b.x0), x1: Math.max(a.x1, b.x1), y0: Math.min(a.y0, b.y0), y1: Math.max(a.y1, b.y1) };
}
