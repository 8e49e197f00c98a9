/**
 * The sim platform is wired from the board description: change a pin in the board and
 * the drivers follow (pins are never typed twice). Drivers work end to end on the sims.
 */
import { boardPins, referenceBoard } from '@handset/schematics';
import { describe, expect, it } from 'vitest';
import { createSimPlatform, defaultDecoder, panelIdOf } from '../../src/index';

describe('sim platform', () => {
  it('uses the board pins; enrol + identify on the R307, a screen on the panel, the LED on its PWM', async () => {
    const board = structuredClone(referenceBoard());
    const p = await createSimPlatform({ board, decoder: await defaultDecoder(200) });
    try {
      await p.open();
      const pins = boardPins(board, 'pi4');
      expect(p.pins).toEqual(pins);
      expect(p.sim.uart.path).toBe(pins.r307.uart.path);
      expect(p.sim.led.name).toBe(`sim:${pins.fillLight.pwm.pinName}`);
      p.sim.r307.placeFinger('alice');
      const { slot } = await p.r307.enroll(undefined, {
        onPrompt: (e) => {
          if (e.step === 'lift-finger') p.sim.r307.liftFinger();
          if (e.step === 'place-again') p.sim.r307.placeFinger('alice');
        },
      });
      p.sim.r307.placeFinger('alice');
      expect((await p.r307.identify({ timeoutMs: 2000 }))?.slot).toBe(slot);
      p.sim.r307.placeFinger('mallory');
      expect(await p.r307.identify({ timeoutMs: 2000 })).toBeUndefined();
      await p.presenter.show({ kind: 'idle' });
      expect(p.sim.panel.mismatchPixels()).toBe(0);
      expect(p.sim.panel.stats.refreshes.full).toBe(1);
      // the touch line the driver waits on is the board's TOUCH line
      const touch = p.sim.gpio.line(pins.r307.touch.chipLabel, pins.r307.touch.line);
      p.sim.r307.placeFinger('alice');
      const on = touch.level;
      p.sim.r307.liftFinger();
      expect(touch.level).not.toBe(on);
    } finally {
      await p.close();
    }
  }, 30_000);

  it('panel names from the board map to driver panels; unknown ones are refused', () => {
    expect(panelIdOf('2.13in-v4')).toBe('2in13');
    expect(panelIdOf('2.9in')).toBe('2in9');
    expect(() => panelIdOf('7.5in')).toThrow(/unsupported e-ink panel/);
  });
});
