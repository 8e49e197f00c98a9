/**
 * FillLight: the white LED behind a MOSFET on a hardware-PWM pin, driven by a
 * johnny-five `Led` over one of our IO plugins (io-plugin.ts). johnny-five gives the
 * familiar API (`on`, `off`, `brightness`, `fade`), the plugin maps 0..255 onto the
 * PWM duty at >= 20 kHz.
 *
 * `setDuty()`/`off()` resolve once the write reached the PWM channel and reject with
 * `FillLightError` (code `LED_PWM`) when it did not - the caller (the controller)
 * decides what to do; nothing is thrown from inside johnny-five's timers.
 */
import five from 'johnny-five';
import { FillLightError } from './errors';
import type { PwmIoPlugin } from './io-plugin';

export interface FillLightOptions {
  io: PwmIoPlugin;
  /** BCM pin number or 'GPIO12'. */
  pin: number | string;
  /** How long to wait for the board to become ready. Default 2000 ms. */
  readyTimeoutMs?: number;
}

export class FillLight {
  readonly pin: number;
  private readonly io: PwmIoPlugin;
  private readonly led: five.Led;
  private duty_ = 0;

  private constructor(io: PwmIoPlugin, pin: number, led: five.Led) {
    this.io = io;
    this.pin = pin;
    this.led = led;
  }

  /** Connects the plugin, waits for johnny-five's board, and creates the `Led`. */
  static async open(options: FillLightOptions): Promise<FillLight> {
    const { io } = options;
    const pin = io.normalize(options.pin);
    if (!io.isPwm(pin)) throw new FillLightError('LED_PIN', `GPIO${pin} has no hardware PWM channel on ${io.name}`);
    if (!io.isReady) await io.connect();
    const timeoutMs = options.readyTimeoutMs ?? 2000;
    const board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: timeoutMs } as five.BoardOption);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new FillLightError('LED_NOT_READY', `board not ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
      (board as unknown as NodeJS.EventEmitter).once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
    const led = new five.Led({ pin, board });
    const light = new FillLight(io, pin, led);
    // a start-up failure of the channel surfaces here
    await io.settle(pin);
    return light;
  }

  /** Current duty 0..1 as last commanded. */
  get duty(): number {
    return this.duty_;
  }

  get isOn(): boolean {
    return this.duty_ > 0;
  }

  /** Sets the duty (0..1, quantised to johnny-five's 8 bits); 0 turns the LED off. */
  async setDuty(duty: number): Promise<void> {
    if (!(Number.isFinite(duty) && duty >= 0 && duty <= 1))
      throw new FillLightError('LED_CONFIG', `duty must be in 0..1, got ${duty}`);
    const v = Math.round(duty * 255);
    if (v === 0) this.led.off();
    else this.led.brightness(v);
    this.duty_ = v / 255;
    await this.io.settle(this.pin);
  }

  async off(): Promise<void> {
    await this.setDuty(0);
  }

  /** Turns the LED off and closes the plugin's channels. */
  async close(): Promise<void> {
    this.led.stop();
    await this.off().catch(() => undefined);
    await this.io.close();
  }
}
