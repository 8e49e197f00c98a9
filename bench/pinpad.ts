/**
 * PIN pad and password module benchmarks:
 * - report handling: 20,000 input reports (10,000 key presses) through `PinPad.keys()`
 *   (parse + edge detection + key map + zeroing) against bare `SimHidDevice.read()` of
 *   the same reports - the driver's cost per report over the transport's;
 * - PIN check: `ScryptPinVerifier.verify` with the default parameters against a bare
 *   `crypto.scrypt` call with the same parameters (the wrapper's overhead: record
 *   validation, constant-time compare, wiping), plus the absolute time that the cardholder
 *   waits after Enter (target <= 250 ms here, i.e. about 1 s on a Pi 4);
 * - a whole `requestPin` on the simulated keypad (type 6 digits + Enter, default scrypt),
 *   against the verify alone.
 */
import { scrypt } from 'node:crypto';
import { systemClock } from '../device-drivers/src/core/clock';
import { createSimPinPad, encodeBootReport, usageForKey } from '../device-drivers/src/pinpad';
import { SimHidDevice } from '../device-drivers/src/transport/sim/hid';
import { MemoryLockStore, PasswordModule, SCRYPT_PIN_PARAMS, ScryptPinVerifier } from '../firmware-ts/src/modules/password';
import type { BenchResult, BenchSuite } from './types';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const PRESSES = 10_000;
const digit = (i: number) => String(i % 10) as '0';

async function reports(): Promise<BenchResult> {
  // baseline: the transport alone
  const bare = new SimHidDevice();
  await bare.open();
  let t0 = performance.now();
  for (let i = 0; i < PRESSES; i++) {
    bare.sendReport(encodeBootReport({ keys: [usageForKey(digit(i))] }));
    bare.sendReport(encodeBootReport({ keys: [] }));
  }
  for (let i = 0; i < 2 * PRESSES; i++) await bare.read();
  const bareMs = performance.now() - t0;
  await bare.close();

  const { pinpad, keypad } = createSimPinPad({ clock: systemClock });
  await pinpad.open();
  const it = pinpad.keys();
  t0 = performance.now();
  for (let i = 0; i < PRESSES; i++) {
    keypad.keyDown(digit(i));
    keypad.keyUp(digit(i));
  }
  let n = 0;
  for await (const _ of it) if (++n === PRESSES) break;
  const padMs = performance.now() - t0;
  await pinpad.close();
  const perReportUs = (padMs * 1000) / (2 * PRESSES);
  return {
    area: 'pinpad',
    name: `${2 * PRESSES} reports through PinPad.keys() (sim keypad)`,
    value: perReportUs,
    unit: 'us/report',
    baseline: { name: 'bare SimHidDevice.read', value: (bareMs * 1000) / (2 * PRESSES) },
    ratio: padMs / bareMs,
    target: '<= 100 us/report (a fast typist sends ~20 reports/s)',
    pass: perReportUs <= 100,
    extra: { keyDowns: n },
  };
}

async function verify(): Promise<BenchResult[]> {
  const v = new ScryptPinVerifier();
  const pin = new TextEncoder().encode('582914');
  const rec = await v.hash(pin);
  const salt = Buffer.from(rec.salt, 'base64');
  const p = SCRYPT_PIN_PARAMS;
  const bareOnce = () =>
    new Promise<void>((resolve, reject) =>
      scrypt(pin, salt, p.keyLen, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + (1 << 20) }, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  const ours: number[] = [];
  const bare: number[] = [];
  await bareOnce();
  await v.verify(pin, rec);
  for (let i = 0; i < 9; i++) {
    let t = performance.now();
    await bareOnce();
    bare.push(performance.now() - t);
    t = performance.now();
    if (!(await v.verify(pin, rec))) throw new Error('verify failed');
    ours.push(performance.now() - t);
  }
  const verifyMs = median(ours);

  const { pinpad, keypad } = createSimPinPad({ clock: systemClock });
  const shown: string[] = [];
  const module = new PasswordModule({ pinpad, lockStore: new MemoryLockStore(), show: (s) => shown.push(s.kind) });
  await module.setPin('582914');
  await pinpad.open();
  const whole: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = shown.length;
    const t = performance.now();
    const r = module.requestPin({ reason: 'step_up' });
    while (shown.length === before) await new Promise((res) => setImmediate(res));
    await keypad.type('582914');
    await keypad.enter();
    if (!(await r).ok) throw new Error('requestPin failed');
    whole.push(performance.now() - t);
  }
  await pinpad.close();
  return [
    {
      area: 'pinpad',
      name: `PIN verify, scrypt N=2^${Math.log2(p.N)} r=${p.r} p=${p.p} (median of 9)`,
      value: verifyMs,
      unit: 'ms',
      baseline: { name: 'bare crypto.scrypt, same parameters', value: median(bare) },
      ratio: verifyMs / median(bare),
      target: '<= 1.1x bare scrypt and <= 250 ms on this machine',
      pass: verifyMs / median(bare) <= 1.1 && verifyMs <= 250,
    },
    {
      area: 'pinpad',
      name: 'requestPin: 6 digits + Enter on the sim keypad, verify, store (median of 5)',
      value: median(whole),
      unit: 'ms',
      baseline: { name: 'verify alone', value: verifyMs },
      ratio: median(whole) / verifyMs,
      target: '<= 1.2x verify (entry handling is noise beside the slow hash)',
      pass: median(whole) / verifyMs <= 1.2,
    },
  ];
}

export const suite: BenchSuite = {
  area: 'pinpad',
  run: async () => [await reports(), ...(await verify())],
};
