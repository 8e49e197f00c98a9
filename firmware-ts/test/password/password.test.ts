import { timingSafeEqual } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileLockStore, MemoryLockStore, PasswordModule, type PinResult, ScryptPinVerifier } from '../../src/modules/password';
import { renderScreen } from '../../src/ui/screens';
import { FAST, flush, type Rig, rig } from './helpers';

const PIN = '582914';
const amount = { minor: 12_50n, currency: 'EUR' };

let dir: string;
let open: Rig[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'handset-password-'));
});
afterEach(async () => {
  for (const r of open) await r.close();
  open = [];
  await rm(dir, { recursive: true, force: true });
});
async function make(...args: Parameters<typeof rig>) {
  const r = await rig(...args);
  open.push(r);
  return r;
}

describe('PasswordModule.requestPin', () => {
  it('right PIN -> ok fingerprint+pin; masked screens count digits; failures back to 0', async () => {
    const r = await make();
    const result = r.module.requestPin({ reason: 'step_up', amount });
    await r.enterAt(1, PIN);
    expect(await result).toEqual({ ok: true, method: 'fingerprint+pin', attempts: 1 });
    const pins = r.screens.filter((s) => s.kind === 'pin');
    expect(pins[0]).toEqual({ kind: 'pin', entered: 0, maxDigits: 6, amount });
    expect(pins.map((s) => (s.kind === 'pin' ? s.entered : -1))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await r.module.status()).toMatchObject({ pinSet: true, locked: false, failures: 0, attemptsLeft: 3 });
    expect(r.verifier.seenDuring).toEqual([PIN]);
    // every screen the module asked for renders with the ui engineer's renderer
    for (const s of r.screens) expect(renderScreen(s).width).toBe(250);
  });

  it('wrong then right (retry): the second prompt shows attempts left; success resets the count', async () => {
    const r = await make();
    const result = r.module.requestPin({ reason: 'fingerprint_failed' });
    await r.enterAt(1, '111111');
    await r.enterAt(2, PIN);
    expect(await result).toEqual({ ok: true, method: 'fingerprint+pin', attempts: 2 });
    const prompts = r.screens.filter((s) => s.kind === 'pin' && s.entered === 0);
    expect(prompts[1]).toMatchObject({ attemptsLeft: 2 });
    expect((await r.module.status()).failures).toBe(0);
    expect(r.logs.map((l) => l.event)).toEqual([
      'password.pin_set',
      'password.requested',
      'password.rejected',
      'password.accepted',
    ]);
  });

  it('3 wrong PINs -> locked (locked screen), and locked stays locked: the pad is not even read', async () => {
    const r = await make();
    const result = r.module.requestPin({ reason: 'step_up' });
    await r.enterAt(1, '000000');
    await r.enterAt(2, '1234');
    await r.enterAt(3, '99999');
    expect(await result).toEqual({ ok: false, reason: 'locked', attempts: 3, attemptsLeft: 0 });
    expect(r.screens.at(-1)).toEqual({ kind: 'locked' });
    expect(await r.module.status()).toMatchObject({ locked: true, failures: 3, attemptsLeft: 0, lockedAtMs: r.clock.now() });
    const again = r.module.requestPin({ reason: 'step_up' });
    await r.keypad.type(PIN);
    await r.keypad.enter();
    expect(await again).toEqual({ ok: false, reason: 'locked', attempts: 0, attemptsLeft: 0 });
    expect(r.verifier.seen).toHaveLength(3);
  });

  it('retry: false -> wrong_pin per call; the count carries across calls; a right PIN resets it', async () => {
    const r = await make();
    const one = async (pin: string): Promise<PinResult> => {
      const p = r.module.requestPin({ reason: 'step_up', retry: false });
      await r.enterAt(r.screens.filter((s) => s.kind === 'pin' && s.entered === 0).length + 1, pin);
      return p;
    };
    expect(await one('1111')).toEqual({ ok: false, reason: 'wrong_pin', attempts: 1, attemptsLeft: 2 });
    expect(await one('2222')).toEqual({ ok: false, reason: 'wrong_pin', attempts: 1, attemptsLeft: 1 });
    expect(await one(PIN)).toMatchObject({ ok: true });
    expect(await one('3333')).toMatchObject({ reason: 'wrong_pin', attemptsLeft: 2 });
    expect(await one('4444')).toMatchObject({ reason: 'wrong_pin', attemptsLeft: 1 });
    expect(await one('5555')).toMatchObject({ reason: 'locked', attemptsLeft: 0 });
  });

  it('lock survives a restart with the file store (0600, atomic), host unlock clears it', async () => {
    const path = join(dir, 'state', 'password.json');
    const first = await make({ store: new FileLockStore(path) });
    const result = first.module.requestPin({ reason: 'step_up' });
    for (let i = 1; i <= 3; i++) await first.enterAt(i, '7777');
    expect(await result).toMatchObject({ reason: 'locked' });
    await first.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    // a new process: new module, new pad, same file; no setPin (the record is in the file)
    const second = await make({ store: new FileLockStore(path), pin: null });
    expect(await second.module.status()).toMatchObject({ pinSet: true, locked: true, attemptsLeft: 0 });
    expect(await second.module.requestPin({ reason: 'step_up' })).toMatchObject({ ok: false, reason: 'locked' });
    await second.module.unlock();
    expect(await new FileLockStore(path).load()).toMatchObject({ locked: false, failures: 0, lockedAtMs: null });
    const ok = second.module.requestPin({ reason: 'step_up' });
    await second.enterAt(1, PIN);
    expect(await ok).toMatchObject({ ok: true });
    const text = await readFile(path, 'utf8');
    expect(JSON.parse(text)).toMatchObject({
      v: 1,
      failures: 0,
      locked: false,
      pin: { alg: 'scrypt', N: 1024, peppered: false },
    });
  });

  it('each attempt is counted durably BEFORE the PIN is checked (power cut mid-check gives no free try)', async () => {
    const store = new MemoryLockStore();
    const r = await make({ store });
    const during: number[] = [];
    r.verifier.onVerify = async () => {
      during.push((await store.load()).failures);
    };
    const result = r.module.requestPin({ reason: 'step_up' });
    await r.enterAt(1, '1212');
    await r.enterAt(2, PIN);
    await result;
    expect(during).toEqual([1, 2]);
    expect(store.snapshot.failures).toBe(0);
  });

  it('Cancel on the pad and the caller signal -> aborted (by user / caller); nothing counted', async () => {
    const r = await make();
    const a = r.module.requestPin({ reason: 'step_up' });
    await r.prompt(1);
    await r.keypad.type('58');
    await r.keypad.cancel();
    expect(await a).toEqual({ ok: false, reason: 'aborted', abortedBy: 'user', attempts: 0, attemptsLeft: 3 });
    const ac = new AbortController();
    const b = r.module.requestPin({ reason: 'step_up', signal: ac.signal });
    await r.prompt(2);
    ac.abort();
    expect(await b).toMatchObject({ ok: false, reason: 'aborted', abortedBy: 'caller' });
    expect((await r.module.status()).failures).toBe(0);
  });

  it('timeout on the injected clock -> timeout; nothing counted', async () => {
    const r = await make({ timeoutMs: 20_000, idleTimeoutMs: 8_000 });
    const p = r.module.requestPin({ reason: 'sensor_unavailable' });
    await r.prompt(1);
    await r.keypad.type('58');
    await flush();
    r.clock.advance(8_000);
    expect(await p).toEqual({ ok: false, reason: 'timeout', attempts: 0, attemptsLeft: 3 });
    expect((await r.module.status()).failures).toBe(0);
  });

  it('pad unplugged mid-entry -> unavailable DISCONNECTED; after replug the next request reopens the pad', async () => {
    const r = await make();
    const p = r.module.requestPin({ reason: 'step_up' });
    await r.prompt(1);
    await r.keypad.type('582');
    await flush();
    r.keypad.unplug();
    expect(await p).toEqual({ ok: false, reason: 'unavailable', code: 'DISCONNECTED', attempts: 0, attemptsLeft: 3 });
    expect(await r.module.requestPin({ reason: 'step_up' })).toMatchObject({ reason: 'unavailable', code: 'PORT_NOT_FOUND' });
    r.keypad.replug();
    const q = r.module.requestPin({ reason: 'step_up' });
    await r.enterAt(2, PIN);
    expect(await q).toMatchObject({ ok: true });
  });

  it('no PIN provisioned -> not_set; corrupt state file -> unavailable PASSWORD_STORE (fail closed)', async () => {
    const r = await make({ pin: null });
    expect(await r.module.requestPin({ reason: 'step_up' })).toEqual({
      ok: false,
      reason: 'not_set',
      attempts: 0,
      attemptsLeft: 3,
    });
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"v":1,"failures":"x"');
    const bad = await make({ store: new FileLockStore(path), pin: null });
    expect(await bad.module.requestPin({ reason: 'step_up' })).toMatchObject({ reason: 'unavailable', code: 'PASSWORD_STORE' });
    await writeFile(path, JSON.stringify({ v: 1, failures: 0, locked: false, lockedAtMs: null, pin: { alg: 'md5' } }));
    await expect(new FileLockStore(path).load()).rejects.toMatchObject({ code: 'PASSWORD_STORE' });
  });

  it('a record the verifier cannot use (made with a device pepper that is gone) -> unavailable PIN_RECORD, not counted', async () => {
    const peppered = new ScryptPinVerifier({ params: FAST, pepper: new Uint8Array(32).fill(9) });
    const pin = await peppered.hash(new TextEncoder().encode(PIN));
    const store = new MemoryLockStore({ pin, failures: 1, locked: false, lockedAtMs: null });
    const r = await make({ store, pin: null });
    const p = r.module.requestPin({ reason: 'step_up' });
    await r.enterAt(1, PIN);
    expect(await p).toMatchObject({ ok: false, reason: 'unavailable', code: 'PIN_RECORD' });
    expect(store.snapshot.failures).toBe(1);
  });

  it('the PIN buffer handed to the verifier is zeroed after use, on every path', async () => {
    const r = await make();
    const p = r.module.requestPin({ reason: 'step_up' });
    await r.enterAt(1, '999000');
    await r.enterAt(2, PIN);
    await p;
    expect(r.verifier.seenDuring).toEqual(['999000', PIN]);
    for (const b of r.verifier.seen) {
      expect(b.length).toBe(6);
      expect(new Uint8Array(b.buffer).every((x) => x === 0)).toBe(true);
    }
  });

  it('setPin refuses non-digits and wrong lengths without echoing them; requests do not overlap', async () => {
    const r = await make();
    for (const bad of ['abcd', '123', '1234567', '12 34', '١٢٣٤'])
      await expect(r.module.setPin(bad)).rejects.toMatchObject({ code: 'PIN_FORMAT', message: 'a PIN is 4 to 6 digits' });
    await expect(r.module.setPin(Uint8Array.of(0x31, 0x32, 0x33, 0x3a))).rejects.toMatchObject({ code: 'PIN_FORMAT' });
    const p = r.module.requestPin({ reason: 'step_up' });
    await expect(r.module.requestPin({ reason: 'step_up' })).rejects.toMatchObject({ code: 'PASSWORD_BUSY' });
    await r.enterAt(1, PIN);
    expect(await p).toMatchObject({ ok: true });
    expect(() => new PasswordModule({ pinpad: r.pinpad, lockStore: r.store, minLength: 3 })).toThrow(/4..12/);
  });

  it('a failing display is logged, not fatal', async () => {
    const r = await make({
      show: () => {
        throw new Error('panel BUSY stuck');
      },
    });
    const p = r.module.requestPin({ reason: 'step_up' });
    for (let i = 0; i < 50; i++) await flush(1);
    await r.keypad.type(PIN);
    await r.keypad.enter();
    expect(await p).toMatchObject({ ok: true });
    expect(r.logs.filter((l) => l.event === 'password.show_failed').length).toBeGreaterThan(0);
  });
});

describe('ScryptPinVerifier', () => {
  const enc = (s: string) => new TextEncoder().encode(s);

  it('uses a constant-time compare (crypto.timingSafeEqual) on equal-length keys', async () => {
    const calls: Array<[number, number]> = [];
    const v = new ScryptPinVerifier({
      params: FAST,
      compare: (a, b) => {
        calls.push([a.length, b.length]);
        return timingSafeEqual(a, b);
      },
    });
    const rec = await v.hash(enc('4711'));
    expect(await v.verify(enc('4711'), rec)).toBe(true);
    expect(await v.verify(enc('4712'), rec)).toBe(false);
    expect(await v.verify(enc('47110'), rec)).toBe(false);
    expect(calls).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
  });

  it('salted: the same PIN hashes differently each time; records carry their parameters', async () => {
    const v = new ScryptPinVerifier({ params: FAST });
    const a = await v.hash(enc('4711'));
    const b = await v.hash(enc('4711'));
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(a).toMatchObject({ alg: 'scrypt', N: 1024, r: 8, p: 1, keyLen: 32, peppered: false });
    expect(await new ScryptPinVerifier().verify(enc('4711'), a)).toBe(true);
  });

  it('pepper: a peppered record needs the same pepper', async () => {
    const pepper = new Uint8Array(32).fill(7);
    const v = new ScryptPinVerifier({ params: FAST, pepper });
    const rec = await v.hash(enc('4711'));
    expect(rec.peppered).toBe(true);
    expect(await v.verify(enc('4711'), rec)).toBe(true);
    expect(await new ScryptPinVerifier({ params: FAST, pepper: new Uint8Array(32) }).verify(enc('4711'), rec)).toBe(false);
    await expect(new ScryptPinVerifier({ params: FAST }).verify(enc('4711'), rec)).rejects.toMatchObject({ code: 'PIN_RECORD' });
  });

  it('refuses out-of-bounds records (no scrypt bomb from a tampered file)', async () => {
    const v = new ScryptPinVerifier({ params: FAST });
    const rec = await v.hash(enc('4711'));
    for (const bad of [
      { N: 1 << 24 },
      { N: 1000 },
      { r: 0 },
      { p: 99 },
      { keyLen: 8 },
      { hash: 'AAAA' },
      { salt: 'AA==' },
      { alg: 'md5' },
    ])
      await expect(v.verify(enc('4711'), { ...rec, ...bad } as typeof rec)).rejects.toMatchObject({ code: 'PIN_RECORD' });
  });

  it('default parameters (N=2^14, r=8, p=1): hash + verify, timed', async () => {
    const v = new ScryptPinVerifier();
    const rec = await v.hash(enc('4711'));
    expect(rec).toMatchObject({ N: 16384, r: 8, p: 1, keyLen: 32 });
    const t0 = performance.now();
    expect(await v.verify(enc('4711'), rec)).toBe(true);
    const ms = performance.now() - t0;
    console.log(`scrypt verify with default parameters: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(5000);
  });
});
