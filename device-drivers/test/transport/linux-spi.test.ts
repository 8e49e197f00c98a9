import { afterEach, describe, expect, it } from 'vitest';
import { describeSpiContract } from '../../src/transport/contract';
import { pattern } from '../../src/transport/contract/util';
import { type SpiDeviceMessage, type SpiDeviceModule, SpiDevSpi } from '../../src/transport/linux/spi';
import { fakeRoot } from './fake-fs';

/** A fake spi-device module: records every kernel transfer and answers ~byte; async like the real one. */
function fakeSpiModule() {
  const transfers: SpiDeviceMessage[][] = [];
  const opened: Array<{ bus: number; dev: number; options: unknown }> = [];
  let fail: Error | undefined;
  const mod: SpiDeviceModule = {
    open(bus, dev, options, cb) {
      opened.push({ bus, dev, options });
      setImmediate(() => cb(null));
      return {
        transfer(message, done) {
          transfers.push(message.map((m) => ({ ...m, sendBuffer: Buffer.from(m.sendBuffer ?? []) })));
          setImmediate(() => {
            if (fail) return done(fail, message);
            for (const m of message) {
              if (m.byteLength > 4096) return done(new Error('EMSGSIZE'), message);
              m.receiveBuffer?.set((m.sendBuffer ?? Buffer.alloc(0)).map((b) => ~b & 0xff));
            }
            done(null, message);
          });
          return this;
        },
        close(done) {
          setImmediate(() => done(null));
        },
      };
    },
  };
  return {
    mod,
    transfers,
    opened,
    failNext: (e: Error | undefined) => {
      fail = e;
    },
  };
}

describeSpiContract('SpiDevSpi with a fake spi-device module', async () => {
  const fs = await fakeRoot({ 'dev/spidev0.0': '' });
  const fake = fakeSpiModule();
  const spi = new SpiDevSpi({ bus: 0, chipSelect: 0, speedHz: 4_000_000, root: fs.root, spiModule: fake.mod });
  return { spi, chunks: () => fake.transfers.map((t) => t[0]?.sendBuffer as Buffer), cleanup: fs.cleanup };
});

describe('SpiDevSpi', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('chunks at 4096 bytes by default: 10,000 bytes -> 4096 + 4096 + 1808, one message per ioctl, byte-exact', async () => {
    const fs = await fakeRoot({ 'dev/spidev0.0': '' });
    cleanups.push(fs.cleanup);
    const fake = fakeSpiModule();
    const spi = new SpiDevSpi({ bus: 0, chipSelect: 0, speedHz: 8_000_000, mode: 0, root: fs.root, spiModule: fake.mod });
    await spi.open();
    expect(fake.opened).toEqual([{ bus: 0, dev: 0, options: { mode: 0, maxSpeedHz: 8_000_000 } }]);
    expect(spi.maxTransferSize).toBe(4096);
    const tx = pattern(10_000, 3);
    const rx = await spi.transfer(tx);
    expect(fake.transfers.map((t) => t.map((m) => [m.byteLength, m.sendBuffer?.length, m.speedHz]))).toEqual([
      [[4096, 4096, 8_000_000]],
      [[4096, 4096, 8_000_000]],
      [[1808, 1808, 8_000_000]],
    ]);
    expect(Buffer.concat(fake.transfers.map((t) => t[0]?.sendBuffer as Buffer)).equals(Buffer.from(tx))).toBe(true);
    expect(Buffer.from(rx).equals(Buffer.from(tx.map((b) => ~b & 0xff)))).toBe(true);
    await spi.close();
  });

  it("reads spidev's bufsiz from /sys/module/spidev/parameters/bufsiz", async () => {
    const fs = await fakeRoot({ 'dev/spidev1.2': '', 'sys/module/spidev/parameters/bufsiz': '1024\n' });
    cleanups.push(fs.cleanup);
    const fake = fakeSpiModule();
    const spi = new SpiDevSpi({ bus: 1, chipSelect: 2, speedHz: 1_000_000, root: fs.root, spiModule: fake.mod });
    await spi.open();
    expect(spi.maxTransferSize).toBe(1024);
    await spi.write(new Uint8Array(2500));
    expect(fake.transfers.map((t) => t[0]?.byteLength)).toEqual([1024, 1024, 452]);
    await spi.close();
  });

  it('a missing device rejects with PORT_NOT_FOUND naming the path; a bus error with SPI_WRITE', async () => {
    const fs = await fakeRoot({ 'dev/spidev0.0': '' });
    cleanups.push(fs.cleanup);
    const fake = fakeSpiModule();
    const missing = new SpiDevSpi({ bus: 0, chipSelect: 1, speedHz: 1e6, root: fs.root, spiModule: fake.mod });
    await expect(missing.open()).rejects.toMatchObject({
      code: 'PORT_NOT_FOUND',
      message: expect.stringContaining('/dev/spidev0.1'),
    });
    const spi = new SpiDevSpi({ bus: 0, chipSelect: 0, speedHz: 1e6, root: fs.root, spiModule: fake.mod });
    await spi.open();
    fake.failNext(new Error('EIO'));
    await expect(spi.write(Uint8Array.of(1))).rejects.toMatchObject({
      code: 'SPI_WRITE',
      message: expect.stringContaining('EIO'),
    });
    fake.failNext(undefined);
    await spi.write(Uint8Array.of(2));
    await spi.close();
  });

  it('lazily loads the real spi-device module; opening a spidev that is not there fails typed', async () => {
    const fs = await fakeRoot({ 'dev/spidev7.7': '' });
    cleanups.push(fs.cleanup);
    const spi = new SpiDevSpi({ bus: 7, chipSelect: 7, speedHz: 1e6, root: fs.root });
    const err = await spi.open().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'TransportError', message: expect.stringContaining('/dev/spidev7.7') });
    // OPEN_FAILED (not SPI_UNAVAILABLE) proves the native module loaded and the kernel open was tried.
    expect(err).toMatchObject({ code: 'OPEN_FAILED', message: expect.stringContaining('ENOENT') });
  });
});
