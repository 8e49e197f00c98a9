/**
 * The real R307 driver over the real serialport transport against the simulated R307
 * on the other end of a socat pty pair (DESIGN.md §6 "serial line" row).
 * The sim runs on a ManualClock (capture/search times and wire pacing cost no real
 * time); the driver keeps real timeouts.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@handset/device-drivers/core';
import { imageToPng, R307, SimR307 } from '@handset/device-drivers/r307';
import { openPtyPair, type PtyPair, SerialPortUart } from '@handset/device-drivers/transport/linux';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let pty: PtyPair;
let sim: SimR307;
let driver: R307;

beforeAll(async () => {
  pty = await openPtyPair();
  sim = new SimR307({ clock: new ManualClock() });
  await sim.attach(new SerialPortUart({ path: pty.a, baudRate: 57600 }));
  await sim.whenReady();
  driver = new R307({ uart: new SerialPortUart({ path: pty.b, baudRate: 57600 }), pollIntervalMs: 5 });
  await driver.open();
});

afterAll(async () => {
  await driver?.close();
  await sim?.detach();
  await pty?.close();
});

/** Enrols `name`: the finger is lifted when asked and put back with an offset. */
async function enrol(name: string, slot?: number): Promise<number> {
  sim.placeFinger(name);
  const r = await driver.enroll(slot, {
    onPrompt: (p) => {
      if (p.step === 'lift-finger') {
        sim.liftFinger();
        setTimeout(() => sim.placeFinger(name, { offset: { dx: 7, dy: -5 } }), 30);
      }
    },
  });
  return r.slot;
}

describe('R307 driver x simulator over a socat pty pair', () => {
  it('handshake: VfyPwd + ReadSysPara report an R307', () => {
    expect(driver.parameters).toMatchObject({ capacity: 1000, packetSize: 128, baudRate: 57600, securityLevel: 3 });
  });

  it('enrols two fingers, identifies each, rejects a third', async () => {
    expect(await enrol('alice')).toBe(0);
    expect(await enrol('bob', 17)).toBe(17);
    expect(await driver.listTemplates()).toEqual([0, 17]);
    sim.placeFinger('alice', { offset: { dx: -6, dy: 4 } });
    expect((await driver.identify())?.slot).toBe(0);
    sim.placeFinger('bob', { offset: { dx: 3, dy: 8 } });
    const bob = await driver.identify();
    expect(bob?.slot).toBe(17);
    expect(bob?.score).toBeGreaterThanOrEqual(50);
    sim.placeFinger('carol');
    expect(await driver.identify()).toBeUndefined();
    expect((await driver.verify(17)).matched).toBe(false);
  });

  it('round-trips a template through the host', async () => {
    await driver.loadModel(17, 2);
    const tpl = await driver.uploadTemplate(2);
    expect(tpl).toEqual(sim.template(17));
    await driver.downloadTemplate(tpl, 1);
    await driver.storeModel(500, 1);
    expect(sim.template(500)).toEqual(tpl);
    sim.placeFinger('bob');
    const hit = await driver.identify();
    expect([17, 500]).toContain(hit?.slot);
  });

  it('uploads an image and writes its PNG', async () => {
    sim.placeFinger('alice');
    await driver.captureImage();
    let packets = 0;
    const image = await driver.uploadImage({ onProgress: (p) => (packets = p.packets) });
    expect(packets).toBe(288);
    const file = join(await mkdtemp(join(tmpdir(), 'r307-png-')), 'alice.png');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(file, await imageToPng(image));
    const meta = await sharp(await readFile(file)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 256, 288]);
  });

  it('deletes and empties', async () => {
    await driver.deleteModels(0);
    expect(await driver.listTemplates()).toEqual([17, 500]);
    await driver.emptyLibrary();
    expect(await driver.templateCount()).toBe(0);
  });

  it('recovers from a dropped reply over the pty', async () => {
    const { dropReply, Instruction } = await import('@handset/device-drivers/r307');
    const d2 = driver;
    sim.faults.reply = dropReply({ instruction: Instruction.TemplateNum });
    await expect(d2.templateCount({ timeoutMs: 300 })).rejects.toMatchObject({ code: 'DEVICE_TIMEOUT' });
    expect(await d2.templateCount()).toBe(0);
  });
});
