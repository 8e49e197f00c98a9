import { stat } from 'node:fs/promises';
import { CanceledError, TransportError, ValidationError } from '../../core/errors';
import type { Uart, UartOptions } from '../uart';

/**
 * The part of node-serialport's `BindingPortInterface` (@serialport/bindings-interface)
 * this transport uses. Declared here because that package's exports map hides its types
 * from moduleResolution Bundler; bindings-cpp's ports and `MockBinding` ports fit it.
 */
export interface SerialBindingPort {
  isOpen: boolean;
  close(): Promise<void>;
  /** Resolves with at least one byte; rejects with `{canceled: true}` when the port closes. */
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
  write(buffer: Buffer): Promise<void>;
  update(options: { baudRate: number }): Promise<void>;
  flush(): Promise<void>;
  drain(): Promise<void>;
}

/** The part of node-serialport's `BindingInterface` this transport uses. */
export interface SerialBinding {
  open(options: {
    path: string;
    baudRate: number;
    dataBits?: 5 | 6 | 7 | 8;
    stopBits?: 1 | 1.5 | 2;
    parity?: string;
    lock?: boolean;
  }): Promise<SerialBindingPort>;
}

export interface SerialPortUartOptions extends UartOptions {
  /**
   * The serialport binding (node-serialport's `BindingInterface`). Default: `autoDetect()`
   * from `@serialport/bindings-cpp`, imported lazily inside `open()` so a machine without
   * the native module still loads this package. Tests may pass `MockBinding`.
   */
  binding?: SerialBinding;
  /**
   * Bytes kept in process while nobody reads. When full, the background reader stops
   * pulling and the kernel's tty buffer takes over. Default 1 MiB.
   */
  readBufferSize?: number;
  /** Take an exclusive lock on the port (bindings-cpp `lock`). Default true. */
  lock?: boolean;
}

type PendingRead = { max: number; resolve: (b: Uint8Array) => void; reject: (e: unknown) => void };

/**
 * `Uart` over node-serialport's native binding (serialport 13 / bindings-cpp).
 *
 * A background loop pulls bytes from the port into an in-process buffer as they
 * arrive; `read()` hands out 1..maxBytes of them (pull-based, per the contract).
 * A read error that is not a cancel (EIO when a pty peer dies, ENXIO when a USB adapter
 * is pulled) is a vanished port: the pending read, and every later read once the
 * buffered bytes are consumed, rejects with `DISCONNECTED`.
 */
export class SerialPortUart implements Uart {
  readonly path: string;
  baudRate: number;
  private readonly options: SerialPortUartOptions;
  private port: SerialBindingPort | undefined;
  private opening = false;
  private rx: Uint8Array[] = [];
  private rxLen = 0;
  private pending: PendingRead | undefined;
  private failure: TransportError | undefined;
  private writeChain: Promise<void> = Promise.resolve();
  private spaceWaiter: (() => void) | undefined;
  private readonly readBufferSize: number;

  constructor(options: SerialPortUartOptions) {
    this.options = options;
    this.path = options.path;
    this.baudRate = options.baudRate;
    this.readBufferSize = options.readBufferSize ?? 1 << 20;
  }

  get isOpen(): boolean {
    return this.port !== undefined && this.failure === undefined;
  }

  async open(): Promise<void> {
    if (this.port || this.opening)
      throw new TransportError(`${this.path} is already open`, { code: 'ALREADY_OPEN', device: this.path });
    checkBaud(this.baudRate, this.path);
    this.opening = true;
    try {
      try {
        await stat(this.path);
      } catch (cause) {
        throw new TransportError(`serial port ${this.path} does not exist`, { code: 'PORT_NOT_FOUND', device: this.path, cause });
      }
      const binding = this.options.binding ?? (await loadBinding(this.path));
      let port: SerialBindingPort;
      try {
        port = await binding.open({
          path: this.path,
          baudRate: this.baudRate,
          dataBits: this.options.dataBits ?? 8,
          stopBits: this.options.stopBits ?? 1,
          parity: this.options.parity ?? 'none',
          lock: this.options.lock ?? true,
        });
      } catch (cause) {
        const msg = cause instanceof Error ? cause.message : String(cause);
        const code = /no such file|ENOENT/i.test(msg)
          ? 'PORT_NOT_FOUND'
          : /permission|EACCES/i.test(msg)
            ? 'PERMISSION_DENIED'
            : /lock|busy/i.test(msg)
              ? 'PORT_BUSY'
              : 'OPEN_FAILED';
        throw new TransportError(`cannot open serial port ${this.path}: ${msg}`, { code, device: this.path, cause });
      }
      this.port = port;
      this.failure = undefined;
      this.rx = [];
      this.rxLen = 0;
      void this.pump(port);
    } finally {
      this.opening = false;
    }
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port) return;
    this.port = undefined;
    this.rx = [];
    this.rxLen = 0;
    this.spaceWaiter?.();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new CanceledError(`serial port ${this.path} closed during read`, { device: this.path }));
    if (port.isOpen) await port.close().catch(() => undefined);
  }

  write(data: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(this.notOpen());
    if (this.failure) return Promise.reject(this.failure);
    const buf = Buffer.from(data);
    const run = this.writeChain.then(async () => {
      if (this.port !== port) throw new CanceledError(`serial port ${this.path} closed before write`, { device: this.path });
      if (this.failure) throw this.failure;
      try {
        await port.write(buf);
      } catch (cause) {
        if (this.port !== port || isCanceled(cause))
          throw new CanceledError(`serial port ${this.path} closed during write`, { device: this.path, cause });
        throw new TransportError(`write to ${this.path} failed: ${errMessage(cause)}`, {
          code: 'DISCONNECTED',
          device: this.path,
          cause,
        });
      }
    });
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  async drain(): Promise<void> {
    const port = this.port;
    if (!port) throw this.notOpen();
    await this.writeChain;
    if (this.port !== port) throw new CanceledError(`serial port ${this.path} closed during drain`, { device: this.path });
    try {
      await port.drain();
    } catch (cause) {
      if (this.port !== port || isCanceled(cause))
        throw new CanceledError(`serial port ${this.path} closed during drain`, { device: this.path, cause });
      throw new TransportError(`drain of ${this.path} failed: ${errMessage(cause)}`, {
        code: 'DISCONNECTED',
        device: this.path,
        cause,
      });
    }
  }

  read(maxBytes = 65536): Promise<Uint8Array> {
    if (!this.port) return Promise.reject(this.notOpen());
    if (this.pending)
      return Promise.reject(new TransportError('a read is already pending', { code: 'READ_PENDING', device: this.path }));
    const max = Math.max(1, Math.floor(maxBytes));
    if (this.rxLen > 0) return Promise.resolve(this.take(max));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { max, resolve, reject };
    });
  }

  async setBaudRate(baudRate: number): Promise<void> {
    const port = this.port;
    if (!port) throw this.notOpen();
    checkBaud(baudRate, this.path);
    try {
      await port.update({ baudRate });
    } catch (cause) {
      throw new TransportError(`cannot set ${this.path} to ${baudRate} baud: ${errMessage(cause)}`, {
        code: 'BAUD_RATE',
        device: this.path,
        cause,
      });
    }
    this.baudRate = baudRate;
  }

  async discardInput(): Promise<void> {
    const port = this.port;
    if (!port) throw this.notOpen();
    await port.flush().catch(() => undefined);
    this.rx = [];
    this.rxLen = 0;
    this.spaceWaiter?.();
  }

  private async pump(port: SerialBindingPort): Promise<void> {
    const buf = Buffer.alloc(65536);
    while (this.port === port) {
      if (this.rxLen >= this.readBufferSize) {
        await new Promise<void>((r) => {
          this.spaceWaiter = r;
        });
        this.spaceWaiter = undefined;
        continue;
      }
      let n: number;
      try {
        n = (await port.read(buf, 0, buf.length)).bytesRead;
      } catch (cause) {
        if (this.port !== port || isCanceled(cause)) return;
        this.vanish(cause);
        return;
      }
      if (this.port !== port) return;
      this.rx.push(Uint8Array.prototype.slice.call(buf, 0, n));
      this.rxLen += n;
      const p = this.pending;
      if (p) {
        this.pending = undefined;
        p.resolve(this.take(p.max));
      }
    }
  }

  private vanish(cause: unknown): void {
    this.failure = new TransportError(`serial port ${this.path} disconnected: ${errMessage(cause)}`, {
      code: 'DISCONNECTED',
      device: this.path,
      cause,
    });
    const p = this.pending;
    this.pending = undefined;
    p?.reject(this.failure);
  }

  private take(max: number): Uint8Array {
    const n = Math.min(max, this.rxLen);
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const head = this.rx[0] as Uint8Array;
      const k = Math.min(head.length, n - o);
      out.set(head.subarray(0, k), o);
      o += k;
      if (k === head.length) this.rx.shift();
      else this.rx[0] = head.subarray(k);
    }
    this.rxLen -= n;
    if (this.rxLen < this.readBufferSize) this.spaceWaiter?.();
    return out;
  }

  private notOpen(): TransportError {
    return new TransportError(`serial port ${this.path} is not open`, { code: 'NOT_OPEN', device: this.path });
  }
}

async function loadBinding(path: string): Promise<SerialBinding> {
  try {
    const mod = await import('@serialport/bindings-cpp');
    return mod.autoDetect() as SerialBinding;
  } catch (cause) {
    throw new TransportError(`serialport native binding unavailable (needed for ${path}): ${errMessage(cause)}`, {
      code: 'SERIAL_UNAVAILABLE',
      device: path,
      cause,
    });
  }
}

function checkBaud(baudRate: number, path: string): void {
  if (!Number.isInteger(baudRate) || baudRate <= 0 || baudRate > 4_000_000)
    throw new ValidationError(`${path}: baud rate must be a positive integer <= 4000000, got ${baudRate}`, { device: path });
}

function isCanceled(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { canceled?: unknown }).canceled === true;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
