/**
 * Pwm: one hardware PWM channel (sysfs /sys/class/pwm/pwmchipN/pwmM on Linux).
 *
 * Contract:
 * - `configure({frequencyHz, duty})` sets period and duty cycle (0..1) atomically as
 *   far as the hardware allows (duty is lowered before the period shrinks, as sysfs
 *   demands duty <= period at every step).
 * - `enable()` / `disable()` start and stop the output; a disabled channel drives low.
 * - `state` is what the channel is doing now.
 * - Errors from the kernel (channel busy, no such chip, EINVAL) reject with
 *   `TransportError` (code `PWM`); nothing is left half-configured silently.
 */
export interface PwmState {
  frequencyHz: number;
  /** 0..1 */
  duty: number;
  enabled: boolean;
}

export interface Pwm {
  readonly name: string;
  readonly state: PwmState;
  open(): Promise<void>;
  configure(settings: { frequencyHz?: number; duty?: number }): Promise<void>;
  enable(): Promise<void>;
  disable(): Promise<void>;
  close(): Promise<void>;
}
