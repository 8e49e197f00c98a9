import { CanceledError, TransportError } from '../../core/errors';
import type { HidDevice, HidDeviceInfo, HidDeviceSelector } from '../hid';

/** The part of node-hid 3's `HIDAsync` device this transport uses. */
export interface NodeHidAsyncDevice {
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeAllListeners(): unknown;
  write(values: number[] | Buffer): Promise<number>;
  close(): Promise<void>;
}

/** One entry of node-hid's `devicesAsync()`. */
export interface NodeHidDeviceEntry {
  vendorId: number;
  productId: number;
  path?: string | undefined;
  product?: string | undefined;
  manufacturer?: string | undefined;
}

/** The part of the `node-hid` module this transport uses (the injection seam for tests). */
export interface NodeHidModule {
  devicesAsync(vendorId?: number, productId?: number): Promise<NodeHidDeviceEntry[]>;
  HIDAsync: { open(path: string): Promise<NodeHidAsyncDevice> };
}

export interface NodeHidDeviceOptions extends HidDeviceSelector {
  /** The node-hid module. Default: `import('node-hid')`, lazily inside `open()`. */
  hid?: NodeHidModule;
  /** Input reports kept while nobody reads; the oldest is dropped beyond it. Default 1024. */
  maxQueuedReports?: number;
}

const describeSel = (s: HidDeviceSelector) =>
  s.path ??
  `${(s.vendorId ?? 0).toString(16).padStart(4, '0')}:${s.productId === undefined ? '*' : s.productId.toString(16).padStart(4, '0')}`;

/** Loads node-hid lazily; a missing module or libusb rejects with HID_UNAVAILABLE. */
export async function loadNodeHid(): Promise<NodeHidModule> {
  try {
    const mod = (await import('node-hid')) as unknown as NodeHidModule & { default?: NodeHidModule };
    return typeof mod.devicesAsync === 'function' ? mod : (mod.default as NodeHidModule);
  } catch (cause) {
    throw hidUnavailable(cause);
  }
}

function hidUnavailable(cause: unknown): TransportError {
  const m = cause instanceof Error ? cause.message : String(cause);
  return new TransportError(`node-hid unavailable (install the Debian package libusb-1.0-0): ${m}`, {
    code: 'HID_UNAVAILABLE',
    cause,
  });
}

/** Lists HID devices (optionally by vendor/product) through node-hid, loaded lazily. */
export async function listHidDevices(
  filter: { vendorId?: number; productId?: number } = {},
  hid?: NodeHidModule,
): Promise<HidDeviceInfo[]> {
  const mod = hid ?? (await loadNodeHid());
  let list: NodeHidDeviceEntry[];
  try {
    list =
      filter.vendorId !== undefined && filter.productId !== undefined
        ? await mod.devicesAsync(filter.vendorId, filter.productId)
        : await mod.devicesAsync();
  } catch (cause) {
    const m = cause instanceof Error ? cause.message : String(cause);
    if (/libusb|shared object|cannot open/i.test(m)) throw hidUnavailable(cause);
    throw new TransportError(`HID enumeration failed: ${m}`, { code: 'HID', cause });
  }
  return list
    .filter((d) => filter.vendorId === undefined || d.vendorId === filter.vendorId)
    .filter((d) => filter.productId === undefined || d.productId === filter.productId)
    .map((d) => ({
      vendorId: d.vendorId,
      productId: d.productId,
      path: d.path,
      product: d.product,
      manufacturer: d.manufacturer,
    }));
}

/**
 * `HidDevice` over node-hid 3 (`HID.HIDAsync`), loaded lazily so a machine without libusb
 * or a pad still runs everything else. Opens by hidraw `path`, or by vendor/product id
 * (the first match). Input reports arrive through node-hid's 'data' events and are
 * queued one report per `read()`; node-hid's 'error' event (hot-unplug) rejects the
 * pending read with DISCONNECTED.
 */
export class NodeHidDevice implements HidDevice {
  info: HidDeviceInfo;
  private readonly options: NodeHidDeviceOptions;
  private dev: NodeHidAsyncDevice | undefined;
  private opening = false;
  private queue: Uint8Array[] = [];
  private failure: TransportError | undefined;
  private pending: { resolve: (r: Uint8Array) => void; reject: (e: unknown) => void; cleanup: () => void } | undefined;

  constructor(options: NodeHidDeviceOptions) {
    this.options = options;
    this.info = { vendorId: options.vendorId ?? 0, productId: options.productId ?? 0, path: options.path };
  }

  private get label(): string {
    return `hid:${describeSel({ ...this.options, path: this.info.path ?? this.options.path })}`;
  }

  get isOpen(): boolean {
    return this.dev !== undefined && this.failure === undefined;
  }

  async open(): Promise<void> {
    if (this.dev || this.opening)
      throw new TransportError(`${this.label} is already open`, { code: 'ALREADY_OPEN', device: this.label });
    this.opening = true;
    try {
      const hid = this.options.hid ?? (await loadNodeHid());
      let path = this.options.path;
      if (!path) {
        if (this.options.vendorId === undefined)
          throw new TransportError('HID selector needs a path or a vendorId', { code: 'PORT_NOT_FOUND', device: this.label });
        const found = await listHidDevices({ vendorId: this.options.vendorId, productId: this.options.productId }, hid);
        const first = found.find((d) => d.path);
        if (!first)
          throw new TransportError(`no HID device ${this.label} is connected`, { code: 'PORT_NOT_FOUND', device: this.label });
        this.info = first;
        path = first.path as string;
      }
      let dev: NodeHidAsyncDevice;
      try {
        dev = await hid.HIDAsync.open(path);
      } catch (cause) {
        const m = cause instanceof Error ? cause.message : String(cause);
        if (/libusb|shared object/i.test(m)) throw hidUnavailable(cause);
        throw new TransportError(`cannot open HID device ${path}: ${m}`, {
          code: /permission|EACCES/i.test(m) ? 'PERMISSION_DENIED' : 'PORT_NOT_FOUND',
          device: `hid:${path}`,
          cause,
        });
      }
      this.info = { ...this.info, path };
      this.queue = [];
      this.failure = undefined;
      dev.on('data', (data: Buffer) => this.onReport(dev, data));
      dev.on('error', (err: Error) => this.onError(dev, err));
      this.dev = dev;
    } finally {
      this.opening = false;
    }
  }

  read(signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.dev) return Promise.reject(this.notOpen());
    if (this.pending)
      return Promise.reject(new TransportError('a read is already pending', { code: 'READ_PENDING', device: this.label }));
    const head = this.queue.shift();
    if (head) return Promise.resolve(head);
    if (this.failure) return Promise.reject(this.failure);
    if (signal?.aborted) return Promise.reject(new CanceledError('read aborted', { device: this.label, cause: signal.reason }));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.pending = undefined;
        reject(new CanceledError('read aborted', { device: this.label, cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
    });
  }

  async write(report: Uint8Array): Promise<void> {
    const dev = this.dev;
    if (!dev) throw this.notOpen();
    if (this.failure) throw this.failure;
    try {
      await dev.write(Buffer.from(report));
    } catch (cause) {
      throw new TransportError(`write to ${this.label} failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
        code: 'HID_WRITE',
        device: this.label,
        cause,
      });
    }
  }

  async close(): Promise<void> {
    const dev = this.dev;
    if (!dev) return;
    this.dev = undefined;
    this.queue = [];
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(new CanceledError(`${this.label} closed during read`, { device: this.label }));
    dev.removeAllListeners();
    dev.on('error', () => undefined);
    await dev.close().catch(() => undefined);
  }

  private onReport(dev: NodeHidAsyncDevice, data: Buffer): void {
    if (this.dev !== dev || this.failure) return;
    const report = Uint8Array.from(data);
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      p.cleanup();
      p.resolve(report);
      return;
    }
    this.queue.push(report);
    if (this.queue.length > (this.options.maxQueuedReports ?? 1024)) this.queue.shift();
  }

  private onError(dev: NodeHidAsyncDevice, err: Error): void {
    if (this.dev !== dev || this.failure) return;
    this.failure = new TransportError(`${this.label} disconnected: ${err.message}`, {
      code: 'DISCONNECTED',
      device: this.label,
      cause: err,
    });
    const p = this.pending;
    this.pending = undefined;
    p?.cleanup();
    p?.reject(this.failure);
  }

  private notOpen(): TransportError {
    return new TransportError(`${this.label} is not open`, { code: 'NOT_OPEN', device: this.label });
  }
}
