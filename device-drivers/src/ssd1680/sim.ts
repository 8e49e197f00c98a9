/**
 * A simulated SSD1680 panel (STYLE habits 3-6). Bus face: an `SpiPeer` that sees every
 * byte with the DC level, plus the RST / PWR lines it watches and the BUSY line it drives
 * (all `SimGpioLine`s). Control face: `snapshot()`, `pixels()`, `stats`, `faultLog`,
 * `faults` (overrides that fall through).
 *
 * What it models (shared/reference/eink-ssd1680.md §12):
 * - the command byte stream exactly: commands with DC low, parameters with DC high, the
 *   parameter counts of `PARAM_BYTES`; unknown commands, short parameter lists, writes
 *   while BUSY, asleep, unpowered or too soon after reset are recorded as faults;
 * - two RAM planes (0x24 new / 0x26 old) of the controller's 176 x 296 RAM, the X/Y
 *   windows (X in bytes), address counters and the data-entry mode's increment directions;
 * - the glass changes only on 0x20 (running the 0x22 sequence): mode 1 shows the 0x24
 *   plane; mode 2 drives only pixels where 0x26 differs from 0x24 (whole RAM, as the chip
 *   rescans the whole panel), so a stale previous plane leaves visible wrong pixels;
 *   consecutive partials leave a growing gray residue (ghosting) that a full refresh clears;
 * - BUSY held high for the profile's times on the injected clock; deep sleep left only by
 *   a hardware reset; the first refresh after reset must be mode 1 (else a fault).
 */
import type { Clock } from '../core/clock';
import { type FaultTable, PASS } from '../transport/sim/fault';
import type { SimGpioLine } from '../transport/sim/gpio';
import type { SpiPeer, SpiPeerContext } from '../transport/sim/spi';
import { grayToPng, MonoBitmap } from './display';
import {
  BORDER_FOLLOW_WHITE,
  Cmd,
  DataEntry,
  DISPLAY_OPTION_PINGPONG,
  decodeDataEntry,
  PANELS,
  PARAM_BYTES,
  type PanelId,
  type PanelProfile,
  TEMP_SENSOR_INTERNAL,
  toNative,
  Upd2,
} from './protocol';

/** Controller RAM: 176 sources (22 bytes) x 296 gates. */
export const RAM_BYTES_PER_ROW = 22;
export const RAM_ROWS = 296;

export type SimFaultCode =
  | 'UNKNOWN_COMMAND'
  | 'SHORT_PARAMS'
  | 'EXTRA_DATA'
  | 'WRITE_WHILE_BUSY'
  | 'WRITE_WHILE_ASLEEP'
  | 'WRITE_UNPOWERED'
  | 'WRITE_DURING_RESET'
  | 'WRITE_TOO_SOON_AFTER_RESET'
  | 'RESET_TOO_SHORT'
  | 'NO_DC'
  | 'DISPLAY_NOT_READY'
  | 'NO_PARTIAL_WAVEFORM'
  | 'PARTIAL_BEFORE_FULL';

export interface SimFault {
  code: SimFaultCode;
  message: string;
  atMs: number;
}

export interface SimPanelStats {
  bytes: number;
  commandBytes: number;
  dataBytes: number;
  commands: number;
  refreshes: { full: number; fast: number; partial: number };
  /** Activations (0x20) of any sequence, display or not. */
  activations: number;
  /** Total ms BUSY was held high. */
  busyMs: number;
  hardwareResets: number;
  deepSleeps: number;
}

/** Fault overrides (fall through with PASS). */
export interface SimSsd1680Ops {
  /**
   * Called at each BUSY phase with its normal duration; return another duration in ms
   * (`Infinity` = BUSY stuck until the next hardware reset), or PASS.
   */
  busy: (phase: { kind: 'reset' | 'sw-reset' | 'update'; seq?: number; durationMs: number }) => number;
}

export interface Ssd1680SimOptions {
  panel?: PanelProfile | PanelId;
  clock: Clock;
  /** Mounting rotation used by `snapshot()` / `pixels()` by default (0, 90, 180, 270). */
  viewRotation?: 0 | 90 | 180 | 270;
  /** Ambient temperature the internal sensor reads, °C. Default 25. */
  ambientC?: number;
  /** Seed for the power-on RAM contents (random, as on real silicon). */
  seed?: number;
}

/** The lines of the panel's header (device faces). `pwr` is optional (HAT rev 2.3). */
export interface Ssd1680SimLines {
  dc: SimGpioLine;
  rst: SimGpioLine;
  busy: SimGpioLine;
  pwr?: SimGpioLine;
}

const GRAY_WHITE = 255;
const GRAY_BLACK = 0;
const RESIDUE_PER_PARTIAL = 9;

export class Ssd1680Sim implements SpiPeer {
  readonly panel: PanelProfile;
  readonly clock: Clock;
  viewRotation: 0 | 90 | 180 | 270;
  ambientC: number;
  faults: FaultTable<SimSsd1680Ops> = {};
  readonly faultLog: SimFault[] = [];
  readonly stats: SimPanelStats = {
    bytes: 0,
    commandBytes: 0,
    dataBytes: 0,
    commands: 0,
    refreshes: { full: 0, fast: 0, partial: 0 },
    activations: 0,
    busyMs: 0,
    hardwareResets: 0,
    deepSleeps: 0,
  };
  /** Every command with its parameters as received (stream payloads summarised by length). */
  readonly commandLog: Array<{ cmd: number; params: number[]; dataLength: number }> = [];

  // RAM and glass
  readonly bw = new Uint8Array(RAM_BYTES_PER_ROW * RAM_ROWS);
  readonly red = new Uint8Array(RAM_BYTES_PER_ROW * RAM_ROWS);
  /** Gray level of each visible pixel of the glass (native orientation). */
  readonly glass: Uint8Array;

  // registers
  private dataEntry: number = DataEntry.XINC_YINC_X;
  private xStart = 0;
  private xEnd = 0;
  private yStart = 0;
  private yEnd = 0;
  private xCounter = 0;
  private yCounter = 0;
  private upd2 = 0xff;
  private upd1: [number, number] = [0, 0];
  private tempSensor = TEMP_SENSOR_INTERNAL;
  private tempReg = 25;
  private border = BORDER_FOLLOW_WHITE;
  private displayOption = new Uint8Array(10);
  private lut: 'none' | 'otp' | 'otp-hot' | 'custom' = 'none';
  private clockOn = false;
  private analogOn = false;
  private driverOutput: number[] = [];

  // state
  private powered = true;
  private inReset = false;
  private resetLowAt = 0;
  private readyAt = 0;
  private asleep = false;
  private busy_ = false;
  private busyCancel: (() => void) | undefined;
  private needsFull = true;
  private partialRun = 0;
  private cmd: number | undefined;
  private cmdKnown = false;
  private params: number[] = [];
  private streamLength = 0;
  private lines: Ssd1680SimLines | undefined;
  private readonly unsubs: Array<() => void> = [];
  private rng: number;

  constructor(options: Ssd1680SimOptions) {
    this.panel = typeof options.panel === 'string' ? PANELS[options.panel] : (options.panel ?? PANELS['2in13']);
    this.clock = options.clock;
    this.viewRotation = options.viewRotation ?? 0;
    this.ambientC = options.ambientC ?? 25;
    this.rng = (options.seed ?? 0x5eed1680) >>> 0;
    this.glass = new Uint8Array(this.panel.width * this.panel.height).fill(GRAY_WHITE);
    this.powerOn();
  }

  /** Connects the header lines: watches RST/PWR, drives BUSY. DC is read per SPI chunk. */
  connect(lines: Ssd1680SimLines): void {
    for (const u of this.unsubs.splice(0)) u();
    this.lines = lines;
    this.unsubs.push(lines.rst.onChange((level) => this.onReset(level)));
    if (lines.pwr) {
      this.powered = lines.pwr.level === 1;
      this.unsubs.push(lines.pwr.onChange((level) => (level ? this.powerOn() : this.powerOff())));
    }
    this.driveBusy();
  }

  /** True while BUSY is high. */
  get busy(): boolean {
    return this.busy_;
  }

  /** True after 0x10 (deep sleep) until a hardware reset. */
  get sleeping(): boolean {
    return this.asleep;
  }

  // ---------------------------------------------------------------- bus face

  transfer(tx: Uint8Array, ctx: SpiPeerContext): void {
    this.stats.bytes += tx.length;
    if (ctx.dc === undefined) {
      this.fault('NO_DC', `${tx.length} bytes without a DC line`);
      return;
    }
    if (ctx.dc === 0) this.stats.commandBytes += tx.length;
    else this.stats.dataBytes += tx.length;
    if (!this.powered) {
      this.fault('WRITE_UNPOWERED', `${tx.length} bytes while the panel is unpowered`);
      return;
    }
    if (this.inReset) {
      this.fault('WRITE_DURING_RESET', `${tx.length} bytes while RST is low`);
      return;
    }
    if (this.clock.monotonic() < this.readyAt)
      this.fault(
        'WRITE_TOO_SOON_AFTER_RESET',
        `bytes ${this.readyAt - this.clock.monotonic()} ms before the controller is ready`,
      );
    if (this.asleep) {
      this.fault('WRITE_WHILE_ASLEEP', `${tx.length} bytes during deep sleep (only a hardware reset wakes)`);
      return;
    }
    if (this.busy_) {
      const what = ctx.dc === 0 ? `command 0x${hex(tx[0] ?? 0)}` : `${tx.length} data bytes`;
      this.fault('WRITE_WHILE_BUSY', `${what} while BUSY is high (ignored)`);
      return;
    }
    if (ctx.dc === 0) for (const b of tx) this.onCommand(b);
    else for (const b of tx) this.onData(b);
  }

  // ---------------------------------------------------------------- control face

  /** What a person sees, as gray levels in the view orientation (0 black .. 255 white). */
  gray(rotation: 0 | 90 | 180 | 270 = this.viewRotation): { width: number; height: number; gray: Uint8Array } {
    const W = this.panel.width;
    const H = this.panel.height;
    const rotated = rotation === 90 || rotation === 270;
    const width = rotated ? H : W;
    const height = rotated ? W : H;
    const out = new Uint8Array(width * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const [nx, ny] = toNative(x, y, rotation, W, H);
        out[y * width + x] = this.glass[ny * W + nx] ?? GRAY_WHITE;
      }
    return { width, height, gray: out };
  }

  /** The glass thresholded to 1 bit (1 = black) in the view orientation. */
  pixels(rotation: 0 | 90 | 180 | 270 = this.viewRotation): MonoBitmap {
    const g = this.gray(rotation);
    const bm = new MonoBitmap(g.width, g.height);
    for (let i = 0; i < g.gray.length; i++) bm.data[i] = (g.gray[i] ?? 255) < 128 ? 1 : 0;
    return bm;
  }

  /** PNG of the glass (gray residue included), scaled up nearest-neighbour by `scale`. */
  snapshot(options: { rotation?: 0 | 90 | 180 | 270; scale?: number } = {}): Promise<Buffer> {
    const g = this.gray(options.rotation ?? this.viewRotation);
    return grayToPng(g.width, g.height, g.gray, options.scale ?? 1);
  }

  /**
   * Visible pixels where the glass does not show what the new-image RAM (0x24) holds: 0
   * after every correct update; > 0 exposes a stale previous plane or a missed refresh.
   */
  mismatchPixels(): number {
    let n = 0;
    for (let y = 0; y < this.panel.height; y++)
      for (let x = 0; x < this.panel.width; x++) {
        const shownBlack = (this.glass[y * this.panel.width + x] ?? 255) < 128;
        if (shownBlack !== !ramBit(this.bw, x, y)) n++;
      }
    return n;
  }

  /** Largest gray residue (0 = crisp) left by consecutive partial refreshes. */
  get ghostLevel(): number {
    return Math.min(this.partialRun, 20) * RESIDUE_PER_PARTIAL;
  }

  /** Faults of one code, or all. */
  faultsOf(code?: SimFaultCode): SimFault[] {
    return code ? this.faultLog.filter((f) => f.code === code) : [...this.faultLog];
  }

  resetStats(): void {
    Object.assign(this.stats, {
      bytes: 0,
      commandBytes: 0,
      dataBytes: 0,
      commands: 0,
      refreshes: { full: 0, fast: 0, partial: 0 },
      activations: 0,
      busyMs: 0,
      hardwareResets: 0,
      deepSleeps: 0,
    });
    this.faultLog.length = 0;
    this.commandLog.length = 0;
  }

  /** Register view for tests. */
  registers(): Record<string, number | number[]> {
    return {
      dataEntry: this.dataEntry,
      xStart: this.xStart,
      xEnd: this.xEnd,
      yStart: this.yStart,
      yEnd: this.yEnd,
      xCounter: this.xCounter,
      yCounter: this.yCounter,
      border: this.border,
      upd1: [...this.upd1],
      upd2: this.upd2,
      tempReg: this.tempReg,
      driverOutput: [...this.driverOutput],
    };
  }

  // ---------------------------------------------------------------- internals

  private fault(code: SimFaultCode, message: string): void {
    this.faultLog.push({ code, message, atMs: this.clock.monotonic() });
  }

  private random(): number {
    // xorshift32: deterministic power-on garbage
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng & 0xff;
  }

  private powerOn(): void {
    this.powered = true;
    for (let i = 0; i < this.bw.length; i++) {
      this.bw[i] = this.random();
      this.red[i] = this.random();
    }
    this.defaults();
    this.asleep = false;
    this.needsFull = true;
  }

  private powerOff(): void {
    this.powered = false;
    this.setBusy(false);
    this.clockOn = false;
    this.analogOn = false;
  }

  private defaults(): void {
    this.dataEntry = DataEntry.XINC_YINC_X;
    this.xStart = 0;
    this.xEnd = RAM_BYTES_PER_ROW - 1;
    this.yStart = 0;
    this.yEnd = RAM_ROWS - 1;
    this.xCounter = 0;
    this.yCounter = 0;
    this.upd1 = [0, 0];
    this.upd2 = 0xff;
    this.border = 0xc0;
    this.displayOption.fill(0);
    this.lut = 'none';
    this.tempSensor = TEMP_SENSOR_INTERNAL;
    this.cmd = undefined;
    this.params = [];
  }

  private onReset(level: 0 | 1): void {
    if (!this.powered) return;
    if (level === 0) {
      this.inReset = true;
      this.resetLowAt = this.clock.monotonic();
      this.setBusy(false);
      return;
    }
    if (!this.inReset) return;
    this.inReset = false;
    const lowFor = this.clock.monotonic() - this.resetLowAt;
    if (lowFor < 1) {
      this.fault('RESET_TOO_SHORT', `RST low for ${lowFor} ms (needs >= 1 ms)`);
      return;
    }
    this.stats.hardwareResets++;
    this.finishCommand();
    this.defaults();
    this.asleep = false;
    this.clockOn = false;
    this.analogOn = false;
    this.needsFull = true;
    this.readyAt = this.clock.monotonic() + 10;
    this.holdBusy('reset', this.panel.timings.resetBusyMs);
  }

  private holdBusy(kind: 'reset' | 'sw-reset' | 'update', durationMs: number, seq?: number, done?: () => void): void {
    let ms = durationMs;
    const f = this.faults.busy;
    if (f) {
      const r = f({ kind, seq, durationMs });
      if (r !== PASS && !(r instanceof Promise)) ms = r;
    }
    this.busyCancel?.();
    this.setBusy(true);
    const started = this.clock.monotonic();
    const finishGlass = done ? this.clock.setTimeout(done, Math.min(durationMs, ms)) : undefined;
    if (!Number.isFinite(ms)) {
      this.busyCancel = () => {
        finishGlass?.();
        this.stats.busyMs += this.clock.monotonic() - started;
      };
      return;
    }
    const cancel = this.clock.setTimeout(() => {
      this.busyCancel = undefined;
      this.stats.busyMs += this.clock.monotonic() - started;
      this.setBusy(false);
    }, ms);
    this.busyCancel = () => {
      cancel();
      this.stats.busyMs += this.clock.monotonic() - started;
    };
  }

  private setBusy(on: boolean): void {
    if (!on) {
      if (this.busyCancel) {
        const c = this.busyCancel;
        this.busyCancel = undefined;
        c();
      }
    }
    this.busy_ = on;
    this.driveBusy();
  }

  private driveBusy(): void {
    this.lines?.busy.setLevel(this.busy_ ? 1 : 0);
  }

  private onCommand(b: number): void {
    this.finishCommand();
    this.stats.commands++;
    this.cmd = b;
    this.params = [];
    this.streamLength = 0;
    this.cmdKnown = PARAM_BYTES.has(b);
    if (!this.cmdKnown) {
      this.fault('UNKNOWN_COMMAND', `unknown command 0x${hex(b)}`);
      return;
    }
    if (PARAM_BYTES.get(b) === 0) this.execute();
  }

  private finishCommand(): void {
    if (this.cmd === undefined || !this.cmdKnown) {
      this.cmd = undefined;
      return;
    }
    const need = PARAM_BYTES.get(this.cmd) ?? 0;
    const cmd = this.cmd;
    if (need === Number.POSITIVE_INFINITY) {
      this.commandLog.push({ cmd, params: [], dataLength: this.streamLength });
    } else if (need > 0 && this.params.length < need) {
      this.fault('SHORT_PARAMS', `command 0x${hex(cmd)} got ${this.params.length} of ${need} parameter bytes`);
    }
    this.cmd = undefined;
  }

  private onData(b: number): void {
    if (this.cmd === undefined) {
      this.fault('EXTRA_DATA', `data byte 0x${hex(b)} with no command`);
      return;
    }
    if (!this.cmdKnown) return;
    const need = PARAM_BYTES.get(this.cmd) ?? 0;
    if (need === Number.POSITIVE_INFINITY) {
      this.streamLength++;
      this.writeRam(this.cmd === Cmd.WRITE_RAM_BW ? this.bw : this.red, b);
      return;
    }
    if (this.params.length >= need) {
      this.fault('EXTRA_DATA', `extra data byte for command 0x${hex(this.cmd)}`);
      return;
    }
    this.params.push(b);
    if (this.params.length === need) this.execute();
  }

  private execute(): void {
    const cmd = this.cmd ?? -1;
    const p = this.params;
    const at = (i: number) => p[i] ?? 0;
    if (PARAM_BYTES.get(cmd) !== Number.POSITIVE_INFINITY) this.commandLog.push({ cmd, params: [...p], dataLength: p.length });
    switch (cmd) {
      case Cmd.SW_RESET:
        this.defaults();
        this.holdBusy('sw-reset', this.panel.timings.swResetBusyMs);
        break;
      case Cmd.DRIVER_OUTPUT:
        this.driverOutput = [...p];
        break;
      case Cmd.DATA_ENTRY_MODE:
        this.dataEntry = at(0) & 0x07;
        break;
      case Cmd.RAM_X_WINDOW:
        this.xStart = at(0) & 0x3f;
        this.xEnd = at(1) & 0x3f;
        break;
      case Cmd.RAM_Y_WINDOW:
        this.yStart = (at(0) | (at(1) << 8)) & 0x1ff;
        this.yEnd = (at(2) | (at(3) << 8)) & 0x1ff;
        break;
      case Cmd.RAM_X_COUNTER:
        this.xCounter = at(0) & 0x3f;
        break;
      case Cmd.RAM_Y_COUNTER:
        this.yCounter = (at(0) | (at(1) << 8)) & 0x1ff;
        break;
      case Cmd.BORDER_WAVEFORM:
        this.border = at(0);
        break;
      case Cmd.UPDATE_CONTROL_1:
        this.upd1 = [at(0), at(1)];
        break;
      case Cmd.UPDATE_CONTROL_2:
        this.upd2 = at(0);
        break;
      case Cmd.TEMP_SENSOR:
        this.tempSensor = at(0);
        break;
      case Cmd.WRITE_TEMP:
        // 12-bit two's complement, 1/16 °C; the high byte is whole degrees
        this.tempReg = (at(0) << 24) >> 24;
        break;
      case Cmd.WRITE_LUT:
        this.lut = 'custom';
        break;
      case Cmd.DISPLAY_OPTION:
        this.displayOption = Uint8Array.from(p);
        break;
      case Cmd.DEEP_SLEEP:
        if (at(0) & 0x03) {
          this.asleep = true;
          this.stats.deepSleeps++;
          this.clockOn = false;
          this.analogOn = false;
        }
        break;
      case Cmd.MASTER_ACTIVATION:
        this.activate();
        break;
      default:
        // voltages, VCOM, end option: accepted, no visible effect here
        break;
    }
  }

  private writeRam(plane: Uint8Array, b: number): void {
    if (this.xCounter < RAM_BYTES_PER_ROW && this.yCounter < RAM_ROWS)
      plane[this.yCounter * RAM_BYTES_PER_ROW + this.xCounter] = b;
    const { xInc, yInc, yFirst } = decodeDataEntry(this.dataEntry);
    const stepX = () => {
      const wrapped = this.xCounter === this.xEnd;
      this.xCounter = wrapped ? this.xStart : (this.xCounter + (xInc ? 1 : -1)) & 0x3f;
      return wrapped;
    };
    const stepY = () => {
      const wrapped = this.yCounter === this.yEnd;
      this.yCounter = wrapped ? this.yStart : (this.yCounter + (yInc ? 1 : -1)) & 0x1ff;
      return wrapped;
    };
    if (yFirst) {
      if (stepY()) stepX();
    } else if (stepX()) stepY();
  }

  private activate(): void {
    this.stats.activations++;
    const seq = this.upd2;
    const t = this.panel.timings;
    let ms = 0;
    const poweringOn = (seq & Upd2.ANALOG_ON) !== 0 && !this.analogOn;
    if (seq & Upd2.CLOCK_ON) this.clockOn = true;
    if (seq & Upd2.ANALOG_ON) this.analogOn = true;
    if (poweringOn) ms += t.powerOnMs;
    if (seq & Upd2.LOAD_TEMP) {
      if (this.tempSensor === TEMP_SENSOR_INTERNAL) this.tempReg = Math.round(this.ambientC);
      ms += seq & Upd2.DISPLAY ? 0 : t.loadMs;
    }
    if (seq & Upd2.LOAD_LUT) {
      this.lut = this.tempReg >= 50 ? 'otp-hot' : 'otp';
      ms += seq & Upd2.DISPLAY ? 0 : t.loadMs;
    }
    let apply: (() => void) | undefined;
    if (seq & Upd2.DISPLAY) {
      const mode2 = (seq & Upd2.MODE_2) !== 0;
      if (!this.clockOn || !this.analogOn || this.lut === 'none') {
        this.fault(
          'DISPLAY_NOT_READY',
          `0x22=0x${hex(seq)}: display without ${!this.clockOn ? 'clock' : !this.analogOn ? 'analog power' : 'a loaded LUT'}`,
        );
      } else if (mode2) {
        const weak = this.lut !== 'custom' && !this.panel.otpPartialWaveform;
        if (weak) this.fault('NO_PARTIAL_WAVEFORM', `${this.panel.name} has no usable mode-2 waveform in OTP`);
        if (this.needsFull) this.fault('PARTIAL_BEFORE_FULL', 'mode-2 refresh before a full refresh since reset / power-on');
        const pingPong = ((this.displayOption[5] ?? 0) & DISPLAY_OPTION_PINGPONG) !== 0;
        ms += t.partialRefreshMs - (poweringOn ? t.powerOnMs : 0) - (seq & Upd2.ANALOG_OFF ? t.powerOffMs : 0);
        this.stats.refreshes.partial++;
        apply = () => this.applyMode2(weak, pingPong);
      } else {
        const fast = this.lut === 'otp-hot';
        const total = fast ? t.fastRefreshMs : t.fullRefreshMs;
        ms += total - (poweringOn ? t.powerOnMs : 0) - (seq & Upd2.ANALOG_OFF ? t.powerOffMs : 0);
        if (fast) this.stats.refreshes.fast++;
        else this.stats.refreshes.full++;
        apply = () => this.applyMode1();
      }
    }
    if (seq & Upd2.ANALOG_OFF) {
      ms += t.powerOffMs;
      this.analogOn = false;
    }
    if (seq & Upd2.CLOCK_OFF) this.clockOn = false;
    this.holdBusy('update', Math.max(1, ms), seq, apply);
  }

  private applyMode1(): void {
    const W = this.panel.width;
    for (let y = 0; y < this.panel.height; y++)
      for (let x = 0; x < W; x++) this.glass[y * W + x] = ramBit(this.bw, x, y) ? GRAY_WHITE : GRAY_BLACK;
    this.partialRun = 0;
    this.needsFull = false;
  }

  private applyMode2(weak: boolean, pingPong: boolean): void {
    this.partialRun++;
    const residue = weak ? 128 : this.ghostLevel;
    const W = this.panel.width;
    for (let y = 0; y < this.panel.height; y++)
      for (let x = 0; x < W; x++) {
        const oldWhite = ramBit(this.red, x, y);
        const newWhite = ramBit(this.bw, x, y);
        if (oldWhite === newWhite) continue;
        this.glass[y * W + x] = newWhite ? GRAY_WHITE - residue : GRAY_BLACK + residue;
      }
    if (pingPong) this.red.set(this.bw);
  }
}

function ramBit(plane: Uint8Array, x: number, y: number): boolean {
  const byte = plane[y * RAM_BYTES_PER_ROW + (x >> 3)] ?? 0xff;
  return (byte & (0x80 >> (x & 7))) !== 0;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
