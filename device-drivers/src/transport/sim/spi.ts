import { CanceledError, TransportError, ValidationError } from '../../core/errors';
import type { GpioLevel } from '../gpio';
import type { Spi } from '../spi';
import { type FaultTable, PASS } from './fault';
import type { SimGpioLine } from './gpio';

/** What a simulated SPI chip learns about each kernel transfer besides the bytes. */
export interface SpiPeerContext {
  /**
   * Level of the chip's DC (data/command) line while this chunk is clocked: 0 = command,
   * 1 = data (SSD1680 convention). `undefined` when the SimSpi has no `dc` line.
   */
  dc: GpioLevel | undefined;
  /** Index of this kernel transfer (chunk) within the caller's `transfer()` call. */
  chunk: number;
  /** Number of chunks the caller's `transfer()` was split into. */
  chunks: number;
}

/**
 * The device side of a simulated SPI bus: the simulated chip. It gets each kernel
 * transfer (chip select asserted for exactly these bytes) and returns the bytes it
 * clocks back on MISO (same length), or nothing for 0x00s (write-only chips).
 */
export interface SpiPeer {
  // biome-ignore lint/suspicious/noConfusingVoidType: write-only chips return nothing
  transfer(tx: Uint8Array, ctx: SpiPeerContext): Uint8Array | void;
}

/** The operations a fault override can intercept on a SimSpi. */
export interface SimSpiOps {
  /** Called per caller transfer with the bytes about to go out; return rx bytes to replace the transfer, or PASS. */
  transfer: (tx: Uint8Array) => Uint8Array;
}

/** One recorded kernel transfer (chunk). */
export interface SimSpiRecord {
  dc: GpioLevel | undefined;
  tx: Uint8Array;
}

export interface SimSpiStats {
  /** `transfer()`/`write()` calls completed. */
  calls: number;
  /** Kernel transfers (chunks of at most maxTransferSize bytes). */
  kernelTransfers: number;
  /** Bytes clocked out in total. */
  bytesSent: number;
  /** Bytes clocked out with DC low (commands) / high (data). */
  commandBytes: number;
  dataBytes: number;
}

export interface SimSpiOptions {
  /** Name used in errors. Default 'sim:spi0.0'. */
  name?: string;
  /** Max bytes per kernel transfer, as spidev's bufsiz. Default 4096. */
  maxTransferSize?: number;
  /** The simulated chip on the bus. Can be set later with `attach()`. */
  peer?: SpiPeer;
  /** The chip's DC line (a host output from SimGpioController); its level is passed to the peer. */
  dc?: SimGpioLine;
  /** Keep every chunk in `recording` (default true). Turn off for long benchmarks. */
  record?: boolean;
}

/**
 * An in-memory SPI bus (implements `Spi`) with a pluggable `SpiPeer` on the device side.
 * Honours the contract like spidev does: transfers are split into chunks of at most
 * `maxTransferSize` bytes, one transfer at a time in call order, asynchronous
 * completion, `close()` cancels queued transfers.
 */
export class SimSpi implements Spi {
  readonly name: string;
  readonly maxTransferSize: number;
  peer: SpiPeer | undefined;
  dc: SimGpioLine | undefined;
  faults: FaultTable<SimSpiOps> = {};
  readonly recording: SimSpiRecord[] = [];
  readonly stats: SimSpiStats = { calls: 0, kernelTransfers: 0, bytesSent: 0, commandBytes: 0, dataBytes: 0 };

  private open_ = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly record: boolean;
  private generation = 0;

  constructor(options: SimSpiOptions = {}) {
    this.name = options.name ?? 'sim:spi0.0';
    this.maxTransferSize = options.maxTransferSize ?? 4096;
    if (!Number.isInteger(this.maxTransferSize) || this.maxTransferSize < 1)
      throw new ValidationError(`${this.name}: maxTransferSize must be a positive integer`, { device: this.name });
    this.peer = options.peer;
    this.dc = options.dc;
    this.record = options.record ?? true;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  /** Connects the simulated chip (and optionally its DC line). */
  attach(peer: SpiPeer, dc?: SimGpioLine): void {
    this.peer = peer;
    if (dc) this.dc = dc;
  }

  /** Clears `recording` and `stats`. */
  resetStats(): void {
    this.recording.length = 0;
    Object.assign(this.stats, { calls: 0, kernelTransfers: 0, bytesSent: 0, commandBytes: 0, dataBytes: 0 });
  }

  async open(): Promise<void> {
    if (this.open_) throw new TransportError(`${this.name} is already open`, { code: 'ALREADY_OPEN', device: this.name });
    await tick();
    this.open_ = true;
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.generation++;
    await tick();
  }

  transfer(tx: Uint8Array): Promise<Uint8Array> {
    if (!this.open_) return Promise.reject(this.notOpen());
    const copy = Uint8Array.from(tx);
    const gen = this.generation;
    const run = this.chain.then(async () => {
      if (gen !== this.generation || !this.open_)
        throw new CanceledError(`${this.name} closed before transfer ran`, { device: this.name });
      const f = this.faults.transfer;
      if (f) {
        const r = await f(copy);
        if (r !== PASS) {
          this.stats.calls++;
          return r;
        }
      }
      const rx = new Uint8Array(copy.length);
      const chunks = Math.max(1, Math.ceil(copy.length / this.maxTransferSize));
      for (let i = 0; i < chunks; i++) {
        await tick();
        if (gen !== this.generation || !this.open_)
          throw new CanceledError(`${this.name} closed during transfer`, { device: this.name });
        const part = copy.subarray(i * this.maxTransferSize, (i + 1) * this.maxTransferSize);
        const dc = this.dc?.level;
        this.stats.kernelTransfers++;
        this.stats.bytesSent += part.length;
        if (dc === 0) this.stats.commandBytes += part.length;
        else if (dc === 1) this.stats.dataBytes += part.length;
        if (this.record) this.recording.push({ dc, tx: Uint8Array.from(part) });
        const back = this.peer?.transfer(part, { dc, chunk: i, chunks });
        if (back) rx.set(back.subarray(0, part.length), i * this.maxTransferSize);
      }
      this.stats.calls++;
      return rx;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async write(tx: Uint8Array): Promise<void> {
    await this.transfer(tx);
  }

  /** All bytes recorded with DC at `dc` (0 = commands, 1 = data), concatenated. */
  bytesWithDc(dc: GpioLevel): Uint8Array {
    const parts = this.recording.filter((r) => r.dc === dc);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.tx.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p.tx, o);
      o += p.tx.length;
    }
    return out;
  }

  private notOpen(): TransportError {
    return new TransportError(`${this.name} is not open`, { code: 'NOT_OPEN', device: this.name });
  }
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
