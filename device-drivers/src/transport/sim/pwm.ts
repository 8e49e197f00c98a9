import { type Clock, systemClock } from '../../core/clock';
import { TransportError, ValidationError } from '../../core/errors';
import type { Pwm, PwmState } from '../pwm';
import { type FaultTable, PASS } from './fault';

/** The operations a fault override can intercept on a SimPwm. */
export interface SimPwmOps {
  open: () => void;
  configure: (settings: { frequencyHz?: number; duty?: number }) => void;
  enable: () => void;
  disable: () => void;
}

/** One state change, with the clock time it happened. */
export interface SimPwmChange extends PwmState {
  atMs: number;
}

export interface SimPwmOptions {
  /** Name used in errors. Default 'sim:pwm0'. */
  name?: string;
  /** Initial state (default 0 Hz, duty 0, disabled). */
  frequencyHz?: number;
  duty?: number;
  /** Clock for `history` timestamps. Default `systemClock`. */
  clock?: Clock;
}

/**
 * A simulated hardware PWM channel (implements `Pwm`). Device face: `state`/`output`,
 * `onChange()` and `history`, so a simulated camera can read the LED duty it is lit by.
 *
 * Validation (bad input -> `ValidationError`, code `PWM_INVALID`): duty must be a finite
 * number in 0..1, frequency a finite number > 0; enabling a channel whose frequency was
 * never set rejects with `TransportError` (code `PWM`), as the kernel refuses a 0 period.
 */
export class SimPwm implements Pwm {
  readonly name: string;
  faults: FaultTable<SimPwmOps> = {};
  readonly history: SimPwmChange[] = [];
  private state_: PwmState;
  private open_ = false;
  private readonly clock: Clock;
  private readonly listeners = new Set<(state: PwmState) => void>();

  constructor(options: SimPwmOptions = {}) {
    this.name = options.name ?? 'sim:pwm0';
    this.clock = options.clock ?? systemClock;
    this.state_ = { frequencyHz: options.frequencyHz ?? 0, duty: options.duty ?? 0, enabled: false };
  }

  get state(): PwmState {
    return { ...this.state_ };
  }

  get isOpen(): boolean {
    return this.open_;
  }

  /** Effective light output 0..1: the duty when enabled, 0 when disabled. */
  get output(): number {
    return this.state_.enabled ? this.state_.duty : 0;
  }

  /** Subscribes to state changes; returns an unsubscribe. */
  onChange(listener: (state: PwmState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async open(): Promise<void> {
    if (this.open_) throw new TransportError(`${this.name} is already open`, { code: 'ALREADY_OPEN', device: this.name });
    await tick();
    const f = this.faults.open;
    if (f && (await f()) !== PASS) return;
    this.open_ = true;
  }

  async configure(settings: { frequencyHz?: number; duty?: number }): Promise<void> {
    this.assertOpen();
    const { frequencyHz, duty } = settings;
    if (frequencyHz !== undefined && !(Number.isFinite(frequencyHz) && frequencyHz > 0))
      throw new ValidationError(`${this.name}: frequencyHz must be > 0, got ${frequencyHz}`, {
        code: 'PWM_INVALID',
        device: this.name,
      });
    if (duty !== undefined && !(Number.isFinite(duty) && duty >= 0 && duty <= 1))
      throw new ValidationError(`${this.name}: duty must be within 0..1, got ${duty}`, {
        code: 'PWM_INVALID',
        device: this.name,
      });
    await tick();
    this.assertOpen();
    const f = this.faults.configure;
    if (f && (await f(settings)) !== PASS) return;
    this.update({
      frequencyHz: frequencyHz ?? this.state_.frequencyHz,
      duty: duty ?? this.state_.duty,
      enabled: this.state_.enabled,
    });
  }

  async enable(): Promise<void> {
    this.assertOpen();
    await tick();
    const f = this.faults.enable;
    if (f && (await f()) !== PASS) return;
    if (!(this.state_.frequencyHz > 0))
      throw new TransportError(`${this.name}: cannot enable with no period set (configure a frequency first)`, {
        code: 'PWM',
        device: this.name,
      });
    this.update({ ...this.state_, enabled: true });
  }

  async disable(): Promise<void> {
    this.assertOpen();
    await tick();
    const f = this.faults.disable;
    if (f && (await f()) !== PASS) return;
    this.update({ ...this.state_, enabled: false });
  }

  /** Closing disables the output (the kernel unexport does too) and is idempotent. */
  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    if (this.state_.enabled) this.update({ ...this.state_, enabled: false });
    await tick();
  }

  private update(next: PwmState): void {
    const s = this.state_;
    if (s.frequencyHz === next.frequencyHz && s.duty === next.duty && s.enabled === next.enabled) return;
    this.state_ = next;
    this.history.push({ ...next, atMs: this.clock.monotonic() });
    for (const l of [...this.listeners]) l({ ...next });
  }

  private assertOpen(): void {
    if (!this.open_) throw new TransportError(`${this.name} is not open`, { code: 'NOT_OPEN', device: this.name });
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
