import { afterEach, describe, expect, it } from 'vitest';
import type { Spi } from '../spi';
import { expectRejectsCode, pattern, within } from './util';

export interface SpiContractFixture {
  /** A NOT yet opened Spi whose device answers each byte with its bitwise NOT (`~b & 0xff`). */
  spi: Spi;
  /** The kernel transfers (chunks) the device saw so far, in order. */
  chunks: () => Uint8Array[];
  cleanup?: () => Promise<void> | void;
}

/**
 * The Spi contract (see spi.ts): same-length replies, chunking at `maxTransferSize`
 * invisible to the caller, call-order execution, cancel on close.
 */
export function describeSpiContract(name: string, make: () => Promise<SpiContractFixture>): void {
  describe(`Spi contract: ${name}`, () => {
    let fx: SpiContractFixture | undefined;
    const opened = async () => {
      fx = await make();
      await fx.spi.open();
      return fx;
    };
    afterEach(async () => {
      await fx?.spi.close().catch(() => undefined);
      await fx?.cleanup?.();
      fx = undefined;
    });

    it('rejects transfers before open with NOT_OPEN', async () => {
      fx = await make();
      const { spi } = fx;
      expect(spi.isOpen).toBe(false);
      await expectRejectsCode(() => spi.transfer(Uint8Array.of(1)), 'NOT_OPEN');
      await expectRejectsCode(() => spi.write(Uint8Array.of(1)), 'NOT_OPEN');
    });

    it('open twice rejects', async () => {
      const { spi } = await opened();
      await expect(spi.open()).rejects.toMatchObject({ name: 'TransportError' });
    });

    it('a transfer returns exactly as many bytes as it sent', async () => {
      const { spi } = await opened();
      const tx = pattern(37, 2);
      const rx = await spi.transfer(tx);
      expect(rx).toEqual(tx.map((b) => ~b & 0xff));
    });

    it('splits transfers above maxTransferSize into kernel transfers, invisibly to the caller', async () => {
      const { spi, chunks } = await opened();
      const max = spi.maxTransferSize;
      const tx = pattern(max * 2 + 10, 4);
      const before = chunks().length;
      const rx = await within(spi.transfer(tx), 10_000, 'big transfer');
      const seen = chunks().slice(before);
      expect(seen.map((c) => c.length)).toEqual([max, max, 10]);
      expect(Buffer.concat(seen)).toEqual(Buffer.from(tx));
      expect(rx).toEqual(tx.map((b) => ~b & 0xff));
      const exact = pattern(max, 5);
      await spi.write(exact);
      expect(
        chunks()
          .slice(before + 3)
          .map((c) => c.length),
      ).toEqual([max]);
    });

    it('runs transfers one at a time in call order', async () => {
      const { spi, chunks } = await opened();
      const before = chunks().length;
      const all = [1, 2, 3, 4, 5].map((n) => spi.write(new Uint8Array(n).fill(n)));
      await Promise.all(all);
      expect(
        chunks()
          .slice(before)
          .map((c) => [...c]),
      ).toEqual([[1], [2, 2], [3, 3, 3], [4, 4, 4, 4], [5, 5, 5, 5, 5]]);
    });

    it('close cancels queued transfers with CANCELED; later calls reject NOT_OPEN; close is idempotent', async () => {
      const { spi } = await opened();
      const queued = Array.from({ length: 5 }, () => spi.transfer(pattern(spi.maxTransferSize * 3, 6)));
      const settled = within(Promise.allSettled(queued), 5000, 'queued transfers');
      await spi.close();
      const results = await settled;
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(rejected.length).toBeGreaterThanOrEqual(4);
      for (const r of rejected) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'CANCELED' });
      await expectRejectsCode(() => spi.transfer(Uint8Array.of(1)), 'NOT_OPEN');
      await spi.close();
    });
  });
}
