/**
 * DESIGN §9: no PIN in logs, messages or files. One long PIN session through every path
 * (wrong, right, Cancel, timeout, bad reports, unplug, lock, restart, unlock) while
 * recording everything the system says: log lines of the module and the PIN pad, every
 * screen, every result, every error the pad raised (message, details, stack, inspect,
 * JSON, cause chain), console/stdout/stderr writes, and every file in the state folder.
 * None may contain the PIN - as digits, spaced or listed, or as the HID usages typed.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ManualClock } from '@handset/device-drivers/core';
import { SimKeypad, usageForKey } from '@handset/device-drivers/pinpad';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileLockStore, PasswordModule, type PinResult, ScryptPinVerifier } from '../../src/modules/password';
import type { Screen } from '../../src/ui/screens';
import { FAST, flush, RecordingPinPad } from './helpers';

const PIN = '582914';
const digits = [...PIN];
const usages = digits.map((d) => usageForKey(d as '5'));
const patterns: RegExp[] = [
  new RegExp(digits.join('[\\s,;:"\'\\[\\]()-]{0,4}')),
  new RegExp(usages.map((u) => String(u)).join('\\D{1,3}')),
  new RegExp(usages.map((u) => u.toString(16).padStart(2, '0')).join('[\\s,:]?'), 'i'),
  new RegExp(Buffer.from(PIN).toString('base64').replace(/=+$/, '')),
  new RegExp(Buffer.from(PIN).toString('hex')),
];
const leaks = (text: string) => patterns.filter((p) => p.test(text)).map(String);
const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    parts.push(inspect(cur, { depth: 6 }), json(cur));
    if (cur instanceof Error) parts.push(cur.message, String(cur.stack));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join('\n');
}

let dir: string | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('no PIN in logs, errors, messages, screens, results or files', () => {
  it('the scanner itself finds a leaked PIN in each form', () => {
    expect(leaks(`pin=${PIN}`)).not.toEqual([]);
    expect(leaks(json({ digits }))).not.toEqual([]);
    expect(leaks(digits.join(' '))).not.toEqual([]);
    expect(leaks(json({ report: usages }))).not.toEqual([]);
    expect(leaks(Buffer.from(usages).toString('hex'))).not.toEqual([]);
    expect(leaks(Buffer.from(PIN).toString('base64'))).not.toEqual([]);
    expect(leaks('locked after 3 attempts, 0 left, code DISCONNECTED')).toEqual([]);
  });

  it('a whole session through every path leaks nothing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'handset-pinleak-'));
    const statePath = join(dir, 'password.json');
    const said: string[] = [];
    const errors: unknown[] = [];
    const results: PinResult[] = [];
    const screens: Screen[] = [];
    for (const stream of [process.stdout, process.stderr])
      vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown) => {
        said.push(String(chunk));
        return true;
      }) as typeof stream.write);
    for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const)
      vi.spyOn(console, m).mockImplementation((...a: unknown[]) => {
        said.push(a.map((x) => inspect(x)).join(' '));
      });
    const log = {
      info: (event: string, fields?: Record<string, unknown>) => said.push(json({ event, fields })),
      warn: (event: string, fields?: Record<string, unknown>) => said.push(json({ event, fields })),
    };

    const clock = new ManualClock({ autoAdvance: false });
    const keypad = new SimKeypad({ clock });
    const boot = async () => {
      const pinpad = new RecordingPinPad({ device: keypad.device, clock, log });
      pinpad.on('disconnect', (e) => errors.push(e));
      pinpad.on('badReport', (e) => errors.push(e));
      const module = new PasswordModule({
        pinpad,
        verifier: new ScryptPinVerifier({ params: FAST }),
        lockStore: new FileLockStore(statePath),
        show: (s) => {
          screens.push(s);
        },
        clock,
        log,
        timeoutMs: 20_000,
      });
      return { pinpad, module };
    };
    let prompts = 0;
    const prompt = async () => {
      prompts++;
      const deadline = Date.now() + 10_000;
      const count = () => screens.filter((s) => s.kind === 'pin' && s.entered === 0).length;
      for (let i = 0; count() < prompts && Date.now() < deadline; i++)
        await new Promise((r) => (i < 200 ? setImmediate(r) : setTimeout(r, 2)));
      expect(count()).toBe(prompts);
    };
    const type = async (text: string, finish: 'enter' | 'cancel' | 'none' = 'enter') => {
      await keypad.type(text);
      if (finish === 'enter') await keypad.enter();
      if (finish === 'cancel') await keypad.cancel();
      await flush();
    };
    const request = (extra: Partial<Parameters<PasswordModule['requestPin']>[0]> = {}) =>
      a.module.requestPin({ reason: 'step_up', amount: { minor: 12_50n, currency: 'EUR' }, ...extra }).then((r) => {
        results.push(r);
        return r;
      });

    let a = await boot();
    await a.module.setPin(PIN);

    // 1: wrong, then bad reports and a correction, then right
    let p = request();
    await prompt();
    await type('582915');
    await prompt();
    keypad.sendRaw([0, 0, ...usages.slice(0, 5)]); // a 7-byte report holding PIN usages
    keypad.sendRaw([0, 0, ...usages, 0, 0, 0]);
    await type('5829', 'none');
    await keypad.backspace();
    await type('914');
    expect(await p).toMatchObject({ ok: true });

    // 2: Cancel halfway; 3: timeout halfway; 4: unplug halfway, replug
    p = request();
    await prompt();
    await type('582', 'cancel');
    expect(await p).toMatchObject({ reason: 'aborted' });
    p = request();
    await prompt();
    await type('5829', 'none');
    clock.advance(20_000);
    expect(await p).toMatchObject({ reason: 'timeout' });
    p = request();
    await prompt();
    await type('58291', 'none');
    keypad.unplug();
    expect(await p).toMatchObject({ reason: 'unavailable', code: 'DISCONNECTED' });
    keypad.replug();

    // 5: three wrong (the PIN short by a digit, two swaps) -> locked
    p = request();
    for (const wrong of ['58291', '582941', '825914']) {
      await prompt();
      await type(wrong);
    }
    expect(await p).toMatchObject({ reason: 'locked' });
    await a.pinpad.close();

    // 6: restart from the file: still locked; unlock; right PIN
    a = await boot();
    expect(await request()).toMatchObject({ reason: 'locked' });
    await a.module.unlock();
    p = request({ retry: false });
    await prompt();
    await type(PIN);
    expect(await p).toMatchObject({ ok: true });
    await a.pinpad.close();

    errors.push(...a.pinpad.errors);
    expect(errors.length).toBeGreaterThanOrEqual(3);
    const files = await readdir(dir);
    expect(files).toEqual(['password.json']);
    const fileText = await readFile(statePath, 'utf8');

    const corpus: Array<[string, string]> = [
      ...said.map((s, i) => [`said[${i}]`, s] as [string, string]),
      ...screens.map((s, i) => [`screen[${i}]`, json(s)] as [string, string]),
      ...results.map((r, i) => [`result[${i}]`, json(r)] as [string, string]),
      ...errors.map((e, i) => [`error[${i}]`, describeError(e)] as [string, string]),
      ['file', fileText],
      ['status', json(await a.module.status())],
      ['pinpad.stats', json(a.pinpad.stats)],
    ];
    expect(said.length).toBeGreaterThan(10);
    const found = corpus.flatMap(([where, text]) => leaks(text).map((p) => `${where}: ${p}`));
    expect(found).toEqual([]);
    expect(fileText).not.toContain(PIN);
  });
});
