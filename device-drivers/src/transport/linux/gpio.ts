import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '../../core/clock';
import { CanceledError, DeviceTimeoutError, TransportError, ValidationError } from '../../core/errors';
import type { GpioController, GpioEdge, GpioLevel, GpioLine, GpioLineRequest } from '../gpio';

/** The part of node-libgpiod's `Line` this transport uses (libgpiod 1.x semantics). */
export interface GpiodLine {
  /** Logical value (ACTIVE_LOW already applied by the kernel). */
  getValue(): number;
  setValue(value: number): unknown;
  requestInputModeFlags(consumer: string, flags: number): unknown;
  requestOutputModeFlags(consumer: string, flags: number, defaultValue?: number): unknown;
  release(): unknown;
}

/** The part of node-libgpiod's `Chip` this transport uses. */
export interface GpiodChip {
  readonly label: string;
  readonly numberOfLines: number;
  getLine(offset: number): GpiodLine;
}

/** The part of the `node-libgpiod` module this transport uses (the injection seam for tests). */
export interface GpiodModule {
  Chip: new (identifier: number | string) => GpiodChip;
}

/** libgpiod 1.x `GPIOD_LINE_REQUEST_FLAG_*` bits (node-libgpiod `Line.RequestFlags`). */
export const GPIOD_FLAGS = {
  OPEN_DRAIN: 1,
  OPEN_SOURCE: 1 << 1,
  ACTIVE_LOW: 1 << 2,
  BIAS_DISABLE: 1 << 3,
  BIAS_PULL_DOWN: 1 << 4,
  BIAS_PULL_UP: 1 << 5,
} as const;

export interface LinuxGpioControllerOptions {
  /** The node-libgpiod module. Default: `import('node-libgpiod')`, lazily on first use. */
  gpiod?: GpiodModule;
  /**
   * Root of /dev and /sys for chip DISCOVERY (tests point it at a fake tree). Default '/'.
   * The chip itself is opened by number through the gpiod module.
   */
  root?: string;
  /**
   * How often `waitFor` and `watch` sample an input, in ms (clamped to 1..50). Default 2.
   * node-libgpiod 0.5 exposes no edge-event read, so edges are found by polling: a
   * pulse shorter than the interval can be missed by `watch` (not by `waitFor` on a
   * level that stays, which is what BUSY and touch lines do).
   */
  pollIntervalMs?: number;
  /** Clock for polling and timeouts. Default `systemClock`. */
  clock?: Clock;
}

interface ChipEntry {
  index: number;
  label: string | undefined;
  error?: string;
}

/**
 * `GpioController` over the GPIO character device (/dev/gpiochipN) with node-libgpiod.
 *
 * Chips are found by LABEL, never by number: the controller lists /dev/gpiochip*, and
 * reads each chip's label from /sys/bus/gpio/devices/gpiochipN/label when that file
 * exists, else from libgpiod's chip info. The first chip (lowest N) with the label wins,
 * so a `gpiochip4 -> gpiochip0` alias on a Pi 5 does not matter.
 */
export class LinuxGpioController implements GpioController {
  private readonly root: string;
  private readonly pollMs: number;
  private readonly clock: Clock;
  private gpiod: GpiodModule | undefined;

  constructor(private readonly options: LinuxGpioControllerOptions = {}) {
    this.root = options.root ?? '/';
    this.pollMs = Math.min(50, Math.max(1, options.pollIntervalMs ?? 2));
    this.clock = options.clock ?? systemClock;
    this.gpiod = options.gpiod;
  }

  /** Every GPIO chip with its label (undefined with `error` when it could not be read). */
  async listChips(): Promise<ChipEntry[]> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'dev'));
    } catch {
      names = [];
    }
    const indexes = names
      .map((n) => /^gpiochip(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const out: ChipEntry[] = [];
    for (const index of indexes) {
      const sys = await readFile(join(this.root, `sys/bus/gpio/devices/gpiochip${index}/label`), 'utf8').catch(() => undefined);
      if (sys !== undefined) {
        out.push({ index, label: sys.trim() });
        continue;
      }
      try {
        const gpiod = await this.module();
        out.push({ index, label: new gpiod.Chip(index).label });
      } catch (e) {
        out.push({ index, label: undefined, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return out;
  }

  async requestLine(request: GpioLineRequest): Promise<GpioLine> {
    const { chipLabel, line: offset, direction } = request;
    const name = `${chipLabel}:${offset}`;
    if (direction !== 'in' && direction !== 'out')
      throw new ValidationError(`GPIO ${name}: direction must be 'in' or 'out'`, { device: name });
    if (!Number.isInteger(offset) || offset < 0)
      throw new TransportError(`GPIO line ${offset} not found on chip '${chipLabel}'`, { code: 'GPIO_NOT_FOUND', device: name });
    const chips = await this.listChips();
    const entry = chips.find((c) => c.label === chipLabel);
    if (!entry) {
      const have = chips.map((c) => `gpiochip${c.index}=${c.label ?? `? (${c.error})`}`).join(', ') || 'no /dev/gpiochip*';
      throw new TransportError(`GPIO chip '${chipLabel}' not found (have: ${have})`, {
        code: 'GPIO_NOT_FOUND',
        device: chipLabel,
      });
    }
    const gpiod = await this.module();
    const devPath = `/dev/gpiochip${entry.index}`;
    let chip: GpiodChip;
    try {
      chip = new gpiod.Chip(entry.index);
    } catch (cause) {
      throw new TransportError(`cannot open ${devPath} ('${chipLabel}'): ${msg(cause)}`, {
        code: 'GPIO_OPEN',
        device: name,
        cause,
      });
    }
    if (offset >= chip.numberOfLines)
      throw new TransportError(`GPIO line ${offset} not found on chip '${chipLabel}' (${devPath}, ${chip.numberOfLines} lines)`, {
        code: 'GPIO_NOT_FOUND',
        device: name,
      });
    let flags = 0;
    if (request.activeLow) flags |= GPIOD_FLAGS.ACTIVE_LOW;
    if (request.bias === 'pull-up') flags |= GPIOD_FLAGS.BIAS_PULL_UP;
    else if (request.bias === 'pull-down') flags |= GPIOD_FLAGS.BIAS_PULL_DOWN;
    else if (request.bias === 'disabled') flags |= GPIOD_FLAGS.BIAS_DISABLE;
    const consumer = request.consumer ?? 'handset';
    const line = chip.getLine(offset);
    try {
      if (direction === 'out') line.requestOutputModeFlags(consumer, flags, request.initial ?? 0);
      else line.requestInputModeFlags(consumer, flags);
    } catch (cause) {
      const m = msg(cause);
      throw new TransportError(`cannot request GPIO ${name} (${devPath}): ${m}`, {
        code: /EBUSY|busy/i.test(m) ? 'GPIO_BUSY' : 'GPIO_REQUEST',
        device: name,
        cause,
      });
    }
    return new LinuxGpioLine(name, direction, line, this.clock, this.pollMs);
  }

  private async module(): Promise<GpiodModule> {
    if (this.gpiod) return this.gpiod;
    try {
      const mod = (await import('node-libgpiod')) as unknown as GpiodModule & { default?: GpiodModule };
      this.gpiod = typeof mod.Chip === 'function' ? mod : (mod.default as GpiodModule);
      return this.gpiod;
    } catch (cause) {
      throw new TransportError(`node-libgpiod unavailable (install libgpiod 1.6 and rebuild): ${msg(cause)}`, {
        code: 'GPIO_UNAVAILABLE',
        cause,
      });
    }
  }
}

type Waiter = { reject: (e: unknown) => void; cleanup: () => void };

class LinuxGpioLine implements GpioLine {
  private closed = false;
  private readonly waiters = new Set<Waiter>();
  private readonly watchers = new Set<{ edge: GpioEdge; cb: (l: GpioLevel) => void }>();
  private stopWatchPoll: (() => void) | undefined;
  private lastWatched: GpioLevel | undefined;

  constructor(
    readonly name: string,
    readonly direction: 'in' | 'out',
    private readonly line: GpiodLine,
    private readonly clock: Clock,
    private readonly pollMs: number,
  ) {}

  async read(): Promise<GpioLevel> {
    this.assertOpen();
    return this.sample();
  }

  async write(value: GpioLevel): Promise<void> {
    this.assertOpen();
    if (value !== 0 && value !== 1) throw new ValidationError(`GPIO ${this.name}: value must be 0 or 1`, { device: this.name });
    if (this.direction !== 'out')
      throw new TransportError(`GPIO ${this.name} is an input; cannot write`, { code: 'GPIO_DIRECTION', device: this.name });
    try {
      this.line.setValue(value);
    } catch (cause) {
      throw new TransportError(`write to GPIO ${this.name} failed: ${msg(cause)}`, { code: 'GPIO_IO', device: this.name, cause });
    }
  }

  async waitFor(value: GpioLevel, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    if (signal?.aborted)
      throw new CanceledError(`wait on GPIO ${this.name} aborted`, { device: this.name, cause: signal.reason });
    if (this.sample() === value) return;
    const deadline = this.clock.monotonic() + timeoutMs;
    await new Promise<void>((resolve, reject) => {
      let cancelPoll: () => void = () => undefined;
      const waiter: Waiter = {
        reject,
        cleanup: () => {
          this.waiters.delete(waiter);
          cancelPoll();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const poll = () => {
        let level: GpioLevel;
        try {
          level = this.sample();
        } catch (e) {
          waiter.cleanup();
          reject(e);
          return;
        }
        if (level === value) {
          waiter.cleanup();
          resolve();
          return;
        }
        const left = deadline - this.clock.monotonic();
        if (left <= 0) {
          waiter.cleanup();
          reject(
            new DeviceTimeoutError(`GPIO ${this.name} did not reach ${value} within ${timeoutMs} ms`, timeoutMs, {
              device: this.name,
            }),
          );
          return;
        }
        cancelPoll = this.clock.setTimeout(poll, Math.min(this.pollMs, left));
      };
      const onAbort = () => {
        waiter.cleanup();
        reject(new CanceledError(`wait on GPIO ${this.name} aborted`, { device: this.name, cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
      cancelPoll = this.clock.setTimeout(poll, Math.min(this.pollMs, Math.max(0, timeoutMs)));
    });
  }

  watch(edge: GpioEdge, callback: (level: GpioLevel) => void): () => void {
    this.assertOpen();
    const w = { edge, cb: callback };
    this.watchers.add(w);
    if (!this.stopWatchPoll) {
      this.lastWatched = this.sample();
      const tick = () => {
        if (this.closed || this.watchers.size === 0) {
          this.stopWatchPoll = undefined;
          return;
        }
        let level: GpioLevel;
        try {
          level = this.sample();
        } catch {
          this.stopWatchPoll = undefined;
          return;
        }
        if (level !== this.lastWatched) {
          this.lastWatched = level;
          for (const x of [...this.watchers]) {
            if (x.edge === 'both' || (x.edge === 'rising' && level === 1) || (x.edge === 'falling' && level === 0)) x.cb(level);
          }
        }
        this.stopWatchPoll = this.clock.setTimeout(tick, this.pollMs);
      };
      this.stopWatchPoll = this.clock.setTimeout(tick, this.pollMs);
    }
    return () => {
      this.watchers.delete(w);
      if (this.watchers.size === 0) {
        this.stopWatchPoll?.();
        this.stopWatchPoll = undefined;
      }
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatchPoll?.();
    this.stopWatchPoll = undefined;
    this.watchers.clear();
    for (const w of [...this.waiters]) {
      w.cleanup();
      w.reject(new CanceledError(`GPIO ${this.name} closed during wait`, { device: this.name }));
    }
    try {
      this.line.release();
    } catch {
      // already released by the kernel (chip gone): nothing left to free
    }
  }

  private sample(): GpioLevel {
    try {
      return this.line.getValue() ? 1 : 0;
    } catch (cause) {
      throw new TransportError(`read of GPIO ${this.name} failed: ${msg(cause)}`, { code: 'GPIO_IO', device: this.name, cause });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError(`GPIO ${this.name} is closed`, { code: 'NOT_OPEN', device: this.name });
  }
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
