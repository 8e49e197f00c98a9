/**
 * GpioLine: one GPIO line, requested from a GPIO chip found by its label (e.g.
 * 'pinctrl-bcm2711' on a Pi 4, 'pinctrl-rp1' on a Pi 5), never by chip number, which
 * changes between boards and kernels.
 *
 * Contract:
 * - An output line holds the last value written; `read()` on it returns that value.
 * - An input line's `read()` returns the level now; `waitFor(value, timeoutMs)` resolves
 *   as soon as the line is at `value` (immediately if it already is) and rejects with
 *   `DeviceTimeoutError` otherwise. It is how drivers wait for BUSY to fall.
 * - `watch(edge, cb)` calls `cb` on each edge of an input line; returns an unsubscribe.
 * - `close()` releases the line; later calls reject with `TransportError` (`NOT_OPEN`).
 * - A chip label or line that does not exist rejects the request with `TransportError`
 *   (code `GPIO_NOT_FOUND`) naming the label and offset.
 */
export type GpioLevel = 0 | 1;
export type GpioEdge = 'rising' | 'falling' | 'both';

export interface GpioLineRequest {
  /** The chip's label as the kernel reports it (gpiodetect / sysfs label). */
  chipLabel: string;
  /** Line offset on that chip (the BCM number on a Raspberry Pi header). */
  line: number;
  direction: 'in' | 'out';
  /** For outputs: the level to drive once requested. Default 0. */
  initial?: GpioLevel;
  /** For inputs. */
  bias?: 'pull-up' | 'pull-down' | 'disabled';
  activeLow?: boolean;
  /** Shown by gpioinfo as the user of the line. */
  consumer?: string;
}

export interface GpioLine {
  readonly name: string;
  readonly direction: 'in' | 'out';
  read(): Promise<GpioLevel>;
  write(value: GpioLevel): Promise<void>;
  waitFor(value: GpioLevel, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  watch(edge: GpioEdge, callback: (level: GpioLevel) => void): () => void;
  close(): Promise<void>;
}

/** Something that hands out GPIO lines: the Linux character device, or a simulated board. */
export interface GpioController {
  requestLine(request: GpioLineRequest): Promise<GpioLine>;
}
