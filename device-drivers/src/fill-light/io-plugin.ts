/**
 * johnny-five IO plugins for the fill-light (reference section 5; rwaldron/io-plugins).
 *
 * `PwmIoPlugin` is the one implementation; the variants differ only in what they are
 * wired to:
 * - `createLinuxIoPlugin()`: hardware PWM channels (sysfs PWM via the `Pwm` transport) on
 *   the PWM-capable header pins, plain GPIO through `GpioController`/`GpioLine` (chip
 *   found by label) on the others.
 * - `createVirtualIoPlugin()`: the same over `SimPwm` / `SimGpioController`, so a
 *   simulated camera can read the LED's duty (closed loop) and tests can fail a pin.
 *
 * The contract johnny-five 2.1 relies on: an EventEmitter that emits `connect` then
 * `ready` asynchronously with `isReady` false until then; `MODES`; `pins[]` indexed by
 * BCM number, each `{supportedModes, mode, value, report, analogChannel: 127}`;
 * `analogPins` (empty: a Pi has no ADC); `pinMode`, `digitalWrite`, `analogWrite`
 * (= `pwmWrite`), values 0..255 (`RESOLUTION.PWM` 255); `normalize('GPIO12')` -> 12.
 * Unsupported essentials (`analogRead`, `digitalRead` on a PWM pin, servo) throw.
 *
 * johnny-five calls the write methods synchronously; the transports are async. Each
 * pin's writes are chained in order; a failed write is kept as a typed
 * `FillLightError` (code `LED_PWM` / `LED_GPIO`), emitted as `pin-error` (never as
 * `error`, which would crash a process with no listener), and surfaced by `settle(pin)`,
 * which callers await after a johnny-five call to learn whether it reached the pin.
 */
import { EventEmitter } from 'node:events';
import type { GpioController, GpioLine } from '../transport/gpio';
import type { Pwm } from '../transport/pwm';
import { FillLightError } from './errors';

export const MODES = Object.freeze({ INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 });

/** Minimum PWM frequency for a camera fill-light: rolling-shutter banding <= ~5 % at 1 ms. */
export const MIN_LED_PWM_HZ = 20_000;

export interface PinState {
  supportedModes: number[];
  mode: number;
  value: number;
  report: number;
  analogChannel: number;
}

export interface PwmIoPluginOptions {
  /** Plugin name (johnny-five shows it). Avoid 'Firmata'/'Mock', which switch on Firmata quirks. */
  name: string;
  /** Hardware PWM channels by BCM pin. */
  pwm: Record<number, Pwm>;
  /** PWM frequency in Hz; must be >= 20 kHz. Default 25 kHz. */
  frequencyHz?: number;
  /** GPIO for the other pins (optional). */
  gpio?: { controller: GpioController; chipLabel: string };
  /** Number of pins in `pins[]`. Default 28 (BCM 0..27 on the 40-pin header). */
  pinCount?: number;
}

export interface IoPluginEvents {
  connect: [];
  ready: [];
  'pin-error': [FillLightError];
  close: [];
}

export class PwmIoPlugin extends EventEmitter<IoPluginEvents> {
  readonly name: string;
  readonly MODES = MODES;
  readonly HIGH = 1;
  readonly LOW = 0;
  readonly RESOLUTION = { ADC: 1023, DAC: null, PWM: 255 };
  readonly pins: PinState[];
  readonly analogPins: number[] = [];
  readonly defaultLed: number;
  readonly frequencyHz: number;
  isReady = false;
  private readonly pwm: Map<number, Pwm>;
  private readonly gpio: PwmIoPluginOptions['gpio'];
  private readonly lines = new Map<number, GpioLine>();
  private readonly chains = new Map<number, Promise<void>>();
  private readonly errors = new Map<number, FillLightError>();

  constructor(options: PwmIoPluginOptions) {
    super();
    this.name = options.name;
    this.frequencyHz = options.frequencyHz ?? 25_000;
    if (!(this.frequencyHz >= MIN_LED_PWM_HZ))
      throw new FillLightError('LED_CONFIG', `fill-light PWM must run at >= ${MIN_LED_PWM_HZ} Hz, got ${this.frequencyHz}`);
    this.pwm = new Map(Object.entries(options.pwm).map(([k, v]) => [Number(k), v]));
    this.gpio = options.gpio;
    const count = options.pinCount ?? 28;
    this.pins = Array.from({ length: count }, (_, i) => ({
      supportedModes: this.pwm.has(i) ? [MODES.INPUT, MODES.OUTPUT, MODES.PWM] : this.gpio ? [MODES.INPUT, MODES.OUTPUT] : [],
      mode: MODES.OUTPUT,
      value: 0,
      report: 0,
      analogChannel: 127,
    }));
    this.defaultLed = [...this.pwm.keys()][0] ?? 0;
  }

  /** Opens the PWM channels (frequency set, duty 0, enabled); then emits connect + ready. */
  async connect(): Promise<void> {
    for (const [pin, ch] of this.pwm) {
      try {
        await ch.open();
        await ch.configure({ frequencyHz: this.frequencyHz, duty: 0 });
        await ch.enable();
      } catch (err) {
        const e = new FillLightError('LED_PWM', `PWM on GPIO${pin} (${ch.name}) failed to start: ${String(err)}`, {
          cause: err,
          details: { pin },
        });
        this.errors.set(pin, e);
        this.emit('pin-error', e);
      }
    }
    this.isReady = true;
    setImmediate(() => {
      this.emit('connect');
      this.emit('ready');
    });
  }

  /** 'GPIO12' / 'BCM12' / '12' / 12 -> 12. (An arrow: johnny-five calls it unbound.) */
  readonly normalize = (pin: number | string): number => {
    if (typeof pin === 'number') return pin;
    const m = /^(?:GPIO|BCM)?(\d+)$/i.exec(String(pin).trim());
    if (!m) throw new FillLightError('LED_PIN', `unknown pin name '${pin}' (use GPIO<n>)`);
    return Number(m[1]);
  };

  /** Whether a pin has a hardware PWM channel. (An arrow: johnny-five's Pins copies it.) */
  readonly isPwm = (pin: number | string): boolean => this.pwm.has(this.normalize(pin));

  pinMode(pin: number, mode: number): this {
    const p = this.pinState(pin);
    if (!p.supportedModes.includes(mode))
      throw new FillLightError('LED_PIN', `GPIO${pin} does not support mode ${mode} (supported: ${p.supportedModes.join(',')})`);
    p.mode = mode;
    if (mode === MODES.OUTPUT && !this.pwm.has(pin)) this.enqueue(pin, () => this.ensureLine(pin).then(() => undefined));
    return this;
  }

  analogWrite(pin: number, value: number): this {
    const p = this.pinState(pin);
    const ch = this.pwm.get(pin);
    if (!ch) throw new FillLightError('LED_PIN', `GPIO${pin} has no hardware PWM`);
    const v = Math.max(0, Math.min(255, Math.round(value)));
    p.value = v;
    this.enqueue(pin, () => ch.configure({ duty: v / 255 }), 'LED_PWM');
    return this;
  }

  pwmWrite(pin: number, value: number): this {
    return this.analogWrite(pin, value);
  }

  digitalWrite(pin: number, value: number): this {
    const p = this.pinState(pin);
    const level = value ? 1 : 0;
    p.value = level;
    const ch = this.pwm.get(pin);
    if (ch) {
      p.value = level ? 255 : 0;
      this.enqueue(pin, () => ch.configure({ duty: level }), 'LED_PWM');
    } else {
      this.enqueue(pin, async () => (await this.ensureLine(pin)).write(level), 'LED_GPIO');
    }
    return this;
  }

  analogRead(): never {
    throw new FillLightError('LED_PIN', `${this.name}: analogRead is not supported (a Raspberry Pi has no ADC)`);
  }

  servoWrite(): never {
    throw new FillLightError('LED_PIN', `${this.name}: servos are not supported`);
  }

  /** Non-essential IO-plugin methods: accepted, callback called asynchronously. */
  reset(cb?: () => void): this {
    if (cb) setImmediate(cb);
    return this;
  }

  /**
   * Resolves when every write queued so far on `pin` reached the hardware; rejects with
   * the pin's `FillLightError` if one failed (the error is then cleared).
   */
  async settle(pin: number): Promise<void> {
    await this.chains.get(pin);
    const e = this.errors.get(pin);
    if (e) {
      this.errors.delete(pin);
      throw e;
    }
  }

  /** The PWM channel behind a pin (the virtual rig reads duty/frequency from it). */
  channel(pin: number): Pwm | undefined {
    return this.pwm.get(pin);
  }

  /** Turns PWM outputs off and releases everything. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
    for (const ch of this.pwm.values()) await ch.close().catch(() => undefined);
    for (const l of this.lines.values()) await l.close().catch(() => undefined);
    this.lines.clear();
    this.isReady = false;
    this.emit('close');
  }

  private pinState(pin: number): PinState {
    const p = this.pins[pin];
    if (!p) throw new FillLightError('LED_PIN', `no pin ${pin} on ${this.name}`);
    return p;
  }

  private async ensureLine(pin: number): Promise<GpioLine> {
    const have = this.lines.get(pin);
    if (have) return have;
    if (!this.gpio) throw new FillLightError('LED_GPIO', `GPIO${pin}: no GPIO controller configured`);
    const line = await this.gpio.controller.requestLine({
      chipLabel: this.gpio.chipLabel,
      line: pin,
      direction: 'out',
      initial: 0,
      consumer: 'handset-fill-light',
    });
    this.lines.set(pin, line);
    return line;
  }

  private enqueue(pin: number, op: () => Promise<void>, code: 'LED_PWM' | 'LED_GPIO' = 'LED_GPIO'): void {
    const prev = this.chains.get(pin) ?? Promise.resolve();
    const next = prev.then(op).catch((err: unknown) => {
      const e =
        err instanceof FillLightError
          ? err
          : new FillLightError(code, `GPIO${pin}: ${code === 'LED_PWM' ? 'PWM' : 'GPIO'} write failed: ${String(err)}`, {
              cause: err,
              details: { pin },
            });
      this.errors.set(pin, e);
      this.emit('pin-error', e);
    });
    this.chains.set(pin, next);
  }
}

export interface LinuxIoPluginOptions {
  /** sysfs PWM channels (transport/linux) by BCM pin: GPIO12/13/19 on the reference board. */
  pwm: Record<number, Pwm>;
  gpio?: GpioController;
  /** 'pinctrl-rp1' on a Pi 5, 'pinctrl-bcm2711' on a Pi 4. */
  chipLabel?: string;
  frequencyHz?: number;
}

/** The plugin for the real board. */
export function createLinuxIoPlugin(options: LinuxIoPluginOptions): PwmIoPlugin {
  return new PwmIoPlugin({
    name: 'HandsetLinuxIO',
    pwm: options.pwm,
    frequencyHz: options.frequencyHz,
    gpio: options.gpio ? { controller: options.gpio, chipLabel: options.chipLabel ?? 'pinctrl-bcm2711' } : undefined,
  });
}

export interface VirtualIoPluginOptions {
  /** Simulated PWM channels by BCM pin (SimPwm). */
  pwm: Record<number, Pwm>;
  /** Simulated GPIO (SimGpioController). */
  gpio?: GpioController;
  chipLabel?: string;
  frequencyHz?: number;
}

/** The plugin for simulation: same behaviour over simulated channels. */
export function createVirtualIoPlugin(options: VirtualIoPluginOptions): PwmIoPlugin {
  return new PwmIoPlugin({
    name: 'HandsetVirtualIO',
    pwm: options.pwm,
    frequencyHz: options.frequencyHz,
    gpio: options.gpio ? { controller: options.gpio, chipLabel: options.chipLabel ?? 'pinctrl-bcm2711' } : undefined,
  });
}
