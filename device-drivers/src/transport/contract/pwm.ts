import { afterEach, describe, expect, it } from 'vitest';
import type { Pwm, PwmState } from '../pwm';
import { expectRejectsCode } from './util';

export interface PwmContractFixture {
  /** A NOT yet opened channel. */
  pwm: Pwm;
  /** What the hardware is doing, read from outside (sysfs files, the sim's device face). */
  observe: () => Promise<PwmState> | PwmState;
  cleanup?: () => Promise<void> | void;
}

/** The Pwm contract (see pwm.ts). */
export function describePwmContract(name: string, make: () => Promise<PwmContractFixture>): void {
  describe(`Pwm contract: ${name}`, () => {
    let fx: PwmContractFixture | undefined;
    const opened = async () => {
      fx = await make();
      await fx.pwm.open();
      return fx;
    };
    afterEach(async () => {
      await fx?.pwm.close().catch(() => undefined);
      await fx?.cleanup?.();
      fx = undefined;
    });

    it('calls before open reject NOT_OPEN', async () => {
      fx = await make();
      const { pwm } = fx;
      await expectRejectsCode(() => pwm.configure({ frequencyHz: 1000 }), 'NOT_OPEN');
      await expectRejectsCode(() => pwm.enable(), 'NOT_OPEN');
    });

    it('configure + enable drive the output; state and hardware agree', async () => {
      const { pwm, observe } = await opened();
      await pwm.configure({ frequencyHz: 20_000, duty: 0.25 });
      await pwm.enable();
      expect(pwm.state).toEqual({ frequencyHz: 20_000, duty: 0.25, enabled: true });
      const hw = await observe();
      expect(hw.enabled).toBe(true);
      expect(hw.frequencyHz).toBeCloseTo(20_000, 6);
      expect(hw.duty).toBeCloseTo(0.25, 6);
      await pwm.configure({ duty: 0.9 });
      expect((await observe()).duty).toBeCloseTo(0.9, 6);
      await pwm.disable();
      expect(pwm.state.enabled).toBe(false);
      expect((await observe()).enabled).toBe(false);
    });

    it('period changes in both directions keep the duty fraction', async () => {
      const { pwm, observe } = await opened();
      await pwm.configure({ frequencyHz: 1000, duty: 0.8 });
      await pwm.enable();
      await pwm.configure({ frequencyHz: 50_000 });
      let hw = await observe();
      expect(hw.frequencyHz).toBeCloseTo(50_000, 6);
      expect(hw.duty).toBeCloseTo(0.8, 6);
      await pwm.configure({ frequencyHz: 2000, duty: 0.1 });
      hw = await observe();
      expect(hw.frequencyHz).toBeCloseTo(2000, 6);
      expect(hw.duty).toBeCloseTo(0.1, 6);
      expect(pwm.state).toEqual({ frequencyHz: 2000, duty: 0.1, enabled: true });
    });

    it('bad settings reject with PWM_INVALID and change nothing', async () => {
      const { pwm, observe } = await opened();
      await pwm.configure({ frequencyHz: 20_000, duty: 0.5 });
      const before = await observe();
      for (const bad of [{ duty: -0.1 }, { duty: 1.5 }, { duty: Number.NaN }, { frequencyHz: 0 }, { frequencyHz: -5 }]) {
        await expectRejectsCode(() => pwm.configure(bad), 'PWM_INVALID');
      }
      expect(pwm.state).toEqual({ frequencyHz: 20_000, duty: 0.5, enabled: false });
      expect(await observe()).toEqual(before);
    });

    it('close disables the output, is idempotent, and later calls reject NOT_OPEN', async () => {
      const { pwm } = await opened();
      await pwm.configure({ frequencyHz: 20_000, duty: 0.5 });
      await pwm.enable();
      await pwm.close();
      expect(pwm.state.enabled).toBe(false);
      await pwm.close();
      await expectRejectsCode(() => pwm.configure({ duty: 0.1 }), 'NOT_OPEN');
    });
  });
}
