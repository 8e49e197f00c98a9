import { afterEach, describe, expect, it } from 'vitest';
import type { FrameSource, GrayFrame } from '../frame-source';
import { wallSleep, within } from './util';

export interface FrameSourceContractFixture {
  /** A NOT yet started source producing frames continuously (live camera, looped file, sim on the wall clock). */
  source: FrameSource;
  /** Wall-clock interval between frames (ms). */
  frameIntervalMs: number;
  /** Kills the capture from outside (SIGKILL the process, `die()` the sim). */
  kill: () => Promise<void> | void;
  /** Optional pixel check for each frame received. */
  checkFrame?: (frame: GrayFrame) => void;
  cleanup?: () => Promise<void> | void;
}

/** The FrameSource contract (see frame-source.ts). */
export function describeFrameSourceContract(name: string, make: () => Promise<FrameSourceContractFixture>): void {
  describe(`FrameSource contract: ${name}`, () => {
    let fx: FrameSourceContractFixture | undefined;
    const started = async () => {
      fx = await make();
      await within(fx.source.start(), 10_000, 'start');
      return fx;
    };
    afterEach(async () => {
      await fx?.source.stop().catch(() => undefined);
      await fx?.cleanup?.();
      fx = undefined;
    });

    it('delivers whole frames with increasing seq and monotonic timestamps', async () => {
      const { source, checkFrame, frameIntervalMs } = await started();
      expect(source.isRunning).toBe(true);
      let prev: GrayFrame | undefined;
      for (let i = 0; i < 5; i++) {
        const f = await within(source.next(), 5000 + frameIntervalMs * 2, 'next');
        expect(f.width).toBe(source.width);
        expect(f.height).toBe(source.height);
        expect(f.data.length).toBe(source.width * source.height);
        checkFrame?.(f);
        if (prev) {
          expect(f.seq).toBeGreaterThan(prev.seq);
          expect(f.timestampMs).toBeGreaterThanOrEqual(prev.timestampMs);
        }
        prev = f;
      }
      expect(source.stats.received).toBeGreaterThanOrEqual(5);
    });

    it('a slow consumer gets the newest frame; older ones are counted as dropped', async () => {
      const { source, frameIntervalMs } = await started();
      const a = await within(source.next(), 5000, 'first frame');
      await wallSleep(frameIntervalMs * 10);
      const b = await within(source.next(), 5000, 'frame after pause');
      expect(b.seq - a.seq).toBeGreaterThan(2);
      expect(source.stats.dropped).toBeGreaterThanOrEqual(1);
      expect(source.stats.received - source.stats.dropped).toBeGreaterThanOrEqual(2);
    });

    it('stop rejects a pending next with CANCELED and is idempotent', async () => {
      const { source } = await started();
      await within(source.next(), 5000, 'first frame');
      const pending = expect(within(source.next(), 2000, 'canceled next')).rejects.toMatchObject({ code: 'CANCELED' });
      await source.stop();
      await pending;
      expect(source.isRunning).toBe(false);
      await source.stop();
    });

    it('an abort signal cancels a pending next', async () => {
      const { source } = await started();
      await within(source.next(), 5000, 'first frame');
      const ac = new AbortController();
      const pending = expect(within(source.next(ac.signal), 2000, 'aborted next')).rejects.toMatchObject({ code: 'CANCELED' });
      ac.abort();
      await pending;
    });

    it('a capture that dies rejects next with CAPTURE_DIED and an exit code', async () => {
      const f = await started();
      await within(f.source.next(), 5000, 'first frame');
      await f.kill();
      let err: unknown;
      for (let i = 0; i < 10 && !err; i++) {
        err = await within(f.source.next(), 5000, 'next after death').then(
          () => undefined,
          (e: unknown) => e,
        );
      }
      expect(err).toMatchObject({ code: 'CAPTURE_DIED' });
      expect((err as { details?: Record<string, unknown> }).details).toHaveProperty('exitCode');
      await expect(f.source.next()).rejects.toMatchObject({ code: 'CAPTURE_DIED' });
    });
  });
}
