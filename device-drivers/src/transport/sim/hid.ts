import { CanceledError, TransportError } from '../../core/errors';
import type { HidDevice, HidDeviceInfo } from '../hid';
import { type FaultTable, PASS } from './fault';

/** The operations a fault override can intercept on a SimHidDevice. */
export interface SimHidOps {
  open: () => void;
  /** Called with each report the device sends before it is queued; return replacement bytes, or PASS. */
  report: (report: Uint8Array) => Uint8Array;
  write: (report: Uint8Array) => void;
}

/**
 * A simulated USB HID device (implements `HidDevice`). Device face: `sendReport(bytes)`
 * queues one input report (a PIN pad twin sends press and release reports), `unplug()`
 * pulls the cable, `replug()` plugs it back, `written` holds the host's output reports.
 *
 * Realism: reports are delivered one per `read()`, never merged or split, queued in
 * order while no read is pending; reports sent while the host has the device closed are
 * lost (nobody is reading the endpoint); completion is asynchronous; `close()` cancels
 * a pending read.
 */
export class SimHidDevice implements HidDevice {
  readonly info: HidDeviceInfo;
  faults: FaultTable<SimHidOps> = {};
  /** Output reports the host wrote, in order. */
  readonly written: Uint8Array[] = [];
  private open_ = false;
  private unplugged = false;
  private queue: Uint8Array[] = [];
  private pending: { resolve: (r: Uint8Array) => void; reject: (e: unknown) => void; cleanup: () => void } | undefined;

  constructor(info: Partial<HidDeviceInfo> = {}) {
    this.info = { vendorId: 0x1234, productId: 0x5678, path: 'sim:hidraw0', product: 'Simulated HID device', ...info };
  }

  private get label(): string {
    return this.info.path ?? `hid:${this.info.vendorId.toString(16)}:${this.info.productId.toString(16)}`;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  /** True while unplugged. */
  get isUnplugged(): boolean {
    return this.unplugged;
  }

  /** Reports queued and not yet read. */
  get queued(): number {
    return this.queue.length;
  }

  async open(): Promise<void> {
    if (this.unplugged)
      throw new TransportError(`HID device ${this.label} not found`, { code: 'PORT_NOT_FOUND', device: this.label });
    if (this.open_)
      throw new TransportError(`HID device ${this.label} is already open`, { code: 'ALREADY_OPEN', device: this.label });
    await tick();
    const f = this.faults.open;
    if (f && (await f()) !== PASS) return;
    this.open_ = true;
  }

  read(signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.open_) return Promise.reject(this.notOpen());
    if (this.pending)
      return Promise.reject(new TransportError('a read is already pending', { code: 'READ_PENDING', device: this.label }));
    if (signal?.aborted) return Promise.reject(new CanceledError('read aborted', { device: this.label, cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pending?.cleanup();
        this.pending = undefined;
        reject(new CanceledError('read aborted', { device: this.label, cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      setImmediate(() => this.pump());
    });
  }

  async write(report: Uint8Array): Promise<void> {
    if (!this.open_) throw this.notOpen();
    const copy = Uint8Array.from(report);
    await tick();
    const f = this.faults.write;
    if (f && (await f(copy)) !== PASS) return;
    this.written.push(copy);
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.queue = [];
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(new CanceledError(`HID device ${this.label} closed during read`, { device: this.label }));
    await tick();
  }

  /** Device face: the device sends one input report. */
  sendReport(bytes: Uint8Array | readonly number[]): void {
    if (this.unplugged || !this.open_) return;
    let report: Uint8Array = Uint8Array.from(bytes);
    const f = this.faults.report;
    if (f) {
      const r = f(report);
      if (r instanceof Promise) throw new TypeError('faults.report must be synchronous');
      if (r !== PASS) report = r;
    }
    this.queue.push(report);
    this.pump();
  }

  /** Device face: the cable is pulled. A pending read rejects with DISCONNECTED; open() fails until replug(). */
  unplug(): void {
    this.unplugged = true;
    this.open_ = false;
    this.queue = [];
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(new TransportError(`HID device ${this.label} disconnected`, { code: 'DISCONNECTED', device: this.label }));
  }

  replug(): void {
    this.unplugged = false;
  }

  private pump(): void {
    const p = this.pending;
    if (!p || this.queue.length === 0) return;
    this.pending = undefined;
    p.cleanup();
    p.resolve(this.queue.shift() as Uint8Array);
  }

  private notOpen(): TransportError {
    return new TransportError(`HID device ${this.label} is not open`, { code: 'NOT_OPEN', device: this.label });
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
