import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CanceledError, TransportError, ValidationError } from '../../core/errors';
import type { Spi, SpiOptions } from '../spi';

/** One spi-device message entry (a kernel `spi_ioc_transfer`). */
export interface SpiDeviceMessage {
  byteLength: number;
  sendBuffer?: Buffer;
  receiveBuffer?: Buffer;
  speedHz?: number;
}

/** The part of spi-device's `SpiDevice` this transport uses. */
export interface SpiDeviceHandle {
  transfer(message: SpiDeviceMessage[], cb: (err: Error | null | undefined, message: SpiDeviceMessage[]) => void): unknown;
  close(cb: (err: Error | null | undefined) => void): void;
}

/** The part of the `spi-device` module this transport uses (the injection seam for tests). */
export interface SpiDeviceModule {
  open(
    busNumber: number,
    deviceNumber: number,
    options: { mode?: 0 | 1 | 2 | 3; maxSpeedHz?: number },
    cb: (err: Error | null | undefined) => void,
  ): SpiDeviceHandle;
}

export interface SpiDevSpiOptions extends SpiOptions {
  /** The spi-device module. Default: `import('spi-device')`, lazily inside `open()`. */
  spiModule?: SpiDeviceModule;
  /** Root of /dev and /sys (for tests with a fake tree). Default '/'. */
  root?: string;
}

/**
 * `Spi` over /dev/spidevB.C with the `spi-device` native module.
 *
 * `maxTransferSize` is, in order: the option, the spidev module's `bufsiz` parameter
 * (/sys/module/spidev/parameters/bufsiz, read in `open()`), 4096. A larger transfer is
 * sent as consecutive kernel transfers (one ioctl each, chip select released between
 * them), because spidev refuses a message longer than bufsiz.
 */
export class SpiDevSpi implements Spi {
  readonly path: string;
  private maxSize: number;
  private readonly options: SpiDevSpiOptions;
  private readonly root: string;
  private dev: SpiDeviceHandle | undefined;
  private opening = false;
  private chain: Promise<unknown> = Promise.resolve();
  private generation = 0;

  constructor(options: SpiDevSpiOptions) {
    this.options = options;
    this.root = options.root ?? '/';
    this.path = `/dev/spidev${options.bus}.${options.chipSelect}`;
    this.maxSize = options.maxTransferSize ?? 4096;
    if (!Number.isInteger(this.maxSize) || this.maxSize < 1)
      throw new ValidationError(`${this.path}: maxTransferSize must be a positive integer`, { device: this.path });
  }

  get maxTransferSize(): number {
    return this.maxSize;
  }

  get isOpen(): boolean {
    return this.dev !== undefined;
  }

  async open(): Promise<void> {
    if (this.dev || this.opening)
      throw new TransportError(`${this.path} is already open`, { code: 'ALREADY_OPEN', device: this.path });
    this.opening = true;
    try {
      try {
        await access(join(this.root, this.path));
      } catch (cause) {
        throw new TransportError(`SPI device ${this.path} does not exist (enable SPI: dtparam=spi=on)`, {
          code: 'PORT_NOT_FOUND',
          device: this.path,
          cause,
        });
      }
      if (this.options.maxTransferSize === undefined) {
        const bufsiz = await readFile(join(this.root, 'sys/module/spidev/parameters/bufsiz'), 'utf8').catch(() => undefined);
        const n = bufsiz === undefined ? Number.NaN : Number.parseInt(bufsiz.trim(), 10);
        if (Number.isInteger(n) && n > 0) this.maxSize = n;
      }
      const mod = this.options.spiModule ?? (await loadSpiDevice(this.path));
      this.dev = await new Promise<SpiDeviceHandle>((resolve, reject) => {
        const d = mod.open(
          this.options.bus,
          this.options.chipSelect,
          { mode: this.options.mode ?? 0, maxSpeedHz: this.options.speedHz },
          (err) =>
            err
              ? reject(
                  new TransportError(`cannot open ${this.path}: ${err.message}`, {
                    code: /EACCES|permission/i.test(err.message) ? 'PERMISSION_DENIED' : 'OPEN_FAILED',
                    device: this.path,
                    cause: err,
                  }),
                )
              : resolve(d),
        );
      });
    } finally {
      this.opening = false;
    }
  }

  async close(): Promise<void> {
    const dev = this.dev;
    if (!dev) return;
    this.dev = undefined;
    this.generation++;
    await new Promise<void>((resolve) => dev.close(() => resolve()));
  }

  transfer(tx: Uint8Array): Promise<Uint8Array> {
    const dev = this.dev;
    if (!dev) return Promise.reject(this.notOpen());
    const gen = this.generation;
    const send = Buffer.from(tx);
    const run = this.chain.then(async () => {
      const rx = Buffer.alloc(send.length);
      for (let off = 0; off < send.length || off === 0; off += this.maxSize) {
        if (gen !== this.generation) throw new CanceledError(`${this.path} closed during transfer`, { device: this.path });
        const n = Math.min(this.maxSize, send.length - off);
        if (n === 0) break;
        const msg: SpiDeviceMessage = {
          byteLength: n,
          sendBuffer: send.subarray(off, off + n),
          receiveBuffer: rx.subarray(off, off + n),
          speedHz: this.options.speedHz,
        };
        await new Promise<void>((resolve, reject) =>
          dev.transfer([msg], (err) =>
            err
              ? reject(
                  new TransportError(`SPI transfer on ${this.path} failed: ${err.message}`, {
                    code: 'SPI_WRITE',
                    device: this.path,
                    cause: err,
                  }),
                )
              : resolve(),
          ),
        );
      }
      return new Uint8Array(rx.buffer, rx.byteOffset, rx.length);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async write(tx: Uint8Array): Promise<void> {
    await this.transfer(tx);
  }

  private notOpen(): TransportError {
    return new TransportError(`${this.path} is not open`, { code: 'NOT_OPEN', device: this.path });
  }
}

async function loadSpiDevice(path: string): Promise<SpiDeviceModule> {
  try {
    const mod = (await import('spi-device')) as unknown as SpiDeviceModule & { default?: SpiDeviceModule };
    return typeof mod.open === 'function' ? mod : (mod.default as SpiDeviceModule);
  } catch (cause) {
    throw new TransportError(`spi-device native module unavailable (needed for ${path}): ${String(cause)}`, {
      code: 'SPI_UNAVAILABLE',
      device: path,
      cause,
    });
  }
}
