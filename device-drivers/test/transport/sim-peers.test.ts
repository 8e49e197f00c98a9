import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core';
import {
  createSimUartPair,
  once,
  PASS,
  SimFrameSource,
  SimGpioController,
  SimHidDevice,
  SimPwm,
  SimSpi,
  type SpiPeerContext,
} from '../../src/transport/sim';

const CHIP = 'pinctrl-bcm2711';

describe('SimSpi', () => {
  it('hands the peer each kernel transfer with the DC level at that moment', async () => {
    const gpio = new SimGpioController();
    const dc = await gpio.requestLine({ chipLabel: CHIP, line: 25, direction: 'out', initial: 0 });
    const seen: Array<[SpiPeerContext, number[]]> = [];
    const spi = new SimSpi({
      maxTransferSize: 4,
      dc: gpio.line(CHIP, 25),
      peer: { transfer: (tx, ctx) => void seen.push([ctx, [...tx]]) },
    });
    await spi.open();
    await spi.write(Uint8Array.of(0x24));
    await dc.write(1);
    const rx = await spi.transfer(Uint8Array.of(1, 2, 3, 4, 5, 6));
    expect(rx).toEqual(new Uint8Array(6));
    expect(seen).toEqual([
      [{ dc: 0, chunk: 0, chunks: 1 }, [0x24]],
      [{ dc: 1, chunk: 0, chunks: 2 }, [1, 2, 3, 4]],
      [{ dc: 1, chunk: 1, chunks: 2 }, [5, 6]],
    ]);
    expect(spi.stats).toEqual({ calls: 2, kernelTransfers: 3, bytesSent: 7, commandBytes: 1, dataBytes: 6 });
    expect(spi.bytesWithDc(1)).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6));
  });

  it('a fault override replaces exactly one transfer and falls through afterwards', async () => {
    const spi = new SimSpi({ peer: { transfer: (tx) => tx } });
    await spi.open();
    spi.faults.transfer = once(() => {
      throw new Error('bus glitch');
    });
    await expect(spi.transfer(Uint8Array.of(1))).rejects.toThrow('bus glitch');
    expect(await spi.transfer(Uint8Array.of(7))).toEqual(Uint8Array.of(7));
    spi.faults.transfer = (tx) => (tx[0] === 9 ? Uint8Array.of(0xee) : PASS);
    expect(await spi.transfer(Uint8Array.of(9))).toEqual(Uint8Array.of(0xee));
    expect(await spi.transfer(Uint8Array.of(8))).toEqual(Uint8Array.of(8));
  });
});

describe('SimGpioController', () => {
  it('waitFor runs on the injected clock: resolves at the device change, times out at the deadline', async () => {
    const clock = new ManualClock();
    const gpio = new SimGpioController({ clock });
    const busy = gpio.line(CHIP, 24);
    busy.setLevel(1);
    const line = await gpio.requestLine({ chipLabel: CHIP, line: 24, direction: 'in' });
    clock.setTimeout(() => busy.setLevel(0), 1200);
    await line.waitFor(0, 5000);
    expect(clock.monotonic()).toBe(1200);
    await expect(line.waitFor(1, 300)).rejects.toMatchObject({ code: 'DEVICE_TIMEOUT', timeoutMs: 300 });
    expect(clock.monotonic()).toBe(1500);
  });

  it('records host writes with timestamps (a RST pulse) and refuses device drive on a host output', async () => {
    const clock = new ManualClock();
    const gpio = new SimGpioController({ clock });
    const rst = await gpio.requestLine({ chipLabel: CHIP, line: 17, direction: 'out', initial: 1 });
    const wire = gpio.line(CHIP, 17);
    const changes: number[] = [];
    wire.onChange((l) => changes.push(l));
    await rst.write(0);
    await clock.sleep(10);
    await rst.write(1);
    expect(changes).toEqual([0, 1]);
    expect(wire.hostWrites.map((c) => [c.level, c.atMs])).toEqual([
      [1, 0],
      [0, 0],
      [1, 10],
    ]);
    expect(() => wire.setLevel(0)).toThrow(expect.objectContaining({ code: 'GPIO_CONTENTION' }));
  });

  it('a line can be requested only once; writes to an input are refused; pull-up bias idles high', async () => {
    const gpio = new SimGpioController();
    const a = await gpio.requestLine({ chipLabel: CHIP, line: 5, direction: 'in', bias: 'pull-up' });
    expect(await a.read()).toBe(1);
    await expect(gpio.requestLine({ chipLabel: CHIP, line: 5, direction: 'in' })).rejects.toMatchObject({ code: 'GPIO_BUSY' });
    await expect(a.write(1)).rejects.toMatchObject({ code: 'GPIO_DIRECTION' });
    gpio.line(CHIP, 5).setLevel(0);
    expect(await a.read()).toBe(0);
    gpio.line(CHIP, 5).release();
    expect(await a.read()).toBe(1);
  });

  it('fault override on read falls through with PASS', async () => {
    const gpio = new SimGpioController();
    const l = await gpio.requestLine({ chipLabel: CHIP, line: 6, direction: 'in' });
    gpio.faults.read = once(() => 1);
    expect(await l.read()).toBe(1);
    expect(await l.read()).toBe(0);
  });
});

describe('SimPwm', () => {
  it('reports state changes to the device face and exposes the effective output', async () => {
    const clock = new ManualClock();
    const pwm = new SimPwm({ clock });
    const seen: number[] = [];
    pwm.onChange(() => seen.push(pwm.output));
    await pwm.open();
    await expect(pwm.enable()).rejects.toMatchObject({ code: 'PWM' });
    await pwm.configure({ frequencyHz: 25_000, duty: 0.3 });
    await pwm.enable();
    clock.advance(5);
    await pwm.configure({ duty: 0.6 });
    await pwm.disable();
    expect(seen).toEqual([0, 0.3, 0.6, 0]);
    expect(pwm.history.map((h) => [h.duty, h.enabled, h.atMs])).toEqual([
      [0.3, false, 0],
      [0.3, true, 0],
      [0.6, true, 5],
      [0.6, false, 5],
    ]);
  });

  it('a configure fault leaves the state untouched', async () => {
    const pwm = new SimPwm();
    await pwm.open();
    pwm.faults.configure = once(() => {
      throw new Error('EBUSY');
    });
    await expect(pwm.configure({ frequencyHz: 1000 })).rejects.toThrow('EBUSY');
    expect(pwm.state.frequencyHz).toBe(0);
  });
});

describe('SimHidDevice', () => {
  it('drops reports while closed, can corrupt one report via faults.report, and replug allows reopen', async () => {
    const hid = new SimHidDevice({ vendorId: 0x05ac, productId: 0x0201 });
    hid.sendReport([1]);
    await hid.open();
    expect(hid.queued).toBe(0);
    hid.faults.report = once((r) => r.map(() => 0xff));
    hid.sendReport([1, 2]);
    hid.sendReport([3, 4]);
    expect(await hid.read()).toEqual(Uint8Array.of(0xff, 0xff));
    expect(await hid.read()).toEqual(Uint8Array.of(3, 4));
    hid.unplug();
    await expect(hid.open()).rejects.toMatchObject({ code: 'PORT_NOT_FOUND' });
    hid.replug();
    await hid.open();
    expect(hid.isOpen).toBe(true);
  });
});

describe('SimFrameSource', () => {
  it('produces frames on the injected clock, newest wins, renders lazily', async () => {
    const clock = new ManualClock({ autoAdvance: false });
    const rendered: number[] = [];
    const cam = new SimFrameSource({
      width: 2,
      height: 2,
      fps: 10,
      clock,
      startDelayMs: 50,
      render: (seq, t) => {
        rendered.push(seq);
        return { data: Uint8Array.of(seq, t & 0xff, 0, 0), exposureUs: 10_000, gain: 2 };
      },
    });
    await cam.start();
    const first = cam.next();
    clock.advance(50);
    expect(await first).toMatchObject({ seq: 0, timestampMs: 50, exposureUs: 10_000, gain: 2, data: Uint8Array.of(0, 50, 0, 0) });
    clock.advance(350);
    const f = await cam.next();
    expect(f.seq).toBe(3);
    expect(f.timestampMs).toBe(350);
    expect(cam.stats).toEqual({ received: 4, dropped: 2 });
    expect(rendered).toEqual([0, 3]);
    await cam.stop();
  });

  it('rejects a render of the wrong size with a ValidationError', async () => {
    const clock = new ManualClock();
    const cam = new SimFrameSource({ width: 4, height: 4, clock, render: () => new Uint8Array(3) });
    await cam.start();
    await expect(cam.next()).rejects.toMatchObject({ code: 'INVALID' });
    await cam.stop();
  });
});

describe('SimUart', () => {
  it('write/read/drain on a closed end return rejected promises', async () => {
    const { host } = createSimUartPair();
    for (const call of [() => host.write(Uint8Array.of(1)), () => host.read(), () => host.drain()]) {
      let p: Promise<unknown> | undefined;
      expect(() => {
        p = call();
      }).not.toThrow();
      await expect(p).rejects.toMatchObject({ code: 'NOT_OPEN' });
    }
  });
});
