/**
 * Request/response pairing (zigbee-herdsman's Waitress, reduced to what a half-duplex
 * link needs): incoming items are queued until someone waits for them, a waiter
 * takes the first matching item, and items that do not match what is awaited are
 * handed to `onDiscard` (reported, never silently lost). Timeouts name what was
 * awaited.
 */
import type { Clock } from '../core/clock';
import { CanceledError, DeviceTimeoutError } from '../core/errors';

export interface WaitSpec<T> {
  /** Which item ends the wait. */
  match: (item: T) => boolean;
  timeoutMs: number;
  /** Appears in the timeout message, e.g. `ack to UpImage (0x0A)`. */
  description: string;
  signal?: AbortSignal;
}

interface Waiter<T> {
  spec: WaitSpec<T>;
  resolve: (item: T) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

export class Waitress<T> {
  private queue: T[] = [];
  private waiter: Waiter<T> | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onDiscard: (item: T, awaited: string | undefined) => void = () => {},
    private readonly device = 'r307',
  ) {}

  /** Delivers an item: to the waiter when it matches, else queued (or discarded while someone waits for something else). */
  push(item: T): void {
    const w = this.waiter;
    if (!w) {
      this.queue.push(item);
      return;
    }
    if (w.spec.match(item)) {
      this.waiter = undefined;
      w.cleanup();
      w.resolve(item);
    } else this.onDiscard(item, w.spec.description);
  }

  /** Resolves with the first queued or future matching item; non-matching queued items are discarded. */
  waitFor(spec: WaitSpec<T>): Promise<T> {
    if (this.waiter) return Promise.reject(new Error(`Waitress: already waiting for ${this.waiter.spec.description}`));
    while (this.queue.length) {
      const item = this.queue.shift() as T;
      if (spec.match(item)) return Promise.resolve(item);
      this.onDiscard(item, spec.description);
    }
    if (spec.signal?.aborted)
      return Promise.reject(
        new CanceledError(`${spec.description}: aborted`, { device: this.device, cause: spec.signal.reason }),
      );
    return new Promise<T>((resolve, reject) => {
      const cancelTimer = this.clock.setTimeout(() => {
        if (this.waiter !== w) return;
        this.waiter = undefined;
        w.cleanup();
        reject(
          new DeviceTimeoutError(`no ${spec.description} within ${spec.timeoutMs} ms`, spec.timeoutMs, {
            device: this.device,
            details: { awaited: spec.description },
          }),
        );
      }, spec.timeoutMs);
      const onAbort = () => {
        if (this.waiter !== w) return;
        this.waiter = undefined;
        w.cleanup();
        reject(new CanceledError(`${spec.description}: aborted`, { device: this.device, cause: spec.signal?.reason }));
      };
      spec.signal?.addEventListener('abort', onAbort, { once: true });
      const w: Waiter<T> = {
        spec,
        resolve,
        reject,
        cleanup: () => {
          cancelTimer();
          spec.signal?.removeEventListener('abort', onAbort);
        },
      };
      this.waiter = w;
    });
  }

  /** Fails the current wait (the port closed or vanished). */
  rejectAll(err: unknown): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      w.cleanup();
      w.reject(err);
    }
  }

  /** Drops queued items (before a new command, after a resync). Returns how many. */
  clear(): number {
    const n = this.queue.length;
    for (const item of this.queue) this.onDiscard(item, undefined);
    this.queue = [];
    return n;
  }

  get waiting(): boolean {
    return this.waiter !== undefined;
  }
}

/** A FIFO mutex: `run(fn)` executes one function at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<R>(fn: () => Promise<R>): Promise<R> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
