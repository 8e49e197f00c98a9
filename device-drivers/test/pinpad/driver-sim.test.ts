import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CanceledError, DeviceTimeoutError, ManualClock, TransportError } from '../../src/core';
import {
  createSimPinPad,
  type PinBuffer,
  PinEntryAbortedError,
  PinEntryTimeoutError,
  PinPadBusyError,
  type PinProgress,
  type SimPinPadOptions,
} from '../../src/pinpad';
import { once, PASS } from '../../src/transport/sim/fault';

const ascii = (b: PinBuffer) => new TextDecoder().decode(b.bytes());
const flush = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(options: SimPinPadOptions = {}) {
  const clock = new ManualClock({ autoAdvance: false });
  const logs: Array<{ event: string; fields?: Record<string, unknown> }> = [];
  const log = {
    info: (event: string, fields?: Record<string, unknown>) => logs.push({ event, fields }),
    warn: (event: string, fields?: Record<string, unknown>) => logs.push({ event, fields }),
  };
  const sim = createSimPinPad({ clock, log, ...options });
  await sim.pinpad.open();
  cleanup = () => sim.pinpad.close();
  return { ...sim, clock, logs };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('PinPad.readPin against the simulated keypad', () => {
  it('type PIN + Enter -> ASCII digits in the caller buffer, progress without digits', async () => {
    const { pinpad, keypad } = await setup();
    const buffer = new Uint8Array(8).fill(0xee);
    const progress: PinProgress[] = [];
    const p = pinpad.readPin({ buffer, maxLength: 8, onProgress: (e) => progress.push(e) });
    expect(buffer.every((b) => b === 0)).toBe(true);
    await keypad.type('4821');
    await keypad.enter();
    const pin = await p;
    expect(ascii(pin)).toBe('4821');
    expect(pin.bytes().buffer).toBe(buffer.buffer);
    expect(progress).toEqual([1, 2, 3, 4].map((entered) => ({ entered, event: 'digit' })));
    expect(String(pin)).toBe('[PIN redacted]');
    expect(JSON.stringify({ pin })).toBe('{"pin":"[PIN redacted]"}');
    expect(inspect(pin)).not.toContain('4821');
    pin.wipe();
    expect(buffer.every((b) => b === 0)).toBe(true);
    expect(pin.length).toBe(0);
    // a key press is one down report and one up report
    expect(keypad.sent.length).toBe(10);
    expect(Array.from(keypad.sent[0] as Uint8Array)).toEqual([0, 0, 0x5c, 0, 0, 0, 0, 0]);
    expect(Array.from(keypad.sent[1] as Uint8Array)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('backspace removes the last digit (no-op at zero); Del and KP Del correct too', async () => {
    const { pinpad, keypad } = await setup();
    const progress: PinProgress[] = [];
    const p = pinpad.readPin({ onProgress: (e) => progress.push(e) });
    await keypad.backspace();
    await keypad.type('129');
    await keypad.backspace();
    await keypad.type('3');
    await keypad.press(0x63); // KP . / Del
    await keypad.type('45');
    await keypad.enter();
    expect(ascii(await p)).toBe('1245');
    expect(progress.map((e) => `${e.event}:${e.entered}`)).toEqual([
      'backspace:0',
      'digit:1',
      'digit:2',
      'digit:3',
      'backspace:2',
      'digit:3',
      'backspace:2',
      'digit:3',
      'digit:4',
    ]);
  });

  it('Enter below minLength is refused and entry goes on; digits beyond maxLength are ignored', async () => {
    const { pinpad, keypad } = await setup();
    const progress: PinProgress[] = [];
    const p = pinpad.readPin({ minLength: 4, maxLength: 5, onProgress: (e) => progress.push(e) });
    await keypad.type('12');
    await keypad.enter();
    await keypad.type('34567');
    await keypad.enter();
    expect(ascii(await p)).toBe('12345');
    expect(progress.filter((e) => e.event !== 'digit')).toEqual([
      { entered: 2, event: 'too-short' },
      { entered: 5, event: 'full' },
      { entered: 5, event: 'full' },
    ]);
  });

  it('Cancel (Esc) -> PinEntryAbortedError by user, buffer zeroed', async () => {
    const { pinpad, keypad } = await setup();
    const buffer = new Uint8Array(6);
    const p = pinpad.readPin({ buffer });
    await keypad.type('987');
    await flush();
    expect(buffer.subarray(0, 3)).toEqual(Uint8Array.from([0x39, 0x38, 0x37]));
    await keypad.cancel();
    const err = await rejection(p);
    expect(err).toBeInstanceOf(PinEntryAbortedError);
    expect(err).toMatchObject({ code: 'PIN_ABORTED', by: 'user' });
    expect(buffer.every((b) => b === 0)).toBe(true);
  });

  it("the caller's signal -> PinEntryAbortedError by caller; an already aborted signal too", async () => {
    const { pinpad, keypad } = await setup();
    const ac = new AbortController();
    const buffer = new Uint8Array(6);
    const p = pinpad.readPin({ buffer, signal: ac.signal });
    await keypad.type('55');
    await flush();
    ac.abort(new Error('payment withdrawn'));
    expect(await rejection(p)).toMatchObject({ code: 'PIN_ABORTED', by: 'caller' });
    expect(buffer.every((b) => b === 0)).toBe(true);
    expect(await rejection(pinpad.readPin({ signal: ac.signal }))).toBeInstanceOf(PinEntryAbortedError);
    // the pad is free again
    const q = pinpad.readPin();
    await keypad.type('1111');
    await keypad.enter();
    expect(ascii(await q)).toBe('1111');
  });

  it('total timeout on the injected clock -> PinEntryTimeoutError, buffer zeroed', async () => {
    const { pinpad, keypad, clock } = await setup();
    const buffer = new Uint8Array(6);
    const p = pinpad.readPin({ buffer, timeoutMs: 20_000 });
    await keypad.type('12');
    await flush();
    clock.advance(19_999);
    await flush();
    expect(buffer[1]).toBe(0x32);
    clock.advance(1);
    const err = await rejection(p);
    expect(err).toBeInstanceOf(PinEntryTimeoutError);
    expect(err).toMatchObject({ code: 'PIN_TIMEOUT', kind: 'total', timeoutMs: 20_000 });
    expect(buffer.every((b) => b === 0)).toBe(true);
  });

  it('idle timeout restarts with every key', async () => {
    const { pinpad, keypad, clock } = await setup();
    const p = pinpad.readPin({ timeoutMs: 60_000, idleTimeoutMs: 5_000 });
    for (const d of '123') {
      clock.advance(4_000);
      await keypad.press(d as '1');
      await flush();
    }
    clock.advance(4_999);
    await flush();
    clock.advance(1);
    expect(await rejection(p)).toMatchObject({ code: 'PIN_TIMEOUT', kind: 'idle', timeoutMs: 5_000 });
  });

  it('slow typist on a ManualClock with auto-advance: gaps and holds are virtual time', async () => {
    const clock = new ManualClock();
    const sim = createSimPinPad({ clock, holdMs: 80, gapMs: 700 });
    await sim.pinpad.open();
    cleanup = () => sim.pinpad.close();
    const t0 = clock.monotonic();
    const p = sim.pinpad.readPin({ timeoutMs: 10_000 });
    await sim.keypad.type('2468');
    await sim.keypad.enter();
    expect(ascii(await p)).toBe('2468');
    expect(clock.monotonic() - t0).toBe(4 * 80 + 3 * 700 + 80);
  });

  it('unplug mid-entry -> TransportError DISCONNECTED, buffer zeroed; works again after replug + reopen', async () => {
    const { pinpad, keypad, logs } = await setup();
    const buffer = new Uint8Array(6);
    const disconnects: unknown[] = [];
    pinpad.on('disconnect', (e) => disconnects.push(e));
    const p = pinpad.readPin({ buffer });
    await keypad.type('31');
    await flush();
    keypad.unplug();
    const err = await rejection(p);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ code: 'DISCONNECTED' });
    expect(buffer.every((b) => b === 0)).toBe(true);
    expect(disconnects).toEqual([err]);
    expect(pinpad.isOpen).toBe(false);
    expect(await rejection(pinpad.readPin())).toBe(err);
    expect(logs).toEqual([{ event: 'pinpad.disconnected', fields: { code: 'DISCONNECTED' } }]);
    await pinpad.close();
    await expect(pinpad.open()).rejects.toMatchObject({ code: 'PORT_NOT_FOUND' });
    keypad.replug();
    await pinpad.open();
    const q = pinpad.readPin();
    await keypad.type('3141');
    await keypad.enter();
    expect(ascii(await q)).toBe('3141');
  });

  it('rollover: a 7th held key gives the phantom state; every digit counts once', async () => {
    const { pinpad, keypad } = await setup();
    const p = pinpad.readPin({ maxLength: 12 });
    for (const d of '123456') keypad.keyDown(d as '1');
    keypad.keyDown('7');
    expect(Array.from(keypad.sent.at(-1) as Uint8Array)).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    keypad.keyUp('1');
    keypad.keyUp('2');
    keypad.keyDown('8');
    keypad.releaseAll();
    await keypad.enter();
    expect(ascii(await p)).toBe('12345678');
    expect(pinpad.stats.rollovers).toBe(1);
  });

  it('rolling typist (overlapping key-down/up), top-row layout with numbered reports', async () => {
    const { pinpad, keypad } = await setup({ layout: 'toprow', reportId: 1 });
    const p = pinpad.readPin({ maxLength: 8 });
    await keypad.type('90211', { overlap: true });
    await keypad.enter();
    expect(ascii(await p)).toBe('90211');
    expect(keypad.sent[0]).toEqual(Uint8Array.from([1, 0, 0, 0x26, 0, 0, 0, 0, 0]));
    expect(keypad.sent[1]).toEqual(Uint8Array.from([1, 0, 0, 0x26, 0x27, 0, 0, 0, 0]));
    expect(pinpad.stats.badReports).toBe(0);
  });

  it('keys typed before the prompt and a key held across its start never enter the PIN', async () => {
    const { pinpad, keypad } = await setup();
    await keypad.type('999');
    keypad.keyDown('8');
    await flush();
    expect(pinpad.stats.unclaimedKeys).toBe(4);
    const p = pinpad.readPin();
    keypad.keyUp('8');
    await keypad.type('1234');
    await keypad.enter();
    expect(ascii(await p)).toBe('1234');
  });

  it('bad reports are dropped and logged by length only; unmapped keys are ignored', async () => {
    const { pinpad, keypad, logs } = await setup();
    const bad: unknown[] = [];
    pinpad.on('badReport', (e) => bad.push(e));
    const p = pinpad.readPin();
    keypad.sendRaw([0, 0, 0x5a, 0x5b, 0x5c]);
    keypad.sendRaw([]);
    await keypad.press(0x04); // 'a'
    await keypad.press(0x53); // Num Lock
    await keypad.type('7777');
    await keypad.enter();
    expect(ascii(await p)).toBe('7777');
    expect(bad).toHaveLength(2);
    expect(logs).toEqual([
      { event: 'pinpad.bad_report', fields: { length: 5 } },
      { event: 'pinpad.bad_report', fields: { length: 0 } },
    ]);
    expect(pinpad.stats).toMatchObject({ badReports: 2, ignoredKeys: 2, keyDowns: 5 });
  });

  it('fault override on report send: a dropped key-down loses the digit, a corrupted report is dropped as bad', async () => {
    const { pinpad, keypad } = await setup();
    keypad.faults.report = once((_r, info) => (info.kind === 'down' ? null : PASS));
    const p = pinpad.readPin();
    await keypad.type('12345');
    keypad.faults.report = once(() => new Uint8Array(3));
    await keypad.type('6');
    await keypad.enter();
    expect(ascii(await p)).toBe('2345');
    expect(pinpad.stats.badReports).toBe(1);
  });

  it('close() during entry -> PinEntryAbortedError by caller', async () => {
    const { pinpad, keypad } = await setup();
    const p = pinpad.readPin();
    await keypad.type('1');
    await flush();
    const err = rejection(p);
    await pinpad.close();
    expect(await err).toMatchObject({ code: 'PIN_ABORTED', by: 'caller' });
  });

  it('one reader at a time; not open; bad options', async () => {
    const { pinpad, keypad } = await setup();
    const p = pinpad.readPin();
    expect(await rejection(pinpad.readKey())).toBeInstanceOf(PinPadBusyError);
    await expect(pinpad.readPin()).rejects.toMatchObject({ code: 'PINPAD_BUSY' });
    await keypad.type('0000');
    await keypad.enter();
    await p;
    await expect(pinpad.readPin({ minLength: 0 })).rejects.toMatchObject({ code: 'PIN_OPTIONS' });
    await expect(pinpad.readPin({ minLength: 7, maxLength: 6 })).rejects.toMatchObject({ code: 'PIN_OPTIONS' });
    await expect(pinpad.readPin({ maxLength: 13 })).rejects.toMatchObject({ code: 'PIN_OPTIONS' });
    await expect(pinpad.readPin({ buffer: new Uint8Array(3) })).rejects.toMatchObject({ code: 'PIN_OPTIONS' });
    await expect(pinpad.readPin({ timeoutMs: 0 })).rejects.toMatchObject({ code: 'PIN_OPTIONS' });
    await pinpad.close();
    await expect(pinpad.readPin()).rejects.toMatchObject({ code: 'NOT_OPEN' });
    await expect(pinpad.readKey()).rejects.toMatchObject({ code: 'NOT_OPEN' });
  });
});

describe('PinPad.readKey / keys()', () => {
  it('readKey yields the next key-down; times out with DeviceTimeoutError; aborts with CanceledError', async () => {
    const { pinpad, keypad, clock } = await setup();
    const k = pinpad.readKey();
    await keypad.press('enter');
    expect(await k).toMatchObject({ key: 'enter', usage: 0x58 });
    const t = pinpad.readKey({ timeoutMs: 1000 });
    clock.advance(1000);
    expect(await rejection(t)).toBeInstanceOf(DeviceTimeoutError);
    const ac = new AbortController();
    const a = pinpad.readKey({ signal: ac.signal });
    ac.abort();
    expect(await rejection(a)).toBeInstanceOf(CanceledError);
  });

  it('keys() queues key-downs from the call on, ends on return(), throws on unplug', async () => {
    const { pinpad, keypad } = await setup();
    const it1 = pinpad.keys();
    await keypad.type('12');
    await keypad.backspace();
    await keypad.cancel();
    const seen: string[] = [];
    for await (const ev of it1) {
      seen.push(ev.key);
      if (seen.length === 4) break;
    }
    expect(seen).toEqual(['1', '2', 'backspace', 'cancel']);
    const it2 = pinpad.keys();
    const next = it2.next();
    keypad.unplug();
    expect(await rejection(next)).toMatchObject({ code: 'DISCONNECTED' });
  });
});
