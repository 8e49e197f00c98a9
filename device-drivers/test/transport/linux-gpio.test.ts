import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core';
import { describeGpioContract } from '../../src/transport/contract';
import {
  GPIOD_FLAGS,
  type GpiodChip,
  type GpiodLine,
  type GpiodModule,
  LinuxGpioController,
} from '../../src/transport/linux/gpio';
import { fakeRoot } from './fake-fs';

interface FakeLineState {
  physical: 0 | 1;
  request?: { dir: 'in' | 'out'; flags: number; consumer: string };
}

/** A fake of the GPIO character device as node-libgpiod presents it (libgpiod 1.x semantics). */
function fakeKernel(chips: Array<{ label: string; lines: number }>) {
  const state = chips.map((c) => ({
    label: c.label,
    lines: Array.from({ length: c.lines }, (): FakeLineState => ({ physical: 0 })),
  }));
  const requests: Array<{ chip: number; offset: number; dir: string; flags: number; consumer: string; initial?: number }> = [];
  const gpiod: GpiodModule = {
    Chip: class implements GpiodChip {
      private readonly s: (typeof state)[number];
      constructor(id: number | string) {
        const s = state[Number(id)];
        if (!s) throw new Error(`ENOENT: /dev/gpiochip${id}`);
        this.s = s;
      }
      get label() {
        return this.s.label;
      }
      get numberOfLines() {
        return this.s.lines.length;
      }
      getLine(offset: number): GpiodLine {
        const l = this.s.lines[offset] as FakeLineState;
        const chip = state.indexOf(this.s);
        const inv = () => ((l.request?.flags ?? 0) & GPIOD_FLAGS.ACTIVE_LOW ? 1 : 0);
        const claim = (dir: 'in' | 'out', consumer: string, flags: number, initial?: number) => {
          if (l.request) throw new Error('Device or resource busy (EBUSY)');
          l.request = { dir, flags, consumer };
          requests.push({ chip, offset, dir, flags, consumer, initial });
          if (dir === 'out') l.physical = ((initial ?? 0) ^ inv()) as 0 | 1;
          else if (flags & GPIOD_FLAGS.BIAS_PULL_UP) l.physical = 1;
        };
        return {
          getValue: () => {
            if (!l.request) throw new Error('EPERM: line not requested');
            return l.physical ^ inv();
          },
          setValue: (v: number) => {
            if (l.request?.dir !== 'out') throw new Error('EPERM: not an output');
            l.physical = ((v ? 1 : 0) ^ inv()) as 0 | 1;
          },
          requestInputModeFlags: (consumer, flags) => claim('in', consumer, flags),
          requestOutputModeFlags: (consumer, flags, initial) => claim('out', consumer, flags, initial),
          release: () => {
            l.request = undefined;
          },
        };
      }
    },
  };
  const line = (chip: number, offset: number) => state[chip]?.lines[offset] as FakeLineState;
  return { gpiod, line, requests };
}

describeGpioContract('LinuxGpioController with a fake libgpiod + fake /dev', async () => {
  const fs = await fakeRoot({
    'dev/gpiochip0': '',
    'dev/gpiochip1': '',
    'sys/bus/gpio/devices/gpiochip0/label': 'raspberrypi-exp-gpio\n',
    'sys/bus/gpio/devices/gpiochip1/label': 'pinctrl-bcm2711\n',
  });
  const k = fakeKernel([
    { label: 'raspberrypi-exp-gpio', lines: 8 },
    { label: 'pinctrl-bcm2711', lines: 58 },
  ]);
  return {
    controller: new LinuxGpioController({ root: fs.root, gpiod: k.gpiod, pollIntervalMs: 1 }),
    chipLabel: 'pinctrl-bcm2711',
    input: 24,
    output: 25,
    drive: (level) => {
      k.line(1, 24).physical = level;
    },
    observe: () => k.line(1, 25).physical,
    latencyMs: 2,
    cleanup: fs.cleanup,
  };
});

describe('LinuxGpioController', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('finds the chip by label (libgpiod label when sysfs has none), passes flags, maps EBUSY', async () => {
    const fs = await fakeRoot({ 'dev/gpiochip0': '', 'dev/gpiochip4': '', 'dev/gpiochip10': '', 'dev/gpiomem': '' });
    cleanups.push(fs.cleanup);
    const k = fakeKernel([{ label: 'pinctrl-rp1', lines: 54 }]);
    const ctl = new LinuxGpioController({ root: fs.root, gpiod: k.gpiod });
    const chips = await ctl.listChips();
    expect(chips.map((c) => [c.index, c.label])).toEqual([
      [0, 'pinctrl-rp1'],
      [4, undefined],
      [10, undefined],
    ]);
    const busy = await ctl.requestLine({
      chipLabel: 'pinctrl-rp1',
      line: 24,
      direction: 'in',
      bias: 'pull-up',
      consumer: 'ssd1680-busy',
    });
    const rst = await ctl.requestLine({ chipLabel: 'pinctrl-rp1', line: 17, direction: 'out', initial: 1, activeLow: true });
    expect(k.requests).toEqual([
      { chip: 0, offset: 24, dir: 'in', flags: GPIOD_FLAGS.BIAS_PULL_UP, consumer: 'ssd1680-busy', initial: undefined },
      { chip: 0, offset: 17, dir: 'out', flags: GPIOD_FLAGS.ACTIVE_LOW, consumer: 'handset', initial: 1 },
    ]);
    expect(await busy.read()).toBe(1);
    expect(k.line(0, 17).physical).toBe(0);
    await expect(ctl.requestLine({ chipLabel: 'pinctrl-rp1', line: 24, direction: 'in' })).rejects.toMatchObject({
      code: 'GPIO_BUSY',
      message: expect.stringContaining('pinctrl-rp1:24'),
    });
    await expect(busy.write(1)).rejects.toMatchObject({ code: 'GPIO_DIRECTION' });
    const err = await ctl.requestLine({ chipLabel: 'pinctrl-bcm2711', line: 1, direction: 'in' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'GPIO_NOT_FOUND' });
    expect((err as Error).message).toContain("'pinctrl-bcm2711' not found (have: gpiochip0=pinctrl-rp1, gpiochip4=? (ENOENT");
    await busy.close();
    await rst.close();
  });

  it('waitFor polls on the injected clock and times out exactly at the deadline', async () => {
    const fs = await fakeRoot({ 'dev/gpiochip0': '', 'sys/bus/gpio/devices/gpiochip0/label': 'pinctrl-bcm2711' });
    cleanups.push(fs.cleanup);
    const k = fakeKernel([{ label: 'pinctrl-bcm2711', lines: 58 }]);
    const clock = new ManualClock();
    const ctl = new LinuxGpioController({ root: fs.root, gpiod: k.gpiod, clock, pollIntervalMs: 5 });
    const busy = await ctl.requestLine({ chipLabel: 'pinctrl-bcm2711', line: 24, direction: 'in' });
    k.line(0, 24).physical = 1;
    clock.setTimeout(() => {
      k.line(0, 24).physical = 0;
    }, 1002);
    await busy.waitFor(0, 3000);
    expect(clock.monotonic()).toBe(1005);
    await expect(busy.waitFor(1, 333)).rejects.toMatchObject({
      code: 'DEVICE_TIMEOUT',
      message: expect.stringContaining('333 ms'),
    });
    expect(clock.monotonic()).toBe(1005 + 333);
    await busy.close();
  });

  it('no GPIO chips at all (this container) -> GPIO_NOT_FOUND; the real node-libgpiod loads lazily and its open failure is reported', async () => {
    const empty = await fakeRoot({});
    cleanups.push(empty.cleanup);
    await expect(
      new LinuxGpioController({ root: empty.root }).requestLine({ chipLabel: 'x', line: 0, direction: 'in' }),
    ).rejects.toMatchObject({
      code: 'GPIO_NOT_FOUND',
      message: expect.stringContaining('no /dev/gpiochip*'),
    });
    const fs = await fakeRoot({ 'dev/gpiochip0': '' });
    cleanups.push(fs.cleanup);
    const chips = await new LinuxGpioController({ root: fs.root }).listChips();
    expect(chips).toHaveLength(1);
    expect(chips[0]?.label).toBeUndefined();
    expect(chips[0]?.error).toBeTruthy();
    expect(chips[0]?.error).not.toMatch(/unavailable/);
  });
});
