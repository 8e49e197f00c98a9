/**
 * HIL on simulators: the simulated camera (scene renderer + AE) lit by the simulated LED
 * (johnny-five Led over the virtual IO plugin over SimPwm), the real Camera driver, the
 * fill-light controller and the scan pipeline, on a virtual clock.
 */
import { Camera, type SceneSpec, SimCamera, SURFACES } from '@handset/device-drivers/camera';
import { ManualClock } from '@handset/device-drivers/core';
import { createVirtualIoPlugin, FillLight, FillLightController } from '@handset/device-drivers/fill-light';
import { SimPwm } from '@handset/device-drivers/transport';
import { QrDecoder, QrScanner } from '@handset/firmware/modules/qr-scan';
import { buildMpm, dammCheckDigit } from '@handset/host-sdk/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const EMV = buildMpm({
  merchantName: 'TEST SHOP',
  merchantCity: 'BERLIN',
  mcc: '5812',
  currency: 'EUR',
  country: 'DE',
  amount: '4.20',
  merchantId: 'm-shop-7',
  reference: 'ORD7',
});
const PAYCODE = `9123456789012345678${dammCheckDigit('9123456789012345678')}`;
let decoder: QrDecoder;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  decoder = await QrDecoder.create({ budgetMs: 200 });
});
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function rig(opts: { lux: number; scene?: SceneSpec }) {
  const clock = new ManualClock();
  const pwm = new SimPwm({ name: 'sim:pwm-led', clock });
  const io = createVirtualIoPlugin({ pwm: { 12: pwm } });
  const light = await FillLight.open({ io, pin: 'GPIO12' });
  cleanup.push(() => light.close());
  const sim = new SimCamera({ clock, ambientLux: opts.lux, light: { pwm, fullLux: 250 }, scene: opts.scene });
  const camera = new Camera({ source: sim.source });
  const controller = new FillLightController({ light });
  const scanner = new QrScanner({ camera, decoder, light: controller, clock });
  return { clock, pwm, sim, camera, controller, scanner, light };
}

const payloadWithCrc = async () => EMV;

describe('scan on the simulated camera + LED', () => {
  it('dark scene: gain goes up, the LED ramps up, the code decodes within a bounded number of frames', async () => {
    const payload = await payloadWithCrc();
    const r = await rig({
      lux: 2,
      scene: { code: { kind: 'qr', payload }, pose: { scale: 4, rotationDeg: 12 }, shakePxPerS: 120, clutter: 30, seed: 7 },
    });
    const gains: number[] = [];
    r.scanner.on('frame', (f) => gains.push(f.gain ?? 0));
    const res = await r.scanner.scanOnce({ maxFrames: 40 });
    expect(res.payload.kind).toBe('emv');
    expect(res.text).toBe(payload);
    expect(res.framesSeen).toBeLessThanOrEqual(40);
    // the LED came on and was stepped up before the hit, then turned off when the scan completed
    const duties = r.pwm.history.map((h) => h.duty);
    expect(Math.max(...duties)).toBeGreaterThan(0);
    expect(r.pwm.output).toBe(0);
    // without light the camera ran at high gain (noise); with the light the gain fell
    expect(Math.max(...gains)).toBeGreaterThanOrEqual(4);
    expect(gains[gains.length - 1]).toBeLessThan(4);
  });

  it('the same dark scene without a fill-light does not decode (the LED is what makes it work)', async () => {
    const payload = await payloadWithCrc();
    const r = await rig({
      lux: 2,
      scene: { code: { kind: 'qr', payload }, pose: { scale: 4, rotationDeg: 12 }, shakePxPerS: 120, clutter: 30, seed: 7 },
    });
    r.sim.attachLight(new SimPwm(), 0);
    await expect(r.scanner.scanOnce({ maxFrames: 25 })).rejects.toMatchObject({ code: 'SCAN_TIMEOUT' });
  });

  it('bright scene: the LED stays off and the code decodes at once', async () => {
    const r = await rig({
      lux: 500,
      scene: { code: { kind: 'qr', payload: PAYCODE }, pose: { scale: 4 }, seed: 3 },
    });
    const res = await r.scanner.scanOnce({ maxFrames: 10 });
    expect(res.payload.kind).toBe('paycode');
    expect(res.framesSeen).toBeLessThanOrEqual(5);
    expect(r.pwm.history.filter((h) => h.duty > 0)).toEqual([]);
  });

  it('glare on a glossy screen: decodes', async () => {
    const r = await rig({
      lux: 200,
      scene: {
        code: { kind: 'qr', payload: 'https://pay.example/m/123456?ref=42' },
        pose: { scale: 4, rotationDeg: -20, cx: 300, cy: 230 },
        surface: SURFACES.screen,
        glare: { x: 330, y: 250, radius: 30, strength: 1.5 },
        seed: 5,
      },
    });
    const res = await r.scanner.scanOnce({ maxFrames: 20 });
    expect(res.text).toBe('https://pay.example/m/123456?ref=42');
    expect(res.payload).toMatchObject({ kind: 'unsupported', reason: 'unknown-format' });
    expect(r.sim.lastRender?.clipped).toBeGreaterThan(0);
  });

  it('e-ink-like low-contrast code: decodes', async () => {
    const r = await rig({
      lux: 150,
      scene: {
        code: { kind: 'qr', payload: PAYCODE, ecc: 'M' },
        pose: { scale: 3, tiltXDeg: 20 },
        surface: SURFACES.eink,
        blurSigma: 0.8,
        seed: 9,
      },
    });
    const res = await r.scanner.scanOnce({ maxFrames: 20 });
    expect(res.text).toBe(PAYCODE);
  });
});
