/**
 * Time as an injected dependency. Drivers and simulators take a `Clock` so tests run on
 * a `ManualClock` (instant, deterministic) and benchmarks/devices on `systemClock`.
 */
export interface Clock {
  /** Milliseconds since the epoch (wall time, for timestamps on messages). */
  now(): number;
  /** Monotonic milliseconds (for durations and timeouts). */
  monotonic(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(abortError(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A virtual clock. Time moves only when `advance()` is called, or - with
 * `autoAdvance` - whenever every pending task has had a chance to run and a timer is
 * waiting: then the clock jumps to the next timer. Auto-advance lets code that sleeps
 * for "1.2 s of sensor time" finish in microseconds without the test driving time.
 */
export class ManualClock implements Clock {
  private t: number;
  private readonly epoch: number;
  private timers: Timer[] = [];
  private seq = 0;
  private pumping = false;

  constructor(options: { startMs?: number; epochMs?: number; autoAdvance?: boolean } = {}) {
    this.t = options.startMs ?? 0;
    this.epoch = options.epochMs ?? Date.UTC(2026, 0, 1);
    this.autoAdvance = options.autoAdvance ?? true;
  }

  autoAdvance: boolean;

  now(): number {
    return this.epoch + this.t;
  }

  monotonic(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.schedulePump();
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      const cancel = this.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        cancel();
        reject(abortError(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = target;
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.timers.length;
  }

  private schedulePump(): void {
    if (!this.autoAdvance || this.pumping) return;
    this.pumping = true;
    // setImmediate runs after the microtask queue and pending I/O callbacks, so real
    // I/O (a pty, a socket) still gets its turn before virtual time jumps.
    setImmediate(() => {
      this.pumping = false;
      const next = this.timers[0];
      if (!next) return;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      if (this.timers.length) this.schedulePump();
    });
  }
}
