import { afterEach, describe, expect, it } from 'vitest';
import type { Uart } from '../uart';
import { expectRejectsCode, pattern, wallSleep, within } from './util';

/** A fresh pair of connected, NOT yet opened UART ends (a cable), plus teardown. */
export interface UartContractPair {
  a: Uart;
  b: Uart;
  /** Makes the port of `a` vanish (USB pulled, pty peer killed). Enables the DISCONNECTED test. */
  disconnect?: () => Promise<void> | void;
  cleanup?: () => Promise<void> | void;
}

export interface UartContractOptions {
  /** A Uart whose path does not exist; enables the PORT_NOT_FOUND test. */
  missing?: () => Uart;
  /** Settle time (ms) for bytes to cross the link; default 50. */
  settleMs?: number;
}

/** Reads until `n` bytes arrived (checking every read obeys the 1..maxBytes rule). */
export async function readExactly(uart: Uart, n: number, maxBytes = 65536, timeoutMs = 5000): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  while (got < n) {
    const chunk = await within(uart.read(Math.min(maxBytes, n - got)), Math.max(1, deadline - Date.now()), `read of ${n} bytes`);
    expect(chunk.length).toBeGreaterThanOrEqual(1);
    expect(chunk.length).toBeLessThanOrEqual(Math.min(maxBytes, n - got));
    out.set(chunk, got);
    got += chunk.length;
  }
  return out;
}

/**
 * The Uart contract (see uart.ts), run against every implementation:
 * `describeUartContract('sim', async () => { const {host, device} = createSimUartPair(); return {a: host, b: device}; })`.
 */
export function describeUartContract(
  name: string,
  makePair: () => Promise<UartContractPair>,
  options: UartContractOptions = {},
): void {
  const settle = options.settleMs ?? 50;
  describe(`Uart contract: ${name}`, () => {
    let pair: UartContractPair | undefined;
    const open = async () => {
      pair = await makePair();
      await pair.a.open();
      await pair.b.open();
      return pair;
    };
    afterEach(async () => {
      if (!pair) return;
      await pair.a.close().catch(() => undefined);
      await pair.b.close().catch(() => undefined);
      await pair.cleanup?.();
      pair = undefined;
    });

    it('calls before open reject with NOT_OPEN (as rejected promises, not throws)', async () => {
      pair = await makePair();
      const { a } = pair;
      expect(a.isOpen).toBe(false);
      await expectRejectsCode(() => a.write(Uint8Array.of(1)), 'NOT_OPEN');
      await expectRejectsCode(() => a.read(), 'NOT_OPEN');
      await expectRejectsCode(() => a.drain(), 'NOT_OPEN');
    });

    it('open twice rejects with a TransportError; isOpen follows open/close', async () => {
      const { a } = await open();
      expect(a.isOpen).toBe(true);
      await expect(a.open()).rejects.toMatchObject({ name: 'TransportError' });
      await a.close();
      expect(a.isOpen).toBe(false);
    });

    it('moves bytes both ways byte-exact; each read is 1..maxBytes', async () => {
      const { a, b } = await open();
      const ab = pattern(300, 7);
      const ba = pattern(200, 9);
      await a.write(ab);
      await b.write(ba);
      expect(await readExactly(b, ab.length, 64)).toEqual(ab);
      expect(await readExactly(a, ba.length, 7)).toEqual(ba);
    });

    it('buffers bytes that arrive while no read is pending', async () => {
      const { a, b } = await open();
      await a.write(Uint8Array.of(1, 2, 3, 4, 5));
      await a.drain();
      await wallSleep(settle);
      expect(await readExactly(b, 5)).toEqual(Uint8Array.of(1, 2, 3, 4, 5));
    });

    it('writes are one at a time: concurrent writes never interleave', async () => {
      const { a, b } = await open();
      const x = new Uint8Array(2000).fill(0xaa);
      const y = new Uint8Array(2000).fill(0xbb);
      const z = pattern(1000, 3);
      await Promise.all([a.write(x), a.write(y), a.write(z)]);
      const got = await readExactly(b, 5000);
      expect(got.subarray(0, 2000)).toEqual(x);
      expect(got.subarray(2000, 4000)).toEqual(y);
      expect(got.subarray(4000)).toEqual(z);
    });

    it('drain resolves after the bytes have left', async () => {
      const { a, b } = await open();
      await a.write(pattern(1000, 5));
      await within(a.drain(), 5000, 'drain');
      expect((await readExactly(b, 1000)).length).toBe(1000);
    });

    it('only one read may be pending', async () => {
      const { a, b } = await open();
      const first = a.read();
      await expectRejectsCode(() => a.read(), 'READ_PENDING');
      await b.write(Uint8Array.of(42));
      expect(await within(first, 5000, 'first read')).toEqual(Uint8Array.of(42));
    });

    it('discardInput drops unread bytes', async () => {
      const { a, b } = await open();
      await a.write(Uint8Array.of(9, 9, 9));
      await a.drain();
      await wallSleep(settle);
      await b.discardInput();
      await a.write(Uint8Array.of(7));
      expect(await readExactly(b, 1)).toEqual(Uint8Array.of(7));
    });

    it('setBaudRate on an open port keeps it usable', async () => {
      const { a, b } = await open();
      await a.setBaudRate(115200);
      await b.setBaudRate(115200);
      expect(a.baudRate).toBe(115200);
      await a.write(Uint8Array.of(0x55));
      expect(await readExactly(b, 1)).toEqual(Uint8Array.of(0x55));
    });

    it('close rejects a pending read with CANCELED; later calls reject NOT_OPEN; close is idempotent', async () => {
      const { a } = await open();
      const pending = expect(within(a.read(), 2000, 'canceled read')).rejects.toMatchObject({ code: 'CANCELED' });
      await wallSleep(5);
      await a.close();
      await pending;
      await expectRejectsCode(() => a.read(), 'NOT_OPEN');
      await expectRejectsCode(() => a.write(Uint8Array.of(1)), 'NOT_OPEN');
      await a.close();
    });

    it('a port that vanishes rejects the pending read with DISCONNECTED', async (ctx) => {
      const p = await makePair();
      if (!p.disconnect) {
        await p.cleanup?.();
        ctx.skip();
        return;
      }
      pair = p;
      await p.a.open();
      await p.b.open();
      const pending = expect(within(p.a.read(), 5000, 'read on vanished port')).rejects.toMatchObject({ code: 'DISCONNECTED' });
      await wallSleep(5);
      await p.disconnect();
      await pending;
    });

    it('opening a path that does not exist rejects with PORT_NOT_FOUND naming the path', async (ctx) => {
      if (!options.missing) return ctx.skip();
      const u = options.missing();
      const err = await expectRejectsCode(() => u.open(), 'PORT_NOT_FOUND');
      expect(String((err as Error).message)).toContain(u.path);
    });
  });
}
