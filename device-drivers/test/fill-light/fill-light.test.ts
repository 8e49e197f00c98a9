import { TransportError } from '@handset/device-drivers/core';
import { once, PASS, SimGpioController, SimPwm } from '@handset/device-drivers/transport';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLinuxIoPlugin,
  createVirtualIoPlugin,
  FillLight,
  FillLightController,
  FillLightError,
  type FillLightInput,
  MODES,
  PwmIoPlugin,
} from '../../src/fill-light/index';

const opened: FillLight[] = [];
afterEach(async () => {
  for (const l of opened.splice(0)) await l.close();
});

async function openLight(pwm = new SimPwm({ name: 'sim:pwm0' })) {
  const io = createVirtualIoPlugin({ pwm: { 12: pwm } });
  const light = await FillLight.open({ io, pin: 'GPIO12' });
  opened.push(light);
  return { io, pwm, light };
}

describe('IO plugin (johnny-five contract)', () => {
  it('exposes the pins/MODES johnny-five needs and becomes ready asynchronously', async () => {
    const io = createVirtualIoPlugin({ pwm: { 12: new SimPwm() }, gpio: new SimGpioController() });
    expect(io.isReady).toBe(false);
    const events: string[] = [];
    io.on('connect', () => events.push('connect'));
    io.on('ready', () => events.push('ready'));
    await io.connect();
    expect(events).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['connect', 'ready']);
    expect(io.MODES).toEqual({ INPUT: 0, OUTPUT: 1, ANALOG: 2, PWM: 3, SERVO: 4 });
    expect(io.pins[12]?.supportedModes).toContain(MODES.PWM);
    expect(io.pins[17]?.supportedModes).not.toContain(MODES.PWM);
    expect(io.pins[12]?.analogChannel).toBe(127);
    expect(io.normalize('GPIO13')).toBe(13);
    expect(() => io.normalize('D13x')).toThrow(FillLightError);
    expect(() => io.analogRead()).toThrow(FillLightError);
    await io.close();
  });

  it('refuses a PWM frequency under 20 kHz (rolling-shutter banding)', () => {
    expect(() => createLinuxIoPlugin({ pwm: { 12: new SimPwm() }, frequencyHz: 1000 })).toThrow(/20000 Hz/);
  });

  it('drives GPIO (non-PWM) pins through GpioLine', async () => {
    const gpio = new SimGpioController();
    const io = new PwmIoPlugin({ name: 't', pwm: {}, gpio: { controller: gpio, chipLabel: 'pinctrl-bcm2711' } });
    await io.connect();
    io.pinMode(17, MODES.OUTPUT);
    io.digitalWrite(17, 1);
    await io.settle(17);
    expect(gpio.line('pinctrl-bcm2711', 17).level).toBe(1);
    await io.close();
  });
});

describe('FillLight over johnny-five Led', () => {
  it('maps brightness to PWM duty at >= 20 kHz and off to duty 0', async () => {
    const { pwm, light } = await openLight();
    expect(pwm.state.frequencyHz).toBeGreaterThanOrEqual(20_000);
    expect(pwm.state.enabled).toBe(true);
    await light.setDuty(0.5);
    expect(pwm.output).toBeCloseTo(128 / 255, 5);
    await light.setDuty(1);
    expect(pwm.output).toBe(1);
    await light.off();
    expect(pwm.output).toBe(0);
    expect(light.isOn).toBe(false);
  });

  it('a failing PWM write rejects with a typed LED_PWM error, and the next write works', async () => {
    const { pwm, light } = await openLight();
    pwm.faults.configure = once(() => {
      throw new TransportError('EIO from sysfs', { code: 'PWM' });
    });
    await expect(light.setDuty(0.4)).rejects.toMatchObject({ name: 'FillLightError', code: 'LED_PWM' });
    await light.setDuty(0.3);
    expect(pwm.output).toBeCloseTo(77 / 255, 5);
  });

  it('a channel that fails to start -> open() rejects with LED_PWM', async () => {
    const pwm = new SimPwm();
    pwm.faults.enable = () => {
      throw new TransportError('Device or resource busy', { code: 'PWM' });
    };
    const io = createVirtualIoPlugin({ pwm: { 12: pwm } });
    await expect(FillLight.open({ io, pin: 12 })).rejects.toMatchObject({ code: 'LED_PWM' });
    await io.close();
  });

  it('a pin without PWM is refused', async () => {
    const io = createVirtualIoPlugin({ pwm: { 12: new SimPwm() } });
    await expect(FillLight.open({ io, pin: 'GPIO5' })).rejects.toMatchObject({ code: 'LED_PIN' });
  });
});

const dark: FillLightInput = { exposureUs: 66_000, gain: 8, luma: { meanY: 110, clipped: 0 } };

describe('FillLightController', () => {
  const mid: FillLightInput = { exposureUs: 12_000, gain: 1.6, luma: { meanY: 115, clipped: 0 } };
  const bright: FillLightInput = { exposureUs: 1_500, gain: 1, luma: { meanY: 120, clipped: 0 } };

  it('turns on in the dark, steps up multiplicatively with a rate limit, holds in the band, steps down and off in good light', async () => {
    const { pwm, light } = await openLight();
    const c = new FillLightController({ light, settleFrames: 2, framesPerStep: 2 });
    const actions: string[] = [];
    for (let i = 0; i < 9; i++) actions.push((await c.update(dark)).action);
    expect(actions).toEqual(['on', 'settling', 'settling', 'up', 'settling', 'settling', 'up', 'settling', 'settling']);
    expect(c.duty).toBeCloseTo(0.15 * 1.5 * 1.5, 5);
    expect(pwm.output).toBeCloseTo(Math.round(0.3375 * 255) / 255, 5);
    for (let i = 0; i < 6; i++) expect((await c.update(mid)).action).toMatch(/hold|settling/);
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) seen.push((await c.update(bright)).action);
    expect(seen.filter((a) => a === 'down').length).toBeGreaterThanOrEqual(2);
    expect(seen).toContain('off');
    expect(pwm.output).toBe(0);
    expect(c.duty).toBe(0);
  });

  it('stays off in good light', async () => {
    const { pwm, light } = await openLight();
    const c = new FillLightController({ light });
    for (let i = 0; i < 30; i++) expect((await c.update(bright)).action).toBe('hold');
    expect(pwm.history.filter((h) => h.duty > 0)).toEqual([]);
  });

  it('uses mean Y when the frame has no exposure metadata, and backs off on glare', async () => {
    const { light } = await openLight();
    const c = new FillLightController({ light, settleFrames: 0, framesPerStep: 0 });
    expect((await c.update({ luma: { meanY: 30, clipped: 0 } })).action).toBe('on');
    expect((await c.update({ luma: { meanY: 40, clipped: 0 } })).action).toBe('up');
    expect((await c.update({ luma: { meanY: 100, clipped: 0.1 } })).action).toBe('down');
    expect((await c.update({ luma: { meanY: 200, clipped: 0 } })).action).toBe('down');
    expect((await c.update({ luma: { meanY: 200, clipped: 0 } })).action).toBe('off');
    expect(c.duty).toBe(0);
  });

  it('an LED pin that fails -> typed fault, controller keeps running and retries', async () => {
    const { pwm, light } = await openLight();
    const c = new FillLightController({ light, settleFrames: 0, framesPerStep: 0, retryAfterFrames: 3 });
    const faults: unknown[] = [];
    c.on('fault', (e) => faults.push(e));
    pwm.faults.configure = () => {
      throw new TransportError('EIO', { code: 'PWM' });
    };
    const d = await c.update(dark);
    expect(d.action).toBe('fault');
    expect(faults[0]).toBeInstanceOf(FillLightError);
    expect(c.faults[0]?.code).toBe('LED_PWM');
    expect((await c.update(dark)).action).toBe('fault');
    pwm.faults.configure = () => PASS;
    for (let i = 0; i < 3; i++) await c.update(dark);
    expect(c.faulted).toBe(false);
    expect(pwm.output).toBeGreaterThan(0);
  });
});

describe('FillLightController scan-aware boost', () => {
  it('steps up inside the hysteresis band while decoding keeps failing at a long shutter, not when it succeeds', async () => {
    const { light } = await openLight();
    const c = new FillLightController({ light, settleFrames: 0, framesPerStep: 0, boostAfterMisses: 3 });
    const band = { exposureUs: 16_000, gain: 2, luma: { meanY: 120, clipped: 0 } };
    expect((await c.update({ ...band, decoded: true })).action).toBe('hold');
    expect((await c.update(dark)).action).toBe('on');
    const acts: string[] = [];
    for (let i = 0; i < 4; i++) acts.push((await c.update({ ...band, decoded: false })).action);
    expect(acts).toEqual(['hold', 'hold', 'up', 'up']);
    expect((await c.update({ ...band, decoded: true })).action).toBe('hold');
  });
});
