/**
 * USB HID PIN pad driver over any `HidDevice` (node-hid on the device, `SimHidDevice`
 * in simulation).
 *
 * Once open, a background loop reads every input report, parses it
 * (`parseBootReport`) and feeds a `KeyEdgeDetector`, so key state stays right across
 * rollover and across periods when nobody is reading. Key-downs reach at most one reader
 * (`readKey`, `keys()`, or `readPin`); with no reader they are dropped, so keys typed
 * before a PIN prompt never become part of a PIN and no digit is kept in memory between
 * entries. Each raw report is zeroed after parsing.
 *
 * `readPin` writes ASCII digits straight into the caller's buffer and returns a
 * `PinBuffer` view of it; progress callbacks, events, logs and errors carry counts and
 * outcomes only, never digits. On timeout, abort or disconnect the buffer is zeroed
 * before the promise rejects.
 */
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { type Clock, systemClock } from '../core/clock';
import { CanceledError, DeviceTimeoutError, HandsetError, TransportError, ValidationError } from '../core/errors';
import type { HidDevice } from '../transport/hid';
import { PinEntryAbortedError, PinEntryTimeoutError, PinPadBusyError } from './errors';
import {
  DEFAULT_KEYMAP,
  KeyEdgeDetector,
  keyForUsage,
  type PinKey,
  type PinKeymap,
  PinPadReportError,
  parseBootReport,
} from './protocol';

const NS = 'pinpad';

/** The log a PIN pad writes to (a `CloudLogger`-shaped object fits). Fields never hold digits or report bytes. */
export interface PinPadLogger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

export interface PinPadOptions {
  /** The HID transport (opened and closed by the PinPad). */
  device: HidDevice;
  /** Timeouts run on this clock. Default `systemClock`; `ManualClock` in tests. */
  clock?: Clock;
  /** Set when the pad sends numbered reports (9 bytes, this ID first). */
  reportId?: number;
  /** Usage -> key map. Default `DEFAULT_KEYMAP` (keypad and top-row digits, Enter, Esc, Backspace). */
  keymap?: PinKeymap;
  log?: PinPadLogger;
}

/** One key-down as `readKey` / `keys()` hand it to their caller. */
export interface PinKeyEvent {
  key: PinKey;
  /** The HID usage that went down. */
  usage: number;
  /** `clock.monotonic()` when the report was processed. */
  atMs: number;
}

/** What happened during `readPin`, without the digit itself. */
export interface PinProgress {
  /** Digits in the buffer now. */
  entered: number;
  /**
   * `digit` added one; `backspace` removed one (or none at 0); `too-short` Enter before
   * `minLength`; `full` a digit beyond `maxLength` was ignored.
   */
  event: 'digit' | 'backspace' | 'too-short' | 'full';
}

export interface ReadPinOptions {
  /** Fewest digits Enter accepts. Default 4. */
  minLength?: number;
  /** Most digits kept; more are ignored. Default 6, at most 12 (ISO 9564). */
  maxLength?: number;
  /** Whole entry limit. Default 30,000 ms. */
  timeoutMs?: number;
  /** Limit since the last key (or the start). Default: `timeoutMs`. */
  idleTimeoutMs?: number;
  /** Aborting rejects with `PinEntryAbortedError` (by 'caller'). */
  signal?: AbortSignal;
  /**
   * Where the digits go (ASCII '0'..'9'), at least `maxLength` bytes; zeroed first.
   * Default: a new buffer. Either way the caller wipes it (`PinBuffer.wipe()`) after use.
   */
  buffer?: Uint8Array;
  /** Called after every key that changes or tries to change the entry (drive a masked PIN screen). */
  onProgress?: (progress: PinProgress) => void;
}

export interface PinPadStats {
  /** Input reports read. */
  reports: number;
  /** Reports that were not boot keyboard reports (dropped, logged with their length only). */
  badReports: number;
  /** Phantom-state reports (ignored, key state kept). */
  rollovers: number;
  /** Key-downs of mapped keys. */
  keyDowns: number;
  /** Key-downs of usages the key map does not use. */
  ignoredKeys: number;
  /** Mapped key-downs that arrived with no reader attached (dropped). */
  unclaimedKeys: number;
}

export interface PinPadEvents {
  /** The transport failed (hot-unplug): reads reject with this until `close()` + `open()`. */
  disconnect: [error: HandsetError];
  /** A report that was not a boot keyboard report (dropped). */
  badReport: [error: PinPadReportError];
}

/**
 * The digits of one PIN entry: a view onto the caller's buffer (ASCII digits). String
 * conversion, JSON and `util.inspect` print a placeholder, so an accidental log line
 * cannot show the PIN.
 */
export class PinBuffer {
  private len: number;
  constructor(
    private readonly buf: Uint8Array,
    length: number,
  ) {
    this.len = length;
  }

  get length(): number {
    return this.len;
  }

  /** The digits (ASCII), a view onto the buffer - not a copy. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Zeroes the whole buffer. */
  wipe(): void {
    this.buf.fill(0);
    this.len = 0;
  }

  toString(): string {
    return '[PIN redacted]';
  }

  toJSON(): string {
    return '[PIN redacted]';
  }

  [inspect.custom](): string {
    return 'PinBuffer [PIN redacted]';
  }
}

interface Sink {
  key(ev: PinKeyEvent): void;
  fail(err: HandsetError): void;
}

/**
 * A USB HID PIN pad. `open()` opens the transport and starts reading; then one reader
 * at a time: `readKey()`, `keys()` or `readPin()` (a second one rejects with
 * `PinPadBusyError`). A hot-unplug rejects the active reader with the transport's
 * `TransportError` (DISCONNECTED) and every later read, until `close()` and `open()`.
 */
export class PinPad extends EventEmitter<PinPadEvents> {
  readonly device: HidDevice;
  readonly clock: Clock;
  readonly stats: PinPadStats = { reports: 0, badReports: 0, rollovers: 0, keyDowns: 0, ignoredKeys: 0, unclaimedKeys: 0 };
  private readonly reportId: number | undefined;
  private readonly keymap: PinKeymap;
  private readonly log: PinPadLogger | undefined;
  private readonly detector = new KeyEdgeDetector();
  private opened = false;
  private generation = 0;
  private failure: HandsetError | undefined;
  private sink: Sink | undefined;
  private loop: Promise<void> | undefined;

  constructor(options: PinPadOptions) {
    super();
    this.device = options.device;
    this.clock = options.clock ?? systemClock;
    this.reportId = options.reportId;
    this.keymap = options.keymap ?? DEFAULT_KEYMAP;
    this.log = options.log;
  }

  /** Open, and not failed. */
  get isOpen(): boolean {
    return this.opened && this.failure === undefined;
  }

  /** The transport failure that stopped reading, if any. */
  get lastError(): HandsetError | undefined {
    return this.failure;
  }

  /** Opens the transport and starts the report loop. */
  async open(): Promise<void> {
    if (this.opened) throw new TransportError('PIN pad is already open', { code: 'ALREADY_OPEN', device: NS });
    await this.device.open();
    this.opened = true;
    this.failure = undefined;
    this.detector.reset();
    const gen = ++this.generation;
    this.loop = this.run(gen);
  }

  /** Stops reading and closes the transport; an active reader rejects with `CanceledError`. Idempotent. */
  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.generation++;
    this.sink?.fail(new CanceledError('PIN pad closed', { device: NS }));
    await this.device.close().catch(() => undefined);
    await this.loop;
    this.loop = undefined;
  }

  /**
   * The next key-down. Rejects with `DeviceTimeoutError` after `timeoutMs`, `CanceledError`
   * when `signal` aborts or the pad closes, the transport's error on unplug.
   */
  readKey(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<PinKeyEvent> {
    return new Promise((resolve, reject) => {
      let cancelTimer: (() => void) | undefined;
      const { signal, timeoutMs } = options;
      const done = () => {
        cancelTimer?.();
        signal?.removeEventListener('abort', onAbort);
        this.detach(sink);
      };
      const onAbort = () => {
        done();
        reject(new CanceledError('key read aborted', { device: NS, cause: signal?.reason }));
      };
      const sink: Sink = {
        key: (ev) => {
          done();
          resolve(ev);
        },
        fail: (err) => {
          done();
          reject(err);
        },
      };
      const refused = this.attach(sink, signal);
      if (refused) return reject(refused);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined)
        cancelTimer = this.clock.setTimeout(() => {
          done();
          reject(new DeviceTimeoutError(`no key pressed on the PIN pad within ${timeoutMs} ms`, timeoutMs, { device: NS }));
        }, timeoutMs);
    });
  }

  /**
   * Key-downs as an async iterator, from the moment of the call until `return()` (or a
   * `for await` break), the signal, or a failure (which the iterator throws).
   */
  keys(signal?: AbortSignal): AsyncIterableIterator<PinKeyEvent> {
    const queue: PinKeyEvent[] = [];
    let waiter: { resolve: (r: IteratorResult<PinKeyEvent>) => void; reject: (e: unknown) => void } | undefined;
    let error: unknown;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      this.detach(sink);
    };
    const onAbort = () => {
      finish();
      const w = waiter;
      waiter = undefined;
      w?.resolve({ value: undefined, done: true });
    };
    const sink: Sink = {
      key: (ev) => {
        const w = waiter;
        waiter = undefined;
        if (w) w.resolve({ value: ev, done: false });
        else queue.push(ev);
      },
      fail: (err) => {
        error = err;
        finish();
        const w = waiter;
        waiter = undefined;
        w?.reject(err);
      },
    };
    const refused = this.attach(sink, signal);
    if (refused) {
      error = refused;
      finished = true;
    } else signal?.addEventListener('abort', onAbort, { once: true });
    const it: AsyncIterableIterator<PinKeyEvent> = {
      next: () => {
        const head = queue.shift();
        if (head) return Promise.resolve({ value: head, done: false });
        if (error !== undefined) {
          const e = error;
          error = undefined;
          return Promise.reject(e);
        }
        if (finished) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiter = { resolve, reject };
        });
      },
      return: () => {
        finish();
        queue.length = 0;
        const w = waiter;
        waiter = undefined;
        w?.resolve({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /**
   * Reads one PIN: digits go into the buffer, Backspace removes the last one, Enter
   * finishes once `minLength` digits are in, Cancel (Esc) rejects with
   * `PinEntryAbortedError` (by 'user'). Rejects with `PinEntryTimeoutError` when a limit
   * runs out, `PinEntryAbortedError` (by 'caller') on the signal or `close()`, the
   * transport's `TransportError` on unplug; the buffer is zeroed before any rejection.
   */
  readPin(options: ReadPinOptions = {}): Promise<PinBuffer> {
    const min = options.minLength ?? 4;
    const max = options.maxLength ?? 6;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const idleMs = options.idleTimeoutMs ?? timeoutMs;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 12 || min > max)
      return Promise.reject(
        new ValidationError(`PIN length limits must satisfy 1 <= min <= max <= 12 (got ${min}..${max})`, {
          code: 'PIN_OPTIONS',
          device: NS,
        }),
      );
    if (!(timeoutMs > 0) || !(idleMs > 0))
      return Promise.reject(new ValidationError('PIN timeouts must be positive', { code: 'PIN_OPTIONS', device: NS }));
    const buf = options.buffer ?? new Uint8Array(max);
    if (buf.length < max)
      return Promise.reject(
        new ValidationError(`PIN buffer has ${buf.length} bytes, maxLength needs ${max}`, { code: 'PIN_OPTIONS', device: NS }),
      );
    buf.fill(0);
    const { signal, onProgress } = options;
    return new Promise((resolve, reject) => {
      let n = 0;
      let settled = false;
      let cancelIdle: (() => void) | undefined;
      let cancelTotal: (() => void) | undefined;
      const finish = (err?: HandsetError) => {
        if (settled) return;
        settled = true;
        cancelIdle?.();
        cancelTotal?.();
        signal?.removeEventListener('abort', onAbort);
        this.detach(sink);
        if (err) {
          buf.fill(0);
          n = 0;
          reject(err);
        } else resolve(new PinBuffer(buf, n));
      };
      const progress = (event: PinProgress['event']) => {
        if (!onProgress) return;
        try {
          onProgress({ entered: n, event });
        } catch (err) {
          this.log?.warn('pinpad.progress_callback_failed', { error: err instanceof Error ? err.name : typeof err });
        }
      };
      const armIdle = () => {
        cancelIdle?.();
        cancelIdle = this.clock.setTimeout(() => finish(new PinEntryTimeoutError('idle', idleMs)), idleMs);
      };
      const onAbort = () => finish(new PinEntryAbortedError('caller', { cause: signal?.reason }));
      const sink: Sink = {
        key: (ev) => {
          if (settled) return;
          armIdle();
          switch (ev.key) {
            case 'enter':
              if (n >= min) finish();
              else progress('too-short');
              return;
            case 'cancel':
              finish(new PinEntryAbortedError('user'));
              return;
            case 'backspace':
              if (n > 0) buf[--n] = 0;
              progress('backspace');
              return;
            default:
              if (n >= max) return progress('full');
              buf[n++] = ev.key.charCodeAt(0);
              progress('digit');
          }
        },
        fail: (err) => finish(err instanceof CanceledError ? new PinEntryAbortedError('caller', { cause: err }) : err),
      };
      const refused = this.attach(sink, signal);
      if (refused) {
        settled = true;
        buf.fill(0);
        return reject(refused instanceof CanceledError ? new PinEntryAbortedError('caller', { cause: refused }) : refused);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      armIdle();
      cancelTotal = this.clock.setTimeout(() => finish(new PinEntryTimeoutError('total', timeoutMs)), timeoutMs);
    });
  }

  /** Attaches the one reader; returns the error that refuses it, if any. */
  private attach(sink: Sink, signal?: AbortSignal): HandsetError | undefined {
    if (this.failure) return this.failure;
    if (!this.opened) return new TransportError('PIN pad is not open', { code: 'NOT_OPEN', device: NS });
    if (this.sink) return new PinPadBusyError();
    if (signal?.aborted) return new CanceledError('read aborted', { device: NS, cause: signal.reason });
    this.sink = sink;
    return undefined;
  }

  private detach(sink: Sink): void {
    if (this.sink === sink) this.sink = undefined;
  }

  private async run(gen: number): Promise<void> {
    while (gen === this.generation) {
      let raw: Uint8Array;
      try {
        raw = await this.device.read();
      } catch (err) {
        if (gen !== this.generation) return;
        const e =
          err instanceof HandsetError
            ? err
            : new TransportError(`PIN pad read failed: ${err instanceof Error ? err.message : String(err)}`, {
                code: 'DISCONNECTED',
                device: NS,
                cause: err,
              });
        this.failure = e;
        this.log?.warn('pinpad.disconnected', { code: e.code });
        this.sink?.fail(e);
        this.emit('disconnect', e);
        return;
      }
      if (gen !== this.generation) return;
      try {
        this.handle(raw);
      } finally {
        raw.fill(0);
      }
    }
  }

  private handle(raw: Uint8Array): void {
    this.stats.reports++;
    let report: ReturnType<typeof parseBootReport>;
    try {
      report = parseBootReport(raw, this.reportId === undefined ? {} : { reportId: this.reportId });
    } catch (err) {
      if (!(err instanceof PinPadReportError)) throw err;
      this.stats.badReports++;
      this.log?.warn('pinpad.bad_report', { length: raw.length });
      this.emit('badReport', err);
      return;
    }
    if (report.rollover) {
      this.stats.rollovers++;
      return;
    }
    const { down } = this.detector.next(report);
    report.keys.fill(0);
    for (const usage of down) {
      const key = keyForUsage(usage, this.keymap);
      if (!key) {
        this.stats.ignoredKeys++;
        continue;
      }
      this.stats.keyDowns++;
      if (!this.sink) {
        this.stats.unclaimedKeys++;
        continue;
      }
      this.sink.key({ key, usage, atMs: this.clock.monotonic() });
    }
  }
}
