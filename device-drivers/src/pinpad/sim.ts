/**
 * A simulated USB numeric keypad (PIN pad twin), two faces:
 * - bus face: a `SimHidDevice` that sends boot keyboard input reports built with the
 *   shared `encodeBootReport` - a press is a key-down report followed by a key-up report,
 *   keys held together share reports (6-key rollover), a seventh key held at once
 *   produces the phantom state (all slots 0x01), optionally with a report-ID prefix;
 * - control face: `press('5')`, `type('1234')`, `enter()`, `cancel()`, `backspace()`,
 *   `keyDown()`/`keyUp()` for chords and rollover, `unplug()`/`replug()`.
 *
 * Faults: `faults.report(report, info)` sees every report before it goes on the bus and
 * returns replacement bytes, `null` to drop it, or `PASS` (use `once()` for one report).
 * Key timing (hold, gap) runs on the injected clock, so a `ManualClock` makes slow
 * typists instant in tests.
 */
import { type Clock, systemClock } from '../core/clock';
import { ValidationError } from '../core/errors';
import type { HidDeviceInfo } from '../transport/hid';
import { type FaultTable, PASS } from '../transport/sim/fault';
import { SimHidDevice } from '../transport/sim/hid';
import { PinPad, type PinPadOptions } from './driver';
import { encodeBootReport, type KeypadLayout, type PinKey, usageForKey } from './protocol';

/** Why a report is being sent. */
export interface SimKeypadReportInfo {
  kind: 'down' | 'up' | 'raw';
  /** The usage that changed ('down'/'up'). */
  usage?: number;
}

export interface SimKeypadOps {
  /** Each report before it is sent: replacement bytes, `null` to drop it, or PASS. Must be synchronous. */
  report: (report: Uint8Array, info: SimKeypadReportInfo) => Uint8Array | null;
}

export interface SimKeypadOptions {
  /** The bus face. Default: a new `SimHidDevice` describing a USB numeric keypad. */
  device?: SimHidDevice;
  /** Default vendor/product for the default device. */
  info?: Partial<HidDeviceInfo>;
  /** Usages for digits and Enter: keypad (0x59..0x62, 0x58) or top row (0x1e..0x27, 0x28). Default 'keypad'. */
  layout?: KeypadLayout;
  /** Prefix every report with this report ID (numbered reports, 9 bytes). */
  reportId?: number;
  clock?: Clock;
  /** How long `press` holds a key down. Default 0 (down and up reports back to back). */
  holdMs?: number;
  /** Pause between keys in `type`. Default 0. */
  gapMs?: number;
}

export interface TypeOptions {
  holdMs?: number;
  gapMs?: number;
  /**
   * Rolling typist: each key goes down before the previous one is released
   * (down a, down b, up a, down c, up b, ...), as fast typists do.
   */
  overlap?: boolean;
}

/** Keys the control face accepts: PIN keys or any raw usage (e.g. 0x04 'a', 0x53 Num Lock). */
export type SimKey = PinKey | number;

export class SimKeypad {
  readonly device: SimHidDevice;
  readonly layout: KeypadLayout;
  readonly reportId: number | undefined;
  readonly clock: Clock;
  faults: FaultTable<SimKeypadOps> = {};
  /** Reports put on the bus (after faults), for assertions. */
  readonly sent: Uint8Array[] = [];
  private held: number[] = [];
  private modifiers = 0;
  private readonly holdMs: number;
  private readonly gapMs: number;

  constructor(options: SimKeypadOptions = {}) {
    this.device =
      options.device ??
      new SimHidDevice({
        vendorId: 0x1a2c,
        productId: 0x0e24,
        path: 'sim:hidraw-pinpad',
        product: 'Simulated USB numeric keypad',
        manufacturer: 'Handset sim',
        ...options.info,
      });
    this.layout = options.layout ?? 'keypad';
    this.reportId = options.reportId;
    this.clock = options.clock ?? systemClock;
    this.holdMs = options.holdMs ?? 0;
    this.gapMs = options.gapMs ?? 0;
  }

  /** Usages held now. */
  get pressed(): readonly number[] {
    return this.held;
  }

  /** A key goes down (a report with every held key; the 7th held key gives the phantom state). */
  keyDown(key: SimKey): void {
    const u = this.usage(key);
    if (this.held.includes(u)) return;
    this.held.push(u);
    this.emitState({ kind: 'down', usage: u });
  }

  /** A key goes up. */
  keyUp(key: SimKey): void {
    const u = this.usage(key);
    if (!this.held.includes(u)) return;
    this.held = this.held.filter((x) => x !== u);
    this.emitState({ kind: 'up', usage: u });
  }

  /** Every key goes up at once (one all-zero report). */
  releaseAll(): void {
    if (this.held.length === 0) return;
    this.held = [];
    this.emitState({ kind: 'up' });
  }

  /** Holds modifier bits (sent with the next report). */
  setModifiers(bits: number): void {
    this.modifiers = bits & 0xff;
  }

  /** Press and release one key. */
  async press(key: SimKey, options: { holdMs?: number } = {}): Promise<void> {
    this.keyDown(key);
    const hold = options.holdMs ?? this.holdMs;
    if (hold > 0) await this.clock.sleep(hold);
    this.keyUp(key);
  }

  /** Types digits ('0'..'9'); other characters are refused with `ValidationError`. */
  async type(digits: string, options: TypeOptions = {}): Promise<void> {
    if (!/^[0-9]*$/.test(digits))
      throw new ValidationError('SimKeypad.type takes digits only', { code: 'SIM_KEYPAD', device: 'sim:pinpad' });
    const gap = options.gapMs ?? this.gapMs;
    const keys = [...digits] as PinKey[];
    if (options.overlap) {
      let prev: PinKey | undefined;
      for (const k of keys) {
        if (prev !== undefined && gap > 0) await this.clock.sleep(gap);
        if (prev === k) this.keyUp(prev);
        this.keyDown(k);
        if (prev !== undefined && prev !== k) this.keyUp(prev);
        prev = k;
      }
      if (prev !== undefined) this.keyUp(prev);
      return;
    }
    for (let i = 0; i < keys.length; i++) {
      if (i > 0 && gap > 0) await this.clock.sleep(gap);
      await this.press(keys[i] as PinKey, options.holdMs === undefined ? {} : { holdMs: options.holdMs });
    }
  }

  enter(): Promise<void> {
    return this.press('enter');
  }

  cancel(): Promise<void> {
    return this.press('cancel');
  }

  backspace(): Promise<void> {
    return this.press('backspace');
  }

  /** Sends arbitrary bytes as one report (bad-input tests). */
  sendRaw(bytes: Uint8Array | readonly number[]): void {
    this.send(Uint8Array.from(bytes), { kind: 'raw' });
  }

  /** Pulls the USB cable: the host's pending read fails with DISCONNECTED; keys are released. */
  unplug(): void {
    this.held = [];
    this.device.unplug();
  }

  replug(): void {
    this.device.replug();
  }

  private usage(key: SimKey): number {
    if (typeof key === 'number') {
      if (!Number.isInteger(key) || key < 4 || key > 0xff)
        throw new ValidationError(`not a key usage: ${key}`, { code: 'SIM_KEYPAD', device: 'sim:pinpad' });
      return key;
    }
    return usageForKey(key, this.layout);
  }

  private emitState(info: SimKeypadReportInfo): void {
    const report = encodeBootReport({
      modifiers: this.modifiers,
      keys: this.held,
      ...(this.reportId === undefined ? {} : { reportId: this.reportId }),
    });
    this.send(report, info);
  }

  private send(report: Uint8Array, info: SimKeypadReportInfo): void {
    let out: Uint8Array | null = report;
    const f = this.faults.report;
    if (f) {
      const r = f(report, info);
      if (r instanceof Promise) throw new TypeError('faults.report must be synchronous');
      if (r !== PASS) out = r;
    }
    if (out === null) return;
    this.sent.push(Uint8Array.from(out));
    this.device.sendReport(out);
  }
}

export interface SimPinPadOptions extends SimKeypadOptions, Omit<PinPadOptions, 'device' | 'clock'> {}

/**
 * A PinPad wired to a simulated keypad: `{pinpad, keypad, device}`. The PinPad is not
 * opened; `await pinpad.open()` first (the keypad's reports before that are lost, as on
 * a real bus nobody reads).
 */
export function createSimPinPad(options: SimPinPadOptions = {}): { pinpad: PinPad; keypad: SimKeypad; device: SimHidDevice } {
  const keypad = new SimKeypad(options);
  const pinpad = new PinPad({
    device: keypad.device,
    clock: keypad.clock,
    ...(options.reportId === undefined ? {} : { reportId: options.reportId }),
    ...(options.keymap ? { keymap: options.keymap } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  return { pinpad, keypad, device: keypad.device };
}
