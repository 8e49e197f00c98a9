import { CanceledError, TransportError } from '../../core/errors';
import type { Uart } from '../uart';
import { type FaultTable, PASS } from './fault';

/** The operations a fault override can intercept on a simulated UART end. */
export interface SimUartOps {
  /** Called with the bytes about to be sent; return modified bytes, or PASS. */
  write: (data: Uint8Array) => Uint8Array;
}

export interface SimUartOptions {
  path?: string;
  baudRate?: number;
  /** Largest chunk one read() returns (realistic fragmentation). Default 16. */
  maxReadSize?: number;
  /**
   * When true, bytes take their wire time (10 bits/byte at the baud rate) to arrive at
   * the other end, on the wall clock. Default false: delivered on the next macrotask.
   */
  wireTiming?: boolean;
}

/**
 * One end of an in-memory serial cable. `createSimUartPair()` returns two ends: the
 * host end (given to the driver) and the device end (used by a simulator's bus face).
 * Both implement `Uart` and honour its contract: asynchronous completion, one write at
 * a time, reads capped at `maxReadSize`, cancel on close, `unplug()` for a vanishing
 * port.
 */
export class SimUart implements Uart {
  readonly path: string;
  baudRate: number;
  /** Per-operation fault overrides; see fault.ts. */
  faults: FaultTable<SimUartOps> = {};
  /** Every chunk written by this end, for byte-exact assertions. */
  readonly recording: Uint8Array[] = [];
  peer: SimUart | undefined;

  private open_ = false;
  private unplugged = false;
  private rx: number[] = [];
  private pendingRead: { max: number; resolve: (b: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
  private writeChain: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private drainWaiters: Array<() => void> = [];
  private readonly maxReadSize: number;
  private readonly wireTiming: boolean;

  constructor(options: SimUartOptions = {}) {
    this.path = options.path ?? 'sim:uart';
    this.baudRate = options.baudRate ?? 57600;
    this.maxReadSize = options.maxReadSize ?? 16;
    this.wireTiming = options.wireTiming ?? false;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    if (this.unplugged) throw new TransportError(`${this.path} does not exist`, { code: 'PORT_NOT_FOUND', device: this.path });
    if (this.open_) throw new TransportError(`${this.path} is already open`, { code: 'ALREADY_OPEN', device: this.path });
    await tick();
    this.open_ = true;
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.rx = [];
    const pending = this.pendingRead;
    this.pendingRead = undefined;
    pending?.reject(new CanceledError('port closed during read', { device: this.path }));
    await tick();
  }

  write(data: Uint8Array): Promise<void> {
    if (!this.open_) return Promise.reject(this.notOpen());
    const copy = Uint8Array.from(data);
    this.inFlight++;
    const run = this.writeChain.then(async () => {
      try {
        this.assertOpen();
        let bytes: Uint8Array = copy;
        const f = this.faults.write;
        if (f) {
          const r = await f(bytes);
          if (r !== PASS) bytes = r;
        }
        this.recording.push(bytes);
        await tick();
        if (this.wireTiming) await sleep((bytes.length * 10 * 1000) / this.baudRate);
        this.assertOpen();
        this.peer?.deliver(bytes);
      } finally {
        this.inFlight--;
        if (this.inFlight === 0) for (const w of this.drainWaiters.splice(0)) w();
      }
    });
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  drain(): Promise<void> {
    if (!this.open_) return Promise.reject(this.notOpen());
    if (this.inFlight === 0) return tick();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  read(maxBytes = 65536): Promise<Uint8Array> {
    if (!this.open_) return Promise.reject(this.notOpen());
    if (this.pendingRead)
      return Promise.reject(new TransportError('a read is already pending', { code: 'READ_PENDING', device: this.path }));
    return new Promise((resolve, reject) => {
      this.pendingRead = { max: Math.max(1, maxBytes), resolve, reject };
      setImmediate(() => this.pump());
    });
  }

  async setBaudRate(baudRate: number): Promise<void> {
    this.assertOpen();
    this.baudRate = baudRate;
  }

  async discardInput(): Promise<void> {
    this.assertOpen();
    this.rx = [];
  }

  /** Simulates the port vanishing (USB adapter pulled): pending read fails, later open fails. */
  unplug(): void {
    this.unplugged = true;
    const pending = this.pendingRead;
    this.pendingRead = undefined;
    this.open_ = false;
    pending?.reject(new TransportError(`${this.path} disconnected`, { code: 'DISCONNECTED', device: this.path }));
  }

  /** Undoes `unplug()`: the port can be opened again. */
  replug(): void {
    this.unplugged = false;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.rx.length;
  }

  private deliver(bytes: Uint8Array): void {
    if (!this.open_) return; // nobody listening: bytes fall on the floor, as on a real line
    for (const b of bytes) this.rx.push(b);
    this.pump();
  }

  private pump(): void {
    const pending = this.pendingRead;
    if (!pending || this.rx.length === 0) return;
    this.pendingRead = undefined;
    const n = Math.min(pending.max, this.maxReadSize, this.rx.length);
    pending.resolve(Uint8Array.from(this.rx.splice(0, n)));
  }

  private assertOpen(): void {
    if (!this.open_) throw this.notOpen();
  }

  private notOpen(): TransportError {
    return new TransportError(`${this.path} is not open`, { code: 'NOT_OPEN', device: this.path });
  }
}

/** Two connected ends of a simulated serial line: `host` for the driver, `device` for the simulator. */
export function createSimUartPair(options: SimUartOptions = {}): { host: SimUart; device: SimUart } {
  const host = new SimUart({ ...options, path: options.path ?? 'sim:uart' });
  const device = new SimUart({ ...options, path: `${host.path}#device` });
  host.peer = device;
  device.peer = host;
  return { host, device };
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
