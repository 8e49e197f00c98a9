/**
 * Password input module: a PIN step-up on the USB HID PIN pad (DESIGN §4 "Password input
 * module"), asked when the amount is over the step-up limit, after 3 failed fingerprint
 * matches, or when the sensor is unavailable - the chain decides when, this module does
 * the asking and the checking.
 *
 * One `requestPin()`:
 * 1. loads the state; locked -> shows the "Payments locked" screen, returns 'locked';
 *    no PIN provisioned -> 'not_set' (fails closed);
 * 2. shows the masked PIN screen (`{kind: 'pin', entered}`) through the injected `show`
 *    and updates it as digits go in (updates coalesce: the panel only ever gets the
 *    latest count, never a queue of refreshes);
 * 3. reads the PIN from the `PinPad` into a buffer this module owns;
 * 4. counts the attempt as a failure and saves that BEFORE checking (a power cut during
 *    the slow hash cannot give a free try), then checks it with the verifier (scrypt +
 *    constant-time compare), wipes the buffer, and on a match resets the count;
 * 5. a wrong PIN shows the PIN screen again with the attempts left (or returns at once
 *    with `retry: false`); the `maxAttempts`-th consecutive wrong PIN locks payments
 *    until a host calls `unlock()`, and the lock survives restarts (it is in the store).
 *
 * Nothing here puts a digit in a log line, an error, a screen or a result: logs carry
 * the reason, the outcome and attempts left; the PIN screen carries the count of digits.
 */
import { type Clock, HandsetError, systemClock, ValidationError } from '@handset/device-drivers/core';
import { PinEntryAbortedError, PinEntryTimeoutError, type PinPad } from '@handset/device-drivers/pinpad';
import type { Money } from '../../ui/money';
import type { Screen } from '../../ui/screens';
import type { LockStore, PasswordState } from './store';
import { type PinVerifier, ScryptPinVerifier } from './verifier';

/** The module's log (a `CloudLogger`-shaped object fits). Fields never hold digits. */
export interface PasswordLogger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

/** Why the chain asks for a PIN (DESIGN §4). */
export type PinRequestReason = 'step_up' | 'fingerprint_failed' | 'sensor_unavailable';

export interface PasswordModuleOptions {
  pinpad: PinPad;
  /** Default `new ScryptPinVerifier()`. */
  verifier?: PinVerifier;
  /** Where the PIN record and the lock state live (`FileLockStore` on the device). */
  lockStore: LockStore;
  /** Puts a screen on the e-ink panel (e.g. `(s) => presenter.show(s)`). Failures are logged, not fatal. */
  show?: (screen: Screen) => unknown;
  /** For `lockedAtMs`. Default `systemClock`; the PIN pad's own clock runs its timeouts. */
  clock?: Clock;
  log?: PasswordLogger;
  /** Consecutive wrong PINs that lock payments. Default 3. */
  maxAttempts?: number;
  /** PIN length bounds for entry and for `setPin`. Default 4..6. */
  minLength?: number;
  maxLength?: number;
  /** Per entry: whole-entry and since-last-key limits. Default 30,000 / 15,000 ms. */
  timeoutMs?: number;
  idleTimeoutMs?: number;
}

export interface PinRequest {
  reason: PinRequestReason;
  /** Shown above the PIN boxes. */
  amount?: Money;
  /** Aborting ends the entry with `{ok: false, reason: 'aborted'}`. */
  signal?: AbortSignal;
  /** Ask again after a wrong PIN until right, locked, aborted or timed out. Default true. */
  retry?: boolean;
}

export type PinFailureReason =
  /** A wrong PIN (only with `retry: false`; with retry the module asks again). */
  | 'wrong_pin'
  /** Payments are locked (now or already), until a host unlocks. */
  | 'locked'
  /** Cancel on the pad, or the caller's signal. */
  | 'aborted'
  | 'timeout'
  /** No PIN provisioned: a host must `setPin` first. */
  | 'not_set'
  /** The PIN pad or the store failed (`code` says which); nothing was counted. */
  | 'unavailable';

export type PinResult =
  | { ok: true; method: 'fingerprint+pin'; attempts: number }
  | {
      ok: false;
      reason: PinFailureReason;
      /** PIN entries made in this request. */
      attempts: number;
      /** Wrong PINs still allowed before the lock. */
      attemptsLeft: number;
      /** 'user' (Cancel key) or 'caller' (signal) for 'aborted'. */
      abortedBy?: 'user' | 'caller';
      /** The error code behind 'unavailable' (DISCONNECTED, PORT_NOT_FOUND, PASSWORD_STORE, PIN_RECORD...). */
      code?: string;
    };

export interface PasswordStatus {
  pinSet: boolean;
  locked: boolean;
  failures: number;
  attemptsLeft: number;
  lockedAtMs: number | null;
}

/** Latest-wins screen updates: at most one `show` in flight, the newest request shown next. */
class ScreenQueue {
  private next: Screen | undefined;
  private running: Promise<void> | undefined;
  constructor(
    private readonly show: ((screen: Screen) => unknown) | undefined,
    private readonly log: PasswordLogger | undefined,
  ) {}

  request(screen: Screen): void {
    if (!this.show) return;
    this.next = screen;
    this.running ??= this.drain();
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // Let `request` store this promise before the loop can finish (a synchronous `show`).
    await null;
    while (this.next) {
      const s = this.next;
      this.next = undefined;
      try {
        await this.show?.(s);
      } catch (err) {
        this.log?.warn('password.show_failed', { screen: s.kind, code: err instanceof HandsetError ? err.code : 'UNEXPECTED' });
      }
    }
    this.running = undefined;
  }
}

/** The password input module. See the file comment for the flow. */
export class PasswordModule {
  readonly pinpad: PinPad;
  readonly verifier: PinVerifier;
  readonly lockStore: LockStore;
  readonly maxAttempts: number;
  readonly minLength: number;
  readonly maxLength: number;
  private readonly clock: Clock;
  private readonly log: PasswordLogger | undefined;
  private readonly screens: ScreenQueue;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private busy = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: PasswordModuleOptions) {
    this.pinpad = options.pinpad;
    this.verifier = options.verifier ?? new ScryptPinVerifier();
    this.lockStore = options.lockStore;
    this.clock = options.clock ?? systemClock;
    this.log = options.log;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.minLength = options.minLength ?? 4;
    this.maxLength = options.maxLength ?? 6;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1)
      throw new ValidationError('maxAttempts must be a positive integer', { code: 'PASSWORD_OPTIONS', device: 'password' });
    if (!Number.isInteger(this.minLength) || !Number.isInteger(this.maxLength) || this.minLength < 4 || this.maxLength > 12)
      throw new ValidationError('PIN length must be within 4..12 (ISO 9564)', { code: 'PASSWORD_OPTIONS', device: 'password' });
    if (this.minLength > this.maxLength)
      throw new ValidationError('minLength exceeds maxLength', { code: 'PASSWORD_OPTIONS', device: 'password' });
    this.screens = new ScreenQueue(options.show, options.log);
  }

  /**
   * Asks for the PIN and checks it. Resolves with a result, never rejects for the
   * cardholder's or the hardware's doing (those are `{ok: false, reason}`); rejects with
   * `HandsetError` PASSWORD_BUSY when another request is active.
   */
  async requestPin(request: PinRequest): Promise<PinResult> {
    if (this.busy) throw new HandsetError('PASSWORD_BUSY', 'a PIN request is already active', { device: 'password' });
    this.busy = true;
    try {
      return await this.run(request);
    } finally {
      await this.screens.idle();
      this.busy = false;
    }
  }

  /**
   * Provisions a PIN (ASCII digits or a digit string; `minLength..maxLength` digits) and
   * clears failures and the lock: a host action. A `Uint8Array` argument is left to the
   * caller to wipe; a string is copied into a buffer that is wiped here (the string
   * itself cannot be).
   */
  async setPin(pin: Uint8Array | string): Promise<void> {
    const bytes = typeof pin === 'string' ? Buffer.from(pin, 'latin1') : pin;
    try {
      const digitsOnly = bytes.every((b) => b >= 0x30 && b <= 0x39);
      if (!digitsOnly || bytes.length < this.minLength || bytes.length > this.maxLength)
        throw new ValidationError(`a PIN is ${this.minLength} to ${this.maxLength} digits`, {
          code: 'PIN_FORMAT',
          device: 'password',
        });
      const record = await this.verifier.hash(bytes);
      await this.exclusive(async () => {
        await this.lockStore.save({ pin: record, failures: 0, locked: false, lockedAtMs: null });
      });
      this.log?.info('password.pin_set', {});
    } finally {
      if (typeof pin === 'string') bytes.fill(0);
    }
  }

  /**
   * Host unlock: clears the lock and the failure count. Authenticating the host (a signed
   * command from the cloud, a provisioning cable) is the caller's job.
   */
  async unlock(): Promise<void> {
    await this.exclusive(async () => {
      const s = await this.lockStore.load();
      await this.lockStore.save({ ...s, failures: 0, locked: false, lockedAtMs: null });
    });
    this.log?.info('password.unlocked', {});
  }

  async status(): Promise<PasswordStatus> {
    const s = await this.lockStore.load();
    return {
      pinSet: s.pin !== null,
      locked: s.locked,
      failures: s.failures,
      attemptsLeft: s.locked ? 0 : Math.max(0, this.maxAttempts - s.failures),
      lockedAtMs: s.lockedAtMs,
    };
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private left(s: PasswordState): number {
    return s.locked ? 0 : Math.max(0, this.maxAttempts - s.failures);
  }

  private unavailable(err: unknown, attempts: number, attemptsLeft: number): PinResult {
    const code = err instanceof HandsetError ? err.code : 'UNEXPECTED';
    this.log?.warn('password.unavailable', { code });
    return { ok: false, reason: 'unavailable', code, attempts, attemptsLeft };
  }

  private lockedResult(attempts: number): PinResult {
    this.screens.request({ kind: 'locked' });
    return { ok: false, reason: 'locked', attempts, attemptsLeft: 0 };
  }

  private async run(request: PinRequest): Promise<PinResult> {
    this.log?.info('password.requested', { reason: request.reason });
    let state: PasswordState;
    try {
      state = await this.lockStore.load();
    } catch (err) {
      return this.unavailable(err, 0, 0);
    }
    if (state.locked) {
      this.log?.info('password.refused_locked', {});
      return this.lockedResult(0);
    }
    if (!state.pin) {
      this.log?.warn('password.not_set', {});
      return { ok: false, reason: 'not_set', attempts: 0, attemptsLeft: this.left(state) };
    }
    if (!this.pinpad.isOpen) {
      try {
        await this.pinpad.close();
        await this.pinpad.open();
      } catch (err) {
        return this.unavailable(err, 0, this.left(state));
      }
    }

    let attempts = 0;
    for (;;) {
      const attemptsLeft = this.left(state);
      const screen = (entered: number): Screen => ({
        kind: 'pin',
        entered,
        maxDigits: this.maxLength,
        ...(request.amount ? { amount: request.amount } : {}),
        ...(state.failures > 0 ? { attemptsLeft } : {}),
      });
      this.screens.request(screen(0));
      const buffer = new Uint8Array(this.maxLength);
      let verdict: boolean;
      try {
        const pin = await this.pinpad.readPin({
          buffer,
          minLength: this.minLength,
          maxLength: this.maxLength,
          timeoutMs: this.timeoutMs,
          idleTimeoutMs: this.idleTimeoutMs,
          ...(request.signal ? { signal: request.signal } : {}),
          onProgress: (p) => this.screens.request(screen(p.entered)),
        });
        attempts++;
        try {
          // Count first, durably: the check below may be cut short by a power loss.
          state = await this.exclusive(async () => {
            const s = await this.lockStore.load();
            if (!s.locked && s.pin) await this.lockStore.save({ ...s, failures: s.failures + 1 });
            return s;
          });
          if (state.locked) return this.lockedResult(attempts);
          if (!state.pin) return { ok: false, reason: 'not_set', attempts, attemptsLeft: this.left(state) };
          try {
            verdict = await this.verifier.verify(pin.bytes(), state.pin);
          } catch (err) {
            await this.exclusive(async () => {
              const s = await this.lockStore.load();
              await this.lockStore.save({ ...s, failures: Math.max(0, s.failures - 1) });
            }).catch(() => undefined);
            return this.unavailable(err, attempts, attemptsLeft);
          }
        } finally {
          pin.wipe();
        }
      } catch (err) {
        if (err instanceof PinEntryAbortedError) {
          this.log?.info('password.aborted', { by: err.by });
          return { ok: false, reason: 'aborted', abortedBy: err.by, attempts, attemptsLeft };
        }
        if (err instanceof PinEntryTimeoutError) {
          this.log?.info('password.timeout', { kind: err.kind });
          return { ok: false, reason: 'timeout', attempts, attemptsLeft };
        }
        return this.unavailable(err, attempts, attemptsLeft);
      } finally {
        buffer.fill(0);
      }

      try {
        if (verdict) {
          await this.exclusive(async () => {
            const s = await this.lockStore.load();
            await this.lockStore.save({ ...s, failures: 0 });
          });
          this.log?.info('password.accepted', { reason: request.reason, attempts });
          return { ok: true, method: 'fingerprint+pin', attempts };
        }
        const failures = state.failures + 1;
        if (failures >= this.maxAttempts) {
          const lockedAtMs = this.clock.now();
          await this.exclusive(async () => {
            const s = await this.lockStore.load();
            await this.lockStore.save({ ...s, failures, locked: true, lockedAtMs });
          });
          this.log?.warn('password.locked', { failures });
          return this.lockedResult(attempts);
        }
        state = { ...state, failures };
        this.log?.info('password.rejected', { attemptsLeft: this.left(state) });
        if (request.retry === false) return { ok: false, reason: 'wrong_pin', attempts, attemptsLeft: this.left(state) };
      } catch (err) {
        return this.unavailable(err, attempts, this.left(state));
      }
    }
  }
}
