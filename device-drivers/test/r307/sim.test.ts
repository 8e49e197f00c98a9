/**
 * The simulated R307 on its bus face, spoken to with literal bytes (as pyfingerprint,
 * CircuitPython and the Arduino library would), plus its control face.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock';
import {
  extract,
  FileR307Store,
  fingerMinutiae,
  Instruction,
  MemoryR307Store,
  matchScore,
  type SimCommandRecord,
  SimR307,
} from '../../src/r307';
import { decodeFeatures, encodeFeatures } from '../../src/r307/fingers';
import { createSimUartPair } from '../../src/transport/sim/uart';
import { h, hexOf, readExactly, testPacket } from './helpers';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function rig(options: ConstructorParameters<typeof SimR307>[0] = {}) {
  const clock = new ManualClock();
  const { host, device } = createSimUartPair();
  const sim = new SimR307({ clock, ...options });
  await sim.attach(device);
  await sim.whenReady();
  await host.open();
  cleanups.push(async () => {
    await host.close();
    await sim.detach();
  });
  const ask = async (cmd: string, replyBytes: number): Promise<string> => {
    await host.write(h(cmd));
    return hexOf(await readExactly(host, replyBytes));
  };
  return { sim, host, device, clock, ask };
}

const GENIMG = 'EF01 FFFFFFFF 01 0003 01 0005';
const IMG2TZ1 = 'EF01 FFFFFFFF 01 0004 02 01 0008';
const IMG2TZ2 = 'EF01 FFFFFFFF 01 0004 02 02 0009';
const READSYS = 'EF01 FFFFFFFF 01 0003 0F 0013';
const TNUM = 'EF01 FFFFFFFF 01 0003 1D 0021';
const OK = hexOf(h('EF01 FFFFFFFF 07 0003 00 000A'));

describe('SimR307 fingerprint model', () => {
  it('the same finger matches with a realistic score; other fingers do not', () => {
    const a1 = extract({ finger: 'alice', quality: 0.9, dx: 0, dy: 0, seq: 1 }).minutiae!;
    const a2 = extract({ finger: 'alice', quality: 0.85, dx: 9, dy: -6, seq: 2 }).minutiae!;
    const b = extract({ finger: 'bob', quality: 0.9, dx: 0, dy: 0, seq: 3 }).minutiae!;
    const same = matchScore(a1, a2);
    expect(same).toBeGreaterThanOrEqual(50);
    expect(same).toBeLessThanOrEqual(300);
    expect(matchScore(a1, b)).toBeLessThan(30);
    expect(fingerMinutiae('alice')).toEqual(fingerMinutiae('alice'));
    expect(decodeFeatures(encodeFeatures(a1, 1))).toEqual(a1);
    expect(decodeFeatures(new Uint8Array(256).fill(7))).toBeUndefined();
  });

  it('over 40 finger pairs: no false accept at level 3, every genuine pair accepted', () => {
    const names = Array.from({ length: 40 }, (_, i) => `finger-${i}`);
    let worstImpostor = 0;
    let worstGenuine = 1000;
    for (const [i, n] of names.entries()) {
      const a = extract({ finger: n, quality: 0.8, dx: 0, dy: 0, seq: 1 }).minutiae!;
      const a2 = extract({ finger: n, quality: 0.8, dx: 6, dy: 4, seq: 2 }).minutiae!;
      worstGenuine = Math.min(worstGenuine, matchScore(a, a2));
      const o = extract({ finger: names[(i + 1) % names.length]!, quality: 0.8, dx: 0, dy: 0, seq: 3 }).minutiae!;
      worstImpostor = Math.max(worstImpostor, matchScore(a, o));
    }
    expect(worstGenuine).toBeGreaterThanOrEqual(50);
    expect(worstImpostor).toBeLessThan(50);
  });

  it('poor presses fail Img2Tz with 0x06 / 0x07', () => {
    expect(extract({ finger: 'x', quality: 0.1, dx: 0, dy: 0, seq: 0 }).code).toBe(0x06);
    expect(extract({ finger: 'x', quality: 0.9, dx: 200, dy: 0, seq: 0 }).code).toBe(0x07);
  });
});

describe('SimR307 bus face (literal bytes)', () => {
  it('factory ReadSysPara: status PWD, capacity 1000, level 3, FFFFFFFF, 128 B, N=6', async () => {
    const { ask } = await rig();
    expect(await ask(READSYS, 28)).toBe(hexOf(h('EF01 FFFFFFFF 07 0013 00 0004 0000 03E8 0003 FFFFFFFF 0002 0006 0510')));
  });

  it('GenImg on an empty sensor: 0x02; TemplateNum 0', async () => {
    const { ask } = await rig();
    expect(await ask(GENIMG, 12)).toBe(hexOf(h('EF01 FFFFFFFF 07 0003 02 000C')));
    expect(await ask(TNUM, 14)).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 00 0000 000C')));
  });

  it('a command written one byte per write() (pyfingerprint) is reassembled', async () => {
    const { host } = await rig();
    for (const b of h(TNUM)) await host.write(Uint8Array.of(b));
    expect(hexOf(await readExactly(host, 14))).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 00 0000 000C')));
  });

  it('Search "not found" is full length (16 bytes) with PageID and score 0', async () => {
    const { sim, ask } = await rig();
    sim.placeFinger('alice');
    expect(await ask(GENIMG, 12)).toBe(OK);
    expect(await ask(IMG2TZ1, 12)).toBe(OK);
    expect(await ask('EF01 FFFFFFFF 01 0008 04 01 0000 03E8 00F9', 16)).toBe(hexOf(h('EF01 FFFFFFFF 07 0007 09 0000 0000 0017')));
    expect(await ask('EF01 FFFFFFFF 01 0008 1B 01 0000 00A3 00C8', 16)).toBe(hexOf(h('EF01 FFFFFFFF 07 0007 09 0000 0000 0017')));
  });

  it('CircuitPython enrolment sequence, then Search and HighSpeedSearch find it; Match scores', async () => {
    const { sim, ask } = await rig();
    sim.placeFinger('alice');
    expect(await ask(GENIMG, 12)).toBe(OK);
    expect(await ask(IMG2TZ1, 12)).toBe(OK);
    sim.liftFinger();
    expect(await ask(GENIMG, 12)).toBe(hexOf(h('EF01 FFFFFFFF 07 0003 02 000C')));
    sim.placeFinger('alice', { offset: { dx: 5, dy: -3 } });
    expect(await ask(GENIMG, 12)).toBe(OK);
    expect(await ask(IMG2TZ2, 12)).toBe(OK);
    const match = h(await ask('EF01 FFFFFFFF 01 0003 03 0007', 14));
    expect(match[9]).toBe(0);
    const score = (match[10]! << 8) | match[11]!;
    expect(score).toBeGreaterThanOrEqual(50);
    expect(await ask('EF01 FFFFFFFF 01 0003 05 0009', 12)).toBe(OK);
    expect(await ask('EF01 FFFFFFFF 01 0006 06 01 0007 0015', 12)).toBe(OK);
    expect(sim.templates()).toEqual([7]);
    sim.placeFinger('alice', { offset: { dx: -4, dy: 6 } });
    await ask(GENIMG, 12);
    await ask(IMG2TZ1, 12);
    for (const cmd of ['EF01 FFFFFFFF 01 0008 04 01 0000 03E8 00F9', 'EF01 FFFFFFFF 01 0008 1B 01 0000 00A3 00C8']) {
      const r = h(await ask(cmd, 16));
      expect(r[9]).toBe(0);
      expect((r[10]! << 8) | r[11]!).toBe(7);
      expect((r[12]! << 8) | r[13]!).toBeGreaterThanOrEqual(50);
    }
    expect(await ask(TNUM, 14)).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 00 0001 000D')));
    // ReadConList page 0: slot 7 = byte 0 bit 7
    expect(await ask('EF01 FFFFFFFF 01 0004 1F 00 0024', 44)).toBe(testPacket(7, h(`0080${'00'.repeat(31)}`)));
  });

  it('UpChar at 128 B: ack + 3 x 0x02 + 1 x 0x08; at 256 B after SetSysPara(6,3): 2 packets', async () => {
    const { sim, ask, host } = await rig();
    sim.placeFinger('bob');
    await ask(GENIMG, 12);
    await ask(IMG2TZ1, 12);
    await host.write(h('EF01 FFFFFFFF 01 0004 08 01 000E'));
    const r = await readExactly(host, 12 + 4 * 139);
    expect(hexOf(r.subarray(0, 12))).toBe(OK);
    expect([r[12 + 6], r[12 + 139 + 6], r[12 + 278 + 6], r[12 + 417 + 6]]).toEqual([2, 2, 2, 8]);
    expect(await ask('EF01 FFFFFFFF 01 0005 0E 06 03 001D', 12)).toBe(OK);
    await host.write(h('EF01 FFFFFFFF 01 0004 08 01 000E'));
    const r2 = await readExactly(host, 12 + 2 * 267);
    expect([r2[12 + 6], r2[12 + 267 + 6]]).toEqual([2, 8]);
    // UpChar does not alter the buffer: same 512 bytes at either packet size
    const payload128 = [0, 1, 2, 3].flatMap((i) => Array.from(r.subarray(12 + 139 * i + 9, 12 + 139 * i + 9 + 128)));
    const payload256 = [0, 1].flatMap((i) => Array.from(r2.subarray(12 + 267 * i + 9, 12 + 267 * i + 9 + 256)));
    expect(payload256).toEqual(payload128);
  });

  it('DownChar: no ack for host data packets; the template lands in the buffer', async () => {
    const { sim, ask, host } = await rig();
    const tpl = encodeFeatures(extract({ finger: 'carol', quality: 0.9, dx: 0, dy: 0, seq: 0 }).minutiae!, 2);
    expect(await ask('EF01 FFFFFFFF 01 0004 09 01 000F', 12)).toBe(OK);
    for (let i = 0; i < 4; i++) await host.write(h(testPacket(i === 3 ? 8 : 2, tpl.subarray(128 * i, 128 * (i + 1)))));
    expect(await ask('EF01 FFFFFFFF 01 0006 06 01 0002 0010', 12)).toBe(OK); // first bytes after data = Store's ack
    expect(sim.template(2)).toEqual(tpl);
  });

  it('a corrupt command gets 0x01; a command for another address is ignored', async () => {
    const { ask, host } = await rig();
    expect(await ask('EF01 FFFFFFFF 01 0003 1D 0022', 12)).toBe(hexOf(h('EF01 FFFFFFFF 07 0003 01 000B')));
    await host.write(h('EF01 11223344 01 0003 1D 0021'));
    expect(await ask(TNUM, 14)).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 00 0000 000C')));
  });

  it('SetAdder acks from the new address; old-address commands are ignored afterwards', async () => {
    const { ask, sim } = await rig();
    expect(await ask('EF01 FFFFFFFF 01 0007 15 11223344 00C7', 12)).toBe(hexOf(h('EF01 11223344 07 0003 00 000A')));
    expect(sim.address).toBe(0x11223344);
    expect(await ask('EF01 11223344 01 0003 1D 0021', 14)).toBe(hexOf(h('EF01 11223344 07 0005 00 0000 000C')));
  });

  it('password: 0x21 until VfyPwd once a password is set; wrong password 0x13', async () => {
    const { ask, sim } = await rig();
    expect(await ask('EF01 FFFFFFFF 01 0007 12 12345678 012E', 12)).toBe(OK);
    await sim.powerCycle();
    // full-length reply even on error (checklist 1)
    expect(await ask(TNUM, 14)).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 21 0000 002D')));
    expect(await ask('EF01 FFFFFFFF 01 0007 13 00000000 001B', 12)).toBe(hexOf(h('EF01 FFFFFFFF 07 0003 13 001D')));
    expect(await ask('EF01 FFFFFFFF 01 0007 13 12345678 012F', 12)).toBe(OK);
    expect(await ask(TNUM, 14)).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 00 0000 000C')));
  });

  it('notepad, random code and unsupported instructions', async () => {
    const { ask } = await rig({ randomSeed: 1 });
    const write = testPacket(1, h(`1805${'AB'.repeat(32)}`));
    expect(await ask(write, 12)).toBe(OK);
    expect(await ask(testPacket(1, h('1905')), 44)).toBe(testPacket(7, h(`00${'AB'.repeat(32)}`)));
    expect(await ask(testPacket(1, h('1910')), 44)).toBe(testPacket(7, h(`1C${'00'.repeat(32)}`)));
    const r = h(await ask('EF01 FFFFFFFF 01 0003 14 0018', 16));
    expect([r[6], r[8], r[9]]).toEqual([7, 7, 0]);
    expect(await ask(testPacket(1, h('53')), 12)).toBe(testPacket(7, h('01')));
  });

  it('SetSysPara invalid register 0x1A, bad value 0x1B', async () => {
    const { ask } = await rig();
    expect(await ask(testPacket(1, h('0E0701')), 12)).toBe(testPacket(7, h('1A')));
    expect(await ask(testPacket(1, h('0E0509')), 12)).toBe(testPacket(7, h('1B')));
  });
});

describe('SimR307 control face', () => {
  it('alternate presence: present, absent, present ... (handset sim r307 --finger)', async () => {
    const { sim, ask } = await rig();
    sim.placeFinger('alice', { presence: 'alternate' });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push(h(await ask(GENIMG, 12))[9]!);
    expect(codes).toEqual([0, 2, 0, 2, 0]);
  });

  it('the library, address and settings persist across power cycles; buffers do not', async () => {
    const store = new MemoryR307Store();
    const { sim, ask } = await rig({ store });
    sim.placeFinger('alice');
    await ask(GENIMG, 12);
    await ask(IMG2TZ1, 12);
    await ask(IMG2TZ2, 12);
    expect(await ask('EF01 FFFFFFFF 01 0003 05 0009', 12)).toBe(OK);
    expect(await ask('EF01 FFFFFFFF 01 0006 06 01 0003 0011', 12)).toBe(OK);
    expect(await ask('EF01 FFFFFFFF 01 0005 0E 05 05 001E', 12)).toBe(OK);
    await sim.powerCycle();
    expect(sim.templates()).toEqual([3]);
    expect(sim.flashState().securityLevel).toBe(5);
    // image buffer lost: Img2Tz has no valid image
    expect(await ask(IMG2TZ1, 12)).toBe(testPacket(7, h('15')));
    // a fresh sim on the same store sees the same flash
    const again = new SimR307({ clock: new ManualClock(), store });
    await again.whenReady();
    expect(again.templates()).toEqual([3]);
  });

  it('FileR307Store survives a new process (JSON file)', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = `${mkdtempSync(`${tmpdir()}/r307-`)}/flash.json`;
    const a = new SimR307({ clock: new ManualClock(), store: new FileR307Store(path) });
    await a.whenReady();
    await a.respond({ instruction: Instruction.SetPwd, params: h('00000001') });
    const b = new SimR307({ clock: new ManualClock(), store: new FileR307Store(path) });
    await b.whenReady();
    expect(b.flashState().password).toBe(1);
  });

  it('commands during power-up are ignored; after it they are answered', async () => {
    const clock = new ManualClock({ autoAdvance: false });
    const { host, device } = createSimUartPair();
    const sim = new SimR307({ clock, powered: false });
    await sim.attach(device);
    await host.open();
    const up = sim.plugIn();
    await host.write(h(TNUM));
    await new Promise((r) => setTimeout(r, 20));
    expect(host.buffered).toBe(0);
    clock.advance(500);
    await up;
    await host.write(h(TNUM));
    const deadline = Date.now() + 2000;
    while (host.buffered < 14 && Date.now() < deadline) {
      clock.advance(10);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(hexOf(await readExactly(host, 14))).toBe(hexOf(h('EF01 FFFFFFFF 07 0005 00 0000 000C')));
    await host.close();
    await sim.detach();
  });

  it('search time grows with library size (datasheet: < 1 s at 1:1000)', async () => {
    const { sim, ask, host } = await rig({ pace: false });
    const tpl = (n: string) => encodeFeatures(extract({ finger: n, quality: 0.9, dx: 0, dy: 0, seq: 0 }).minutiae!, 2);
    // Fill 1000 slots over the bus: DownChar + 4 data packets + Store, per slot.
    for (let s = 0; s < 1000; s++) {
      const t = tpl(`f${s}`);
      await ask('EF01 FFFFFFFF 01 0004 09 01 000F', 12);
      await host.write(h([0, 1, 2, 3].map((i) => testPacket(i === 3 ? 8 : 2, t.subarray(128 * i, 128 * i + 128))).join('')));
      expect(await ask(testPacket(1, h(`0601${s.toString(16).padStart(4, '0')}`)), 12)).toBe(OK);
    }
    expect(sim.templates()).toHaveLength(1000);
    sim.placeFinger('nobody');
    await ask(GENIMG, 12);
    await ask(IMG2TZ1, 12);
    await ask('EF01 FFFFFFFF 01 0008 04 01 0000 03E8 00F9', 16);
    await ask('EF01 FFFFFFFF 01 0008 04 01 0000 000A 0018', 16);
    const searches = () => sim.history.filter((r) => r.instruction === Instruction.Search && !Number.isNaN(r.doneAt));
    while (searches().length < 2) await new Promise((r) => setTimeout(r, 1));
    const [full, small] = searches() as [SimCommandRecord, SimCommandRecord];
    expect(full.doneAt - full.receivedAt).toBeGreaterThan(800);
    expect(full.doneAt - full.receivedAt).toBeLessThan(1000);
    expect(small.doneAt - small.receivedAt).toBeLessThan(50);
  });

  it('touch line follows the finger (low = finger present, like the module TOUCH pin)', async () => {
    const { SimGpioController } = await import('../../src/transport/sim/gpio');
    const gpio = new SimGpioController();
    const wire = gpio.line('pinctrl-bcm2711', 17);
    const { sim } = await rig({ touch: wire });
    expect(wire.level).toBe(1);
    sim.placeFinger('alice');
    expect(wire.level).toBe(0);
    sim.liftFinger();
    expect(wire.level).toBe(1);
  });
});
