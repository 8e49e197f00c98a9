import { type Clock, systemClock } from '../../core/clock';
import { CanceledError, DeviceTimeoutError, TransportError, ValidationError } from '../../core/errors';
import type { GpioController, GpioEdge, GpioLevel, GpioLine, GpioLineRequest } from '../gpio';
import { type FaultTable, PASS } from './fault';

/** Who changed a simulated line's level. */
export type SimGpioDriver = 'host' | 'device' | 'bias';

/** One change of a simulated line, as observed on the wire (physical level). */
export interface SimGpioChange {
  level: GpioLevel;
  by: SimGpioDriver;
  /** `clock.monotonic()` at the change. */
  atMs: number;
}

/** The operations a fault override can intercept on a simulated GPIO controller / line. */
export interface SimGpioOps {
  requestLine: (request: GpioLineRequest) => GpioLine;
  read: (line: SimGpioLine) => GpioLevel;
  write: (line: SimGpioLine, value: GpioLevel) => void;
  waitFor: (line: SimGpioLine, value: GpioLevel, timeoutMs: number) => void;
}

/**
 * The wire of one simulated GPIO line: what a simulated device sees and drives. It is
 * the device face; the host gets a `GpioLine` handle from `SimGpioController.requestLine`.
 *
 * - Host outputs (DC, RST, PWR): the simulated chip observes them with `level`,
 *   `onChange()` and `history`.
 * - Host inputs (BUSY, touch): the simulated chip drives them with `setLevel()`.
 *
 * Levels here are PHYSICAL (what a scope would show); an `activeLow` request inverts
 * only the host handle's view.
 */
export class SimGpioLine {
  readonly chipLabel: string;
  readonly offset: number;
  /** Every level change, in order, with virtual/real time. */
  readonly history: SimGpioChange[] = [];
  /** The host's current request, if the line is requested. */
  request: GpioLineRequest | undefined;

  private level_: GpioLevel = 0;
  private deviceDrive: GpioLevel | undefined;
  private readonly listeners = new Set<(level: GpioLevel, by: SimGpioDriver) => void>();

  constructor(
    chipLabel: string,
    offset: number,
    private readonly clock: Clock,
  ) {
    this.chipLabel = chipLabel;
    this.offset = offset;
  }

  /** `chipLabel:offset`, used in error messages. */
  get name(): string {
    return `${this.chipLabel}:${this.offset}`;
  }

  /** The physical level on the wire now. */
  get level(): GpioLevel {
    return this.level_;
  }

  /** True while the host has the line requested as an output. */
  get hostDriven(): boolean {
    return this.request?.direction === 'out';
  }

  /**
   * Device face: drive the line to `level` (BUSY high, finger touch). Rejected with
   * `ValidationError` (code `GPIO_CONTENTION`) while the host drives the line as an output.
   */
  setLevel(level: GpioLevel): void {
    if (level !== 0 && level !== 1) throw new ValidationError(`${this.name}: level must be 0 or 1`, { device: this.name });
    if (this.hostDriven)
      throw new ValidationError(`${this.name} is a host output; the device cannot drive it`, {
        code: 'GPIO_CONTENTION',
        device: this.name,
      });
    this.deviceDrive = level;
    this.set(level, 'device');
  }

  /** Device face: stop driving the line; it falls to its bias (pull-up -> 1, else 0). */
  release(): void {
    this.deviceDrive = undefined;
    if (!this.hostDriven) this.set(this.request?.bias === 'pull-up' ? 1 : 0, 'bias');
  }

  /** Subscribes to level changes (physical level, and who caused it). Returns an unsubscribe. */
  onChange(listener: (level: GpioLevel, by: SimGpioDriver) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Host writes only (DC/RST/PWR toggles), for sequence assertions. */
  get hostWrites(): SimGpioChange[] {
    return this.history.filter((c) => c.by === 'host');
  }

  /** @internal used by the host handle. */
  claim(request: GpioLineRequest): void {
    this.request = request;
    if (request.direction === 'out') {
      const initial = request.initial ?? 0;
      this.set(request.activeLow ? ((1 - initial) as GpioLevel) : initial, 'host');
    } else if (this.deviceDrive === undefined) {
      this.set(request.bias === 'pull-up' ? 1 : 0, 'bias');
    }
  }

  /** @internal */
  unclaim(): void {
    this.request = undefined;
    if (this.deviceDrive !== undefined) this.set(this.deviceDrive, 'device');
  }

  /** @internal */
  hostSet(level: GpioLevel): void {
    this.set(level, 'host');
  }

  private set(level: GpioLevel, by: SimGpioDriver): void {
    if (level === this.level_ && this.history.length > 0) return;
    this.level_ = level;
    this.history.push({ level, by, atMs: this.clock.monotonic() });
    for (const l of [...this.listeners]) l(level, by);
  }
}

/** One simulated GPIO chip: a label and `lines` line offsets. */
export class SimGpioChip {
  readonly label: string;
  readonly lineCount: number;
  private readonly lines = new Map<number, SimGpioLine>();

  constructor(
    label: string,
    lineCount: number,
    private readonly clock: Clock,
  ) {
    this.label = label;
    this.lineCount = lineCount;
  }

  /** Device face of line `offset`; throws `TransportError` GPIO_NOT_FOUND when out of range. */
  line(offset: number): SimGpioLine {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.lineCount)
      throw new TransportError(`GPIO line ${offset} not found on chip '${this.label}' (${this.lineCount} lines)`, {
        code: 'GPIO_NOT_FOUND',
        device: `${this.label}:${offset}`,
      });
    let l = this.lines.get(offset);
    if (!l) {
      l = new SimGpioLine(this.label, offset, this.clock);
      this.lines.set(offset, l);
    }
    return l;
  }
}

export interface SimGpioControllerOptions {
  /** Chips on the simulated board. Default: one `pinctrl-bcm2711` chip with 58 lines (a Pi 4). */
  chips?: Array<{ label: string; lines: number }>;
  /** Clock for `waitFor` timeouts and history timestamps. Default `systemClock`. */
  clock?: Clock;
}

/**
 * A simulated board's GPIO: implements `GpioController` (the bus face drivers use) and
 * exposes every line's device face via `line(chipLabel, offset)`.
 *
 * Realism: requests complete asynchronously; a line can be requested once at a time
 * (`GPIO_BUSY`); unknown labels/offsets reject with `GPIO_NOT_FOUND`; `waitFor` times out
 * on the injected clock; `close()` cancels pending waits with `CanceledError`.
 */
export class SimGpioController implements GpioController {
  /** Per-operation fault overrides (see fault.ts). */
  faults: FaultTable<SimGpioOps> = {};
  readonly clock: Clock;
  private readonly chips = new Map<string, SimGpioChip>();

  constructor(options: SimGpioControllerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    for (const c of options.chips ?? [{ label: 'pinctrl-bcm2711', lines: 58 }]) this.addChip(c.label, c.lines);
  }

  /** Adds a chip (e.g. a second GPIO expander). */
  addChip(label: string, lines: number): SimGpioChip {
    const chip = new SimGpioChip(label, lines, this.clock);
    this.chips.set(label, chip);
    return chip;
  }

  /** The chip labelled `label`; throws `TransportError` GPIO_NOT_FOUND naming the known labels. */
  chip(label: string): SimGpioChip {
    const chip = this.chips.get(label);
    if (!chip)
      throw new TransportError(`GPIO chip '${label}' not found (have: ${[...this.chips.keys()].join(', ') || 'none'})`, {
        code: 'GPIO_NOT_FOUND',
        device: label,
      });
    return chip;
  }

  /** Device face of a line. */
  line(chipLabel: string, offset: number): SimGpioLine {
    return this.chip(chipLabel).line(offset);
  }

  async requestLine(request: GpioLineRequest): Promise<GpioLine> {
    await tick();
    const f = this.faults.requestLine;
    if (f) {
      const r = await f(request);
      if (r !== PASS) return r;
    }
    const wire = this.line(request.chipLabel, request.line);
    if (wire.request)
      throw new TransportError(`GPIO ${wire.name} is busy (requested by '${wire.request.consumer ?? 'unknown'}')`, {
        code: 'GPIO_BUSY',
        device: wire.name,
      });
    if (request.direction !== 'in' && request.direction !== 'out')
      throw new ValidationError(`GPIO ${wire.name}: direction must be 'in' or 'out'`, { device: wire.name });
    wire.claim({ ...request });
    return new SimGpioHandle(this, wire, request);
  }
}

type Waiter = { reject: (e: unknown) => void; cleanup: () => void };

/** The host's handle on a simulated line (implements `GpioLine`). */
class SimGpioHandle implements GpioLine {
  readonly name: string;
  readonly direction: 'in' | 'out';
  private closed = false;
  private readonly waiters = new Set<Waiter>();
  private readonly unsubs = new Set<() => void>();
  private readonly activeLow: boolean;

  constructor(
    private readonly ctl: SimGpioController,
    private readonly wire: SimGpioLine,
    request: GpioLineRequest,
  ) {
    this.name = wire.name;
    this.direction = request.direction;
    this.activeLow = request.activeLow ?? false;
  }

  private logical(level: GpioLevel): GpioLevel {
    return this.activeLow ? ((1 - level) as GpioLevel) : level;
  }

  async read(): Promise<GpioLevel> {
    this.assertOpen();
    await tick();
    this.assertOpen();
    const f = this.ctl.faults.read;
    if (f) {
      const r = await f(this.wire);
      if (r !== PASS) return r;
    }
    return this.logical(this.wire.level);
  }

  async write(value: GpioLevel): Promise<void> {
    this.assertOpen();
    if (value !== 0 && value !== 1) throw new ValidationError(`GPIO ${this.name}: value must be 0 or 1`, { device: this.name });
    if (this.direction !== 'out')
      throw new TransportError(`GPIO ${this.name} is an input; cannot write`, { code: 'GPIO_DIRECTION', device: this.name });
    await tick();
    this.assertOpen();
    const f = this.ctl.faults.write;
    if (f) {
      const r = await f(this.wire, value);
      if (r !== PASS) return;
    }
    this.wire.hostSet(this.logical(value));
  }

  async waitFor(value: GpioLevel, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    if (signal?.aborted)
      throw new CanceledError(`wait on GPIO ${this.name} aborted`, { device: this.name, cause: signal.reason });
    const f = this.ctl.faults.waitFor;
    if (f) {
      const r = await f(this.wire, value, timeoutMs);
      if (r !== PASS) return;
    }
    if (this.logical(this.wire.level) === value) return;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        reject,
        cleanup: () => {
          this.waiters.delete(waiter);
          unsub();
          cancelTimer();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const unsub = this.wire.onChange((level) => {
        if (this.logical(level) !== value) return;
        waiter.cleanup();
        resolve();
      });
      const cancelTimer = this.ctl.clock.setTimeout(() => {
        waiter.cleanup();
        reject(
          new DeviceTimeoutError(`GPIO ${this.name} did not reach ${value} within ${timeoutMs} ms`, timeoutMs, {
            device: this.name,
          }),
        );
      }, timeoutMs);
      const onAbort = () => {
        waiter.cleanup();
        reject(new CanceledError(`wait on GPIO ${this.name} aborted`, { device: this.name, cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  watch(edge: GpioEdge, callback: (level: GpioLevel) => void): () => void {
    this.assertOpen();
    const unsub = this.wire.onChange((physical) => {
      const level = this.logical(physical);
      if (edge === 'rising' && level !== 1) return;
      if (edge === 'falling' && level !== 0) return;
      queueMicrotask(() => {
        if (!this.closed) callback(level);
      });
    });
    this.unsubs.add(unsub);
    return () => {
      unsub();
      this.unsubs.delete(unsub);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubs) u();
    this.unsubs.clear();
    for (const w of [...this.waiters]) {
      w.cleanup();
      w.reject(new CanceledError(`GPIO ${this.name} closed during wait`, { device: this.name }));
    }
    this.wire.unclaim();
    await tick();
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError(`GPIO ${this.name} is closed`, { code: 'NOT_OPEN', device: this.name });
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
