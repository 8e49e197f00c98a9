import { Camera, SceneRenderer, SimCamera } from '@handset/device-drivers/camera';
import { ManualClock, TransportError } from '@handset/device-drivers/core';
import { createVirtualIoPlugin, FillLight, FillLightController } from '@handset/device-drivers/fill-light';
import { once, SimPwm } from '@handset/device-drivers/transport';
import { buildMpm, dammCheckDigit } from '@handset/host-sdk/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { classifyPayload, crc16, protocolParsers, QrDecoder, QrScanner, ScanError } from '../../src/modules/qr-scan/index';

const EMV = buildMpm({
  merchantName: 'CAFE',
  merchantCity: 'PARIS',
  mcc: '5812',
  currency: 'EUR',
  country: 'DE',
  amount: '3.40',
  merchantId: 'm-cafe',
  reference: 'R1',
});
const PAYCODE = `9000000000112345678${dammCheckDigit('9000000000112345678')}`;
let decoder: QrDecoder;
beforeAll(async () => {
  decoder = await QrDecoder.create({ budgetMs: 200 });
});

describe('classifyPayload', () => {
  it('EMV light check: prefix 000201 and a matching CRC-16/CCITT-FALSE in 6304', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).toBe(0x29b1); // the CRC's check value
    expect(classifyPayload(EMV)).toMatchObject({ kind: 'emv' });
    const bad = `${EMV.slice(0, -4)}${EMV.endsWith('0000') ? '0001' : '0000'}`;
    expect(classifyPayload(bad)).toMatchObject({ kind: 'unsupported', reason: 'emv-crc' });
    expect(classifyPayload('000201010211')).toMatchObject({ kind: 'unsupported', reason: 'emv-crc' });
  });

  it('with the protocol parsers: full MPM validation and pay-code structure', () => {
    expect(classifyPayload(EMV, undefined, protocolParsers)).toMatchObject({ kind: 'emv' });
    const noAccount = '0002010102115802FR5904CAFE6005PARIS6304';
    const withCrc = noAccount + crc16(new TextEncoder().encode(noAccount)).toString(16).toUpperCase().padStart(4, '0');
    expect(classifyPayload(withCrc)).toMatchObject({ kind: 'emv' });
    expect(classifyPayload(withCrc, undefined, protocolParsers)).toMatchObject({ kind: 'unsupported', reason: 'emv-invalid' });
    expect(classifyPayload(PAYCODE, undefined, protocolParsers)).toEqual({ kind: 'paycode', text: PAYCODE });
    expect(classifyPayload('12345', undefined, protocolParsers)).toMatchObject({
      kind: 'unsupported',
      reason: 'paycode-invalid',
    });
  });

  it('binary garbage and other text are unsupported, never a throw', () => {
    expect(classifyPayload('a\u0000b')).toMatchObject({ kind: 'unsupported', reason: 'binary' });
    expect(classifyPayload('x', Uint8Array.from([0xff, 0xfe]))).toMatchObject({ kind: 'unsupported', reason: 'binary' });
    expect(classifyPayload('https://example.com')).toMatchObject({ kind: 'unsupported', reason: 'unknown-format' });
    expect(classifyPayload('9'.repeat(5000))).toMatchObject({ kind: 'unsupported', reason: 'too-long' });
  });
});

describe('QrDecoder', () => {
  const render = (spec: ConstructorParameters<typeof SceneRenderer>[2], lux = 300) =>
    new SceneRenderer(640, 480, spec).render(
      { ambientLux: lux },
      { exposureUs: 10_000 * (0.17 / (0.4 * 0.5 * lux * 0.01)), gain: 1 },
    ).frame;

  it('decodes, then finds the code again in the tracked region of interest', () => {
    const d = decoder;
    d.reset();
    const f = render({ code: { kind: 'qr', payload: EMV }, pose: { scale: 4, rotationDeg: 30 }, clutter: 30, seed: 1 });
    const a = d.decode({ width: 640, height: 480, data: f });
    expect(a.hit?.text).toBe(EMV);
    expect(a.hit?.stage).toBe('full');
    const b = d.decode({ width: 640, height: 480, data: f });
    expect(b.hit?.stage).toBe('roi');
  });

  it('sharpening recovers a defocused code that plain zxing misses', async () => {
    const d = await QrDecoder.create({ track: false, budgetMs: 500 });
    const plain = await QrDecoder.create({ track: false, stages: ['full'] });
    let recovered = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const f = render({ code: { kind: 'qr', payload: EMV }, pose: { scale: 4.5 }, blurSigma: 2.4, seed });
      const img = { width: 640, height: 480, data: f };
      const p = plain.decode(img).hit;
      const o = d.decode(img).hit;
      if (o) expect(o.text).toBe(EMV);
      if (!p && o) recovered++;
    }
    expect(recovered).toBeGreaterThan(0);
  });

  it('no code -> no hit; the cascade stays within its budget on noise', async () => {
    const d = await QrDecoder.create({ track: false, budgetMs: 40 });
    const noise = new Uint8Array(640 * 480);
    let s = 1;
    for (let i = 0; i < noise.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      noise[i] = s >>> 24;
    }
    for (let i = 0; i < 3; i++) {
      const out = d.decode({ width: 640, height: 480, data: noise });
      expect(out.hit).toBeUndefined();
      expect(out.stages).toContain('full');
    }
  });

  it('an inconsistent frame -> ScanError FRAME_INVALID', () => {
    expect(() => decoder.decode({ width: 640, height: 480, data: new Uint8Array(100) })).toThrow(ScanError);
  });
});

describe('QrScanner', () => {
  function rig(lux: number, payload = PAYCODE) {
    const clock = new ManualClock();
    const sim = new SimCamera({ clock, ambientLux: lux, scene: { code: { kind: 'qr', payload }, pose: { scale: 4 }, seed: 4 } });
    const camera = new Camera({ source: sim.source });
    return { clock, sim, camera };
  }

  it('results(): an async iterator the chain can consume; the same code is not repeated at once', async () => {
    const { clock, camera } = rig(300);
    const scanner = new QrScanner({ camera, decoder, clock, repeatAfterMs: 10_000 });
    const ac = new AbortController();
    const seen: string[] = [];
    let frames = 0;
    scanner.on('frame', () => {
      if (++frames >= 8) ac.abort();
    });
    for await (const r of scanner.results(ac.signal)) seen.push(r.payload.kind);
    expect(seen).toEqual(['paycode']);
    expect(scanner.stats.frames).toBeGreaterThanOrEqual(7);
    expect(camera.isRunning).toBe(false);
  });

  it('skips malformed frames and still decodes', async () => {
    const { clock, sim, camera } = rig(300);
    sim.source.faults.next = once((f) => ({ ...f, data: f.data.subarray(0, 5) }));
    const scanner = new QrScanner({ camera, decoder, clock });
    const r = await scanner.scanOnce({ maxFrames: 10 });
    expect(r.text).toBe(PAYCODE);
    expect(scanner.stats.rejected).toBe(1);
  });

  it('capture dies mid-scan -> rejects with the TransportError, light off', async () => {
    const { clock, sim, camera } = rig(300);
    sim.setCode(undefined);
    const pwm = new SimPwm({ clock });
    const light = await FillLight.open({ io: createVirtualIoPlugin({ pwm: { 12: pwm } }), pin: 12 });
    const scanner = new QrScanner({ camera, decoder, clock, light: new FillLightController({ light }) });
    scanner.on('frame', (f) => {
      if (f.seq === 3) sim.source.die(1, 'ffmpeg: device gone');
    });
    await expect(scanner.scanOnce({ maxFrames: 50 })).rejects.toSatisfy(
      (e) => e instanceof TransportError && e.code === 'CAPTURE_DIED',
    );
    expect(pwm.output).toBe(0);
    await light.close();
  });

  it('an LED pin that fails: the scan goes on and decodes', async () => {
    const clock = new ManualClock();
    const pwm = new SimPwm({ clock });
    const sim = new SimCamera({
      clock,
      ambientLux: 2,
      light: { pwm, fullLux: 250 },
      initialExposure: { exposureUs: 66_666, gain: 8 }, // already in the dark: the controller wants light at once
      scene: { code: { kind: 'qr', payload: EMV }, pose: { scale: 4 }, seed: 4 },
    });
    const camera = new Camera({ source: sim.source });
    const light = await FillLight.open({ io: createVirtualIoPlugin({ pwm: { 12: pwm } }), pin: 12 });
    pwm.faults.configure = () => {
      throw new TransportError('EIO', { code: 'PWM' });
    };
    const controller = new FillLightController({ light });
    const scanner = new QrScanner({ camera, decoder, clock, light: controller });
    sim.updateScene({ shakePxPerS: 5 }); // without light: long shutter, high gain, but a steady hand
    const r = await scanner.scanOnce({ maxFrames: 40 });
    expect(r.payload.kind).toBe('emv');
    expect(controller.faults.length).toBeGreaterThan(0);
    expect(controller.faults[0]?.code).toBe('LED_PWM');
    pwm.faults.configure = undefined;
    await light.close();
  });

  it('scanOnce with nothing in view -> SCAN_TIMEOUT on the virtual clock', async () => {
    const { clock, sim, camera } = rig(300);
    sim.setCode(undefined);
    const scanner = new QrScanner({ camera, decoder, clock });
    await expect(scanner.scanOnce({ timeoutMs: 500 })).rejects.toMatchObject({ code: 'SCAN_TIMEOUT' });
  });
});
