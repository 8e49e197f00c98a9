/**
 * The real driver against the simulated R307 over an in-memory UART pair (reads
 * fragmented at 16 bytes): flows, faults and link recovery. The sim runs on a
 * ManualClock (its 200 ms captures and 7 s image streams take no real time); the
 * driver keeps real timeouts.
 */
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock';
import { CanceledError, DeviceTimeoutError, TransportError } from '../../src/core/errors';
import {
  AlreadyEnrolledError,
  answerAs,
  BadPasswordError,
  corruptReply,
  dropReply,
  type EnrollPrompt,
  EnrolMismatchError,
  Instruction,
  ignoreCommand,
  imageToPng,
  MemoryR307Store,
  R307,
  type R307Options,
  R307ProtocolError,
  SimR307,
  type SimR307Options,
  truncateStream,
} from '../../src/r307';
import { PASS } from '../../src/transport/sim/fault';
import { SimGpioController } from '../../src/transport/sim/gpio';
import { createSimUartPair } from '../../src/transport/sim/uart';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const FAST = { timeouts: { default: 400 }, dataIdleTimeoutMs: 400, pollIntervalMs: 5 } satisfies Partial<R307Options>;

async function rig(simOptions: SimR307Options = {}, driverOptions: Partial<R307Options> = {}) {
  const { host, device } = createSimUartPair();
  const sim = new SimR307({ clock: new ManualClock(), ...simOptions });
  await sim.attach(device);
  await sim.whenReady();
  const driver = new R307({ uart: host, ...driverOptions });
  await driver.open();
  cleanups.push(async () => {
    await driver.close();
    await sim.detach();
  });
  return { sim, driver, host, device };
}

describe('R307 driver x simulator: flows', () => {
  it('enrol two fingers, identify each, reject a third, verify, delete, empty', async () => {
    const { sim, driver } = await rig();
    const prompts: EnrollPrompt['step'][] = [];
    const enrolLater = (name: string, slot?: number) => {
      sim.placeFinger(name);
      return driver.enroll(slot, {
        onPrompt: (p) => {
          prompts.push(p.step);
          if (p.step === 'lift-finger') {
            sim.liftFinger();
            setTimeout(() => sim.placeFinger(name, { offset: { dx: 6, dy: -4 } }), 20);
          }
        },
      });
    };
    expect(await enrolLater('alice')).toEqual({ slot: 0 });
    expect(prompts).toEqual(['place-finger', 'lift-finger', 'place-again', 'merging', 'stored']);
    expect(await enrolLater('bob', 42)).toEqual({ slot: 42 });
    expect(await driver.templateCount()).toBe(2);
    expect(await driver.listTemplates()).toEqual([0, 42]);

    sim.placeFinger('alice', { offset: { dx: -5, dy: 3 } });
    const a = await driver.identify();
    expect(a?.slot).toBe(0);
    expect(a?.score).toBeGreaterThanOrEqual(50);
    sim.placeFinger('bob');
    expect((await driver.identify())?.slot).toBe(42);
    sim.placeFinger('carol');
    expect(await driver.identify()).toBeUndefined();
    expect(await driver.verify(42)).toEqual({ matched: false, score: 0 });
    sim.placeFinger('bob');
    expect((await driver.verify(42)).matched).toBe(true);
    expect((await driver.verify(0)).matched).toBe(false);

    await driver.deleteModels(0);
    expect(await driver.listTemplates()).toEqual([42]);
    await driver.emptyLibrary();
    expect(await driver.templateCount()).toBe(0);
    expect(sim.templates()).toEqual([]);
  });

  it('enrolment refuses an enrolled finger, and different fingers (RegModel 0x0A)', async () => {
    const { sim, driver } = await rig();
    sim.placeFinger('alice', { presence: 'alternate' });
    await driver.enroll(5);
    sim.placeFinger('alice', { presence: 'alternate' });
    const dup = await driver.enroll(6).catch((e) => e);
    expect(dup).toBeInstanceOf(AlreadyEnrolledError);
    expect(dup.slot).toBe(5);
    sim.placeFinger('dave');
    await expect(
      driver.enroll(7, {
        onPrompt: (p) => {
          if (p.step === 'lift-finger') {
            sim.liftFinger();
            setTimeout(() => sim.placeFinger('erin'), 20);
          }
        },
      }),
    ).rejects.toBeInstanceOf(EnrolMismatchError);
  });

  it('a poor press is retried with a prompt', async () => {
    const { sim, driver } = await rig();
    sim.placeFinger('frank', { quality: 0.1 });
    const steps: string[] = [];
    const slot = await driver.enroll(undefined, {
      onPrompt: (p) => {
        steps.push(p.step);
        if (p.step === 'retry') {
          sim.liftFinger();
          setTimeout(() => sim.placeFinger('frank', { presence: 'alternate' }), 20);
        }
      },
    });
    expect(slot).toEqual({ slot: 0 });
    expect(steps).toContain('retry');
  });

  it('round-trips a template: UpChar, DownChar into a buffer, Store elsewhere, then it identifies', async () => {
    const { sim, driver } = await rig();
    sim.placeFinger('gina', { presence: 'alternate' });
    await driver.enroll(1);
    await driver.loadModel(1, 1);
    const tpl = await driver.uploadTemplate(1);
    expect(tpl).toHaveLength(512);
    expect(tpl).toEqual(sim.template(1));
    await driver.emptyLibrary();
    await driver.downloadTemplate(tpl, 2);
    await driver.storeModel(900, 2);
    expect(sim.template(900)).toEqual(tpl);
    sim.placeFinger('gina');
    expect((await driver.identify())?.slot).toBe(900);
  });

  it('uploads an image with progress and writes a 256x288 PNG; DownImage feeds Img2Tz', async () => {
    const { sim, driver } = await rig();
    sim.placeFinger('hank');
    await driver.captureImage();
    const progress: number[] = [];
    const img = await driver.uploadImage({ onProgress: (p) => progress.push(p.bytes) });
    expect(img).toHaveLength(36864);
    expect(progress).toHaveLength(288);
    expect(progress.at(-1)).toBe(36864);
    const png = await imageToPng(img);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 256, 288]);
    const stats = await sharp(png).stats();
    expect(stats.channels[0]!.stdev).toBeGreaterThan(20); // ridges, not a blank frame
    // the image goes back in, and the sensor recognises its own picture
    sim.liftFinger();
    await driver.downloadImage(img);
    await driver.imageToTemplate(1);
    await driver.storeModel(3, 1);
    sim.placeFinger('hank');
    expect((await driver.identify())?.slot).toBe(3);
  });

  it('packet size 32: a template arrives as 16 packets and still reassembles', async () => {
    const { sim, driver } = await rig();
    await driver.setPacketSize(32);
    sim.placeFinger('ivy');
    await driver.captureImage();
    await driver.imageToTemplate(1);
    const progress: number[] = [];
    await driver.uploadTemplate(1, { onProgress: (p) => progress.push(p.packets) });
    expect(progress.at(-1)).toBe(16);
    expect((await driver.readSystemParameters()).packetSize).toBe(32);
  });

  it('notepad, random code, security level, address change', async () => {
    const { sim, driver } = await rig();
    await driver.writeNotepad(15, Uint8Array.of(1, 2, 3));
    expect(Array.from((await driver.readNotepad(15)).subarray(0, 4))).toEqual([1, 2, 3, 0]);
    const r1 = await driver.randomCode();
    const r2 = await driver.randomCode();
    expect(r1).not.toBe(r2);
    await driver.setSecurityLevel(5);
    await driver.setAddress(0xcafe0001);
    expect(sim.address).toBe(0xcafe0001);
    expect(await driver.readSystemParameters()).toMatchObject({ securityLevel: 5, address: 0xcafe0001 });
  });

  it('password: set, power cycle, a new session needs it; a wrong one is BadPasswordError', async () => {
    const store = new MemoryR307Store();
    const first = await rig({ store });
    await first.driver.setPassword(0x0badf00d);
    await first.sim.powerCycle();
    const wrong = new R307({ uart: first.host, password: 1 });
    await first.driver.close();
    await expect(wrong.open()).rejects.toBeInstanceOf(BadPasswordError);
    await wrong.close();
    const right = new R307({ uart: first.host, password: 0x0badf00d });
    expect((await right.open())?.capacity).toBe(1000);
    await right.close();
  });

  it('baud change applied after the ack: driver follows; persists over a power cycle', async () => {
    const { sim, driver, host } = await rig();
    expect(await driver.setBaudRate(115200)).toEqual({ baudRate: 115200, applied: true });
    expect(host.baudRate).toBe(115200);
    expect(await driver.templateCount()).toBe(0);
    await sim.powerCycle();
    expect(sim.baudRate).toBe(115200);
    expect(await driver.templateCount()).toBe(0);
  });

  it('baud change at the next power-up (ZFM wording): driver stays, reconnect() finds the new speed', async () => {
    const { sim, driver, host } = await rig({ baudChange: 'power-cycle' }, { timeouts: { default: 300 } });
    expect(await driver.setBaudRate(19200)).toEqual({ baudRate: 57600, applied: false });
    expect(driver.pendingBaudRate).toBe(19200);
    expect(await driver.templateCount()).toBe(0);
    await sim.powerCycle();
    await expect(driver.templateCount()).rejects.toBeInstanceOf(DeviceTimeoutError);
    expect(await driver.reconnect()).toBe(19200);
    expect(host.baudRate).toBe(19200);
    expect(await driver.templateCount()).toBe(0);
  });

  it('touch line: the driver waits on it instead of polling GenImg', async () => {
    const gpio = new SimGpioController();
    const wire = gpio.line('pinctrl-bcm2711', 17);
    const touch = await gpio.requestLine({ chipLabel: 'pinctrl-bcm2711', line: 17, direction: 'in', activeLow: true });
    const { sim, driver } = await rig({ touch: wire }, { touch });
    setTimeout(() => sim.placeFinger('judy'), 50);
    await driver.waitForFinger({ timeoutMs: 2000 });
    const genImgs = sim.history.filter((r) => r.instruction === Instruction.GenImg);
    expect(genImgs.map((r) => r.code)).toEqual([0]);
    await touch.close();
  });

  it('cancellation: an AbortSignal ends a finger wait with CanceledError', async () => {
    const { driver } = await rig({}, FAST);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(driver.identify({ signal: ac.signal })).rejects.toBeInstanceOf(CanceledError);
    expect(await driver.templateCount()).toBe(0);
  });
});

describe('R307 driver x simulator: faults and link recovery', () => {
  it('no reply -> DeviceTimeoutError naming the instruction; the next command works', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.faults.command = ignoreCommand(Instruction.TemplateNum);
    const err = await driver.templateCount().catch((e) => e);
    expect(err).toBeInstanceOf(DeviceTimeoutError);
    expect(err.message).toMatch(/TemplateNum \(0x1D\)/);
    expect(await driver.templateCount()).toBe(0);
  });

  it('a dropped ack is a timeout; a corrupt ack is R307ProtocolError at once; both recover', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.faults.reply = dropReply({ instruction: Instruction.ReadSysPara });
    await expect(driver.readSystemParameters()).rejects.toBeInstanceOf(DeviceTimeoutError);
    sim.faults.reply = corruptReply({ kind: 'ack' });
    const t0 = performance.now();
    const err = await driver.templateCount().catch((e) => e);
    expect(err).toBeInstanceOf(R307ProtocolError);
    expect(err.code).toBe('R307_BAD_CHECKSUM');
    expect(performance.now() - t0).toBeLessThan(300);
    expect((await driver.readSystemParameters()).capacity).toBe(1000);
    expect(driver.linkStats.badChecksum).toBe(1);
  });

  it('a reply to the wrong command is R307_UNEXPECTED_REPLY; the next command works', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.faults.command = answerAs(sim, Instruction.TemplateNum, Instruction.GenImg);
    const err = await driver.captureImage().catch((e) => e);
    expect(err).toBeInstanceOf(R307ProtocolError);
    expect(err.code).toBe('R307_UNEXPECTED_REPLY');
    expect(err.message).toMatch(/GenImg/);
    sim.placeFinger('kim');
    await driver.captureImage();
  });

  it('a truncated data stream -> typed error naming the packet; the next transfer works', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.placeFinger('leo');
    await driver.captureImage();
    sim.faults.reply = truncateStream(100);
    const err = await driver.uploadImage().catch((e) => e);
    expect(err).toBeInstanceOf(DeviceTimeoutError);
    expect(err.message).toMatch(/data packet 101 of UpImage \(0x0A\) \(12800\/36864 bytes received\)/);
    expect(await driver.uploadImage()).toHaveLength(36864);
  });

  it('a corrupt data packet mid-stream -> R307ProtocolError; the rest of the stream is flushed', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.placeFinger('mia');
    await driver.captureImage();
    await driver.imageToTemplate(1);
    sim.faults.reply = corruptReply({ kind: 'data', index: 1 });
    await expect(driver.uploadTemplate(1)).rejects.toMatchObject({ code: 'R307_BAD_CHECKSUM' });
    expect(await driver.uploadTemplate(1)).toHaveLength(512);
  });

  it('garbage and a stray 0x55 before a reply are skipped', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.faults.reply = (bytes, info) => (info.kind === 'ack' ? Uint8Array.from([0x55, 0x00, 0xef, 0x13, ...bytes]) : PASS);
    expect(await driver.templateCount()).toBe(0);
    expect(driver.linkStats.garbageBytes).toBe(4);
  });

  it('sensor unplugged mid-transfer -> DeviceTimeoutError; after power returns the next command works', async () => {
    const { sim, driver } = await rig({}, FAST);
    sim.placeFinger('ned');
    await driver.captureImage();
    sim.faults.reply = (_b, info) => {
      if (info.kind === 'data' && info.index === 50) sim.unplug();
      return PASS;
    };
    await expect(driver.uploadImage()).rejects.toBeInstanceOf(DeviceTimeoutError);
    sim.faults.reply = undefined;
    await sim.plugIn();
    expect(await driver.templateCount()).toBe(0);
  });

  it('USB adapter pulled mid-transfer -> TransportError DISCONNECTED, then every call fails fast', async () => {
    const { sim, driver, host } = await rig({}, FAST);
    sim.placeFinger('ola');
    await driver.captureImage();
    sim.faults.reply = (_b, info) => {
      if (info.kind === 'data' && info.index === 50) host.unplug();
      return PASS;
    };
    const err = await driver.uploadImage().catch((e) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err.code).toBe('DISCONNECTED');
    await expect(driver.templateCount()).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('bad input is a ValidationError before anything is sent', async () => {
    const { driver } = await rig({}, FAST);
    await expect(driver.storeModel(70000)).rejects.toMatchObject({ code: 'INVALID' });
    await expect(driver.imageToTemplate(3 as 1)).rejects.toMatchObject({ code: 'INVALID' });
    await expect(driver.downloadTemplate(new Uint8Array(10))).rejects.toMatchObject({ code: 'INVALID' });
    await expect(driver.setBaudRate(12345)).rejects.toMatchObject({ code: 'INVALID' });
    await expect(driver.writeNotepad(16, new Uint8Array(1))).rejects.toMatchObject({ code: 'INVALID' });
    expect(await driver.templateCount()).toBe(0);
  });
});
