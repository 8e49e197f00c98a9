import { afterEach, describe, expect, it } from 'vitest';
import type { GpioController, GpioLevel, GpioLine } from '../gpio';
import { expectRejectsCode, wallSleep, within } from './util';

export interface GpioContractFixture {
  controller: GpioController;
  /** A chip label that exists, with lines `input` and `output` free. */
  chipLabel: string;
  input: number;
  output: number;
  /** Sets the physical level of the `input` line from outside (the device). */
  drive: (level: GpioLevel) => Promise<void> | void;
  /** Reads the physical level of the `output` line from outside. */
  observe: () => Promise<GpioLevel> | GpioLevel;
  /** Longest time (wall ms) between a level change and the implementation seeing it (poll interval). */
  latencyMs?: number;
  cleanup?: () => Promise<void> | void;
}

/** The GpioLine/GpioController contract (see gpio.ts). Timings use the wall clock and stay short. */
export function describeGpioContract(name: string, make: () => Promise<GpioContractFixture>): void {
  describe(`Gpio contract: ${name}`, () => {
    let fx: GpioContractFixture | undefined;
    const lines: GpioLine[] = [];
    const req = async (f: GpioContractFixture, dir: 'in' | 'out', extra: { initial?: GpioLevel; activeLow?: boolean } = {}) => {
      const line = await f.controller.requestLine({
        chipLabel: f.chipLabel,
        line: dir === 'in' ? f.input : f.output,
        direction: dir,
        consumer: 'contract',
        ...extra,
      });
      lines.push(line);
      return line;
    };
    afterEach(async () => {
      for (const l of lines.splice(0)) await l.close().catch(() => undefined);
      await fx?.cleanup?.();
      fx = undefined;
    });

    it('an output holds the last value written; read() returns it', async () => {
      fx = await make();
      const out = await req(fx, 'out', { initial: 1 });
      expect(out.direction).toBe('out');
      expect(await fx.observe()).toBe(1);
      await out.write(0);
      expect(await out.read()).toBe(0);
      expect(await fx.observe()).toBe(0);
      await out.write(1);
      expect(await out.read()).toBe(1);
      expect(await fx.observe()).toBe(1);
    });

    it('activeLow inverts the logical value on the wire', async () => {
      fx = await make();
      const out = await req(fx, 'out', { initial: 0, activeLow: true });
      expect(await fx.observe()).toBe(1);
      await out.write(1);
      expect(await fx.observe()).toBe(0);
    });

    it('an input reads the level now', async () => {
      fx = await make();
      const inp = await req(fx, 'in');
      await fx.drive(1);
      expect(await inp.read()).toBe(1);
      await fx.drive(0);
      expect(await inp.read()).toBe(0);
    });

    it('waitFor resolves at once when already at the value, later when the line changes, and times out otherwise', async () => {
      const f = await make();
      fx = f;
      const inp = await req(f, 'in');
      await f.drive(1);
      await within(inp.waitFor(1, 1000), 1000, 'waitFor(current)');
      const w = inp.waitFor(0, 2000);
      await wallSleep(20);
      await f.drive(0);
      await within(w, 2000, 'waitFor(change)');
      const t0 = Date.now();
      await expect(within(inp.waitFor(1, 60), 3000, 'waitFor(timeout)')).rejects.toMatchObject({ code: 'DEVICE_TIMEOUT' });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(50);
    });

    it('watch reports edges until unsubscribed', async () => {
      const f = await make();
      fx = f;
      const latency = f.latencyMs ?? 5;
      const inp = await req(f, 'in');
      await f.drive(0);
      const rising: GpioLevel[] = [];
      const both: GpioLevel[] = [];
      const offRising = inp.watch('rising', (l) => rising.push(l));
      const offBoth = inp.watch('both', (l) => both.push(l));
      await wallSleep(latency * 3);
      await f.drive(1);
      await wallSleep(latency * 3);
      await f.drive(0);
      await wallSleep(latency * 3);
      offRising();
      await f.drive(1);
      await wallSleep(latency * 3);
      offBoth();
      expect(rising).toEqual([1]);
      expect(both).toEqual([1, 0, 1]);
    });

    it('unknown chip label or line rejects with GPIO_NOT_FOUND naming it', async () => {
      fx = await make();
      const f = fx;
      const e1 = await expectRejectsCode(
        () => f.controller.requestLine({ chipLabel: 'no-such-chip', line: 0, direction: 'in' }),
        'GPIO_NOT_FOUND',
      );
      expect((e1 as Error).message).toContain('no-such-chip');
      const e2 = await expectRejectsCode(
        () => f.controller.requestLine({ chipLabel: f.chipLabel, line: 100_000, direction: 'in' }),
        'GPIO_NOT_FOUND',
      );
      expect((e2 as Error).message).toContain('100000');
    });

    it('close cancels a pending waitFor; later calls reject NOT_OPEN; the line can be requested again', async () => {
      const f = await make();
      fx = f;
      const inp = await req(f, 'in');
      await f.drive(0);
      const w = expect(within(inp.waitFor(1, 5000), 2000, 'canceled wait')).rejects.toMatchObject({ code: 'CANCELED' });
      await wallSleep(10);
      await inp.close();
      await w;
      await expectRejectsCode(() => inp.read(), 'NOT_OPEN');
      await inp.close();
      const again = await req(f, 'in');
      expect(again.direction).toBe('in');
    });

    it('waitFor honours an abort signal', async () => {
      const f = await make();
      fx = f;
      const inp = await req(f, 'in');
      await f.drive(0);
      const ac = new AbortController();
      const w = expect(within(inp.waitFor(1, 5000, ac.signal), 2000, 'aborted wait')).rejects.toMatchObject({ code: 'CANCELED' });
      ac.abort();
      await w;
    });
  });
}
