import { expect, describe as group, it } from 'vitest';
import { DeviceTimeoutError, ManualClock, TransportError } from '../../src/core';
import {
  createSimEinkRig,
  EinkBusError,
  EinkBusyTimeoutError,
  EinkInputError,
  LUT_BLOCK_BYTES,
  MonoBitmap,
} from '../../src/ssd1680';
import { once, PASS } from '../../src/transport/sim/fault';
import { commands, describe, picture } from './helpers';

const INIT = ['12', '01 F9 00 00', '11 03', '44 00 0F', '45 00 00 F9 00', '4E 00', '4F 00 00', '3C 05', '21 00 80', '18 80'];
const FULL = [
  '44 00 0F',
  '45 00 00 F9 00',
  '4E 00',
  '4F 00 00',
  '24 <4000 B>',
  '4E 00',
  '4F 00 00',
  '26 <4000 B>',
  '22 F7',
  '20',
];

group('Ssd1680 driver against the simulated panel', () => {
  it('init is byte-exact to the reference, with the 20/2/20 ms reset pulse and BUSY waits', async () => {
    const rig = await createSimEinkRig();
    await rig.display.init();
    expect(describe(commands(rig.spi.recording))).toEqual(INIT);
    const rst = rig.gpio.line('pinctrl-bcm2711', 17).hostWrites;
    const pulse = rst.slice(-2);
    expect(pulse.map((c) => c.level)).toEqual([0, 1]);
    expect((pulse[1]?.atMs ?? 0) - (pulse[0]?.atMs ?? 0)).toBe(2);
    expect(rig.panel.faultsOf()).toEqual([]);
    await rig.close();
  });

  it('a full refresh writes both planes, F7, and the glass shows the frame after 3.5 s of BUSY', async () => {
    const rig = await createSimEinkRig();
    const frame = picture(122, 250);
    const info = await rig.display.update(frame);
    expect(info).toMatchObject({ kind: 'full', reason: 'first', busyMs: 10 + 3500 }); // SW reset + refresh
    expect(rig.panel.stats.busyMs).toBe(5 + 10 + 3500);
    expect(describe(commands(rig.spi.recording))).toEqual([...INIT, ...FULL]);
    expect(rig.panel.pixels().equals(frame)).toBe(true);
    expect(rig.panel.mismatchPixels()).toBe(0);
    expect(rig.panel.stats.refreshes).toEqual({ full: 1, fast: 0, partial: 0 });
    expect(rig.panel.faultsOf()).toEqual([]);
    await rig.close();
  });

  it('a partial refresh sends only the 8-px aligned changed window, old plane first', async () => {
    const rig = await createSimEinkRig();
    const a = picture(122, 250);
    await rig.display.update(a);
    rig.spi.resetStats();
    const b = a.clone();
    b.fillRect(19, 100, 5, 3); // x 19..23 -> bytes 2..2, rows 100..102
    const info = await rig.display.update(b);
    expect(info).toMatchObject({ kind: 'partial', window: { x: 16, y: 100, w: 8, h: 3 }, busyMs: 455 });
    const seq = describe(commands(rig.spi.recording));
    expect(seq).toEqual([
      '3C 80',
      '44 02 02',
      '45 64 00 66 00',
      '4E 02',
      '4F 64 00',
      '26 FF FF FF',
      '4E 02',
      '4F 64 00',
      '24 E0 E0 E0',
      '22 FF',
      '20',
    ]);
    expect(info.bytes).toBe(rig.spi.stats.bytesSent);
    expect(rig.panel.pixels().equals(b)).toBe(true);
    expect(rig.panel.mismatchPixels()).toBe(0);
    await rig.close();
  });

  it('two distant changes go out as two RAM windows under one activation', async () => {
    const rig = await createSimEinkRig();
    const a = picture(122, 250);
    await rig.display.update(a);
    rig.spi.resetStats();
    const b = a.clone();
    b.fillRect(100, 10, 8, 4);
    b.fillRect(8, 230, 8, 4);
    const info = await rig.display.update(b);
    expect(info.windows).toEqual([
      { x: 96, y: 10, w: 16, h: 4 },
      { x: 8, y: 230, w: 8, h: 4 },
    ]);
    const seq = describe(commands(rig.spi.recording));
    expect(seq.filter((c) => c.startsWith('26'))).toHaveLength(2);
    expect(seq.filter((c) => c === '20')).toHaveLength(1);
    expect(info.bytes).toBeLessThan(120);
    expect(rig.panel.pixels().equals(b)).toBe(true);
    // the next partial rewrites the old plane where it is stale (both earlier windows)
    const c = b.clone();
    c.fillRect(60, 120, 8, 2);
    const next = await rig.display.update(c);
    expect(next.windows).toHaveLength(3);
    expect(rig.panel.pixels().equals(c)).toBe(true);
    expect(rig.panel.mismatchPixels()).toBe(0);
    await rig.close();
  });

  it('an unchanged frame sends nothing', async () => {
    const rig = await createSimEinkRig();
    const a = picture(122, 250);
    await rig.display.update(a);
    rig.spi.resetStats();
    expect(await rig.display.update(a.clone())).toMatchObject({ kind: 'none', bytes: 0 });
    expect(rig.spi.stats.bytesSent).toBe(0);
    await rig.close();
  });

  it('forces a full refresh after 5 partials, and no ghost accumulates on the glass', async () => {
    const rig = await createSimEinkRig();
    const frame = picture(122, 250);
    await rig.display.update(frame);
    const kinds: string[] = [];
    for (let i = 0; i < 12; i++) {
      frame.fillRect(30, 60 + i * 8, 20, 6, i % 2 === 0);
      frame.fillRect(70, 60, 8, 8 + i, 1);
      const info = await rig.display.update(frame);
      kinds.push(info.reason ? `${info.kind}:${info.reason}` : info.kind);
      expect(rig.panel.pixels().equals(frame)).toBe(true);
      expect(rig.panel.mismatchPixels()).toBe(0);
    }
    expect(kinds).toEqual([
      'partial',
      'partial',
      'partial',
      'partial',
      'partial',
      'full:limit',
      'partial',
      'partial',
      'partial',
      'partial',
      'partial',
      'full:limit',
    ]);
    expect(rig.panel.faultsOf()).toEqual([]);
    await rig.close();
  });

  it('sleep sends 10 01; the next update wakes by hardware reset and refreshes fully', async () => {
    const rig = await createSimEinkRig();
    const a = picture(122, 250);
    await rig.display.update(a);
    rig.spi.resetStats();
    await rig.display.sleep();
    expect(describe(commands(rig.spi.recording))).toEqual(['10 01']);
    expect(rig.panel.sleeping).toBe(true);
    rig.spi.resetStats();
    const b = a.clone();
    b.fillRect(40, 40, 10, 10);
    const info = await rig.display.update(b);
    expect(info).toMatchObject({ kind: 'full', reason: 'wake' });
    expect(describe(commands(rig.spi.recording))).toEqual([...INIT, ...FULL]);
    expect(rig.panel.pixels().equals(b)).toBe(true);
    expect(rig.display.stats.wakes).toBe(1);
    expect(rig.panel.faultsOf()).toEqual([]);
    await rig.close();
  });

  it('fast refresh runs the V4 init_fast loads and C7', async () => {
    const rig = await createSimEinkRig();
    const a = picture(122, 250);
    const info = await rig.display.update(a, { mode: 'fast' });
    expect(info.kind).toBe('fast');
    const seq = describe(commands(rig.spi.recording));
    expect(seq.slice(-16)).toEqual(['18 80', '22 B1', '20', '1A 64 00', '22 91', '20', ...FULL.slice(0, 8), '22 C7', '20']);
    expect(rig.panel.stats.refreshes).toEqual({ full: 0, fast: 1, partial: 0 });
    expect(rig.panel.pixels().equals(a)).toBe(true);
    await rig.close();
  });

  it('rotation 90 maps a landscape frame onto the portrait panel', async () => {
    const rig = await createSimEinkRig({ rotation: 90 });
    expect([rig.display.width, rig.display.height]).toEqual([250, 122]);
    const a = picture(250, 122);
    a.set(0, 0);
    await rig.display.update(a);
    expect(rig.panel.pixels(90).equals(a)).toBe(true);
    expect(rig.panel.pixels(0).get(0, 249)).toBe(1);
    await expect(rig.display.update(new MonoBitmap(122, 250))).rejects.toBeInstanceOf(EinkInputError);
    await rig.close();
  });

  it('BUSY stuck high -> EinkBusyTimeoutError (a DeviceTimeoutError); the next update recovers with a full refresh', async () => {
    const rig = await createSimEinkRig({ driver: { busyTimeoutMs: 10_000 } });
    const a = picture(122, 250);
    await rig.display.update(a);
    const b = a.clone();
    b.fillRect(50, 50, 20, 20);
    rig.panel.faults.busy = once((p) => (p.kind === 'update' ? Number.POSITIVE_INFINITY : PASS));
    const err = await rig.display.update(b).catch((e) => e);
    expect(err).toBeInstanceOf(EinkBusyTimeoutError);
    expect(err).toBeInstanceOf(DeviceTimeoutError);
    expect(err.code).toBe('DEVICE_TIMEOUT');
    expect(rig.display.shown).toBeUndefined();
    const c = b.clone();
    c.fillRect(80, 80, 10, 10);
    const info = await rig.display.update(c);
    expect(info).toMatchObject({ kind: 'full', reason: 'recover' });
    expect(rig.panel.pixels().equals(c)).toBe(true);
    expect(rig.display.stats.errors).toBe(1);
    await rig.close();
  });

  it('an SPI failure mid-frame -> EinkBusError, the glass keeps the old image, the next update is full', async () => {
    const rig = await createSimEinkRig({ driver: { maxChunk: 1000 } });
    const a = picture(122, 250);
    await rig.display.update(a);
    const b = a.clone();
    b.fillRect(0, 0, 122, 200); // big change: several chunks
    let calls = 0;
    rig.spi.faults.transfer = (tx) => {
      if (tx.length === 1000 && ++calls === 2) throw new TransportError('EIO', { code: 'SPI_WRITE' });
      return PASS;
    };
    const err = await rig.display.update(b, { mode: 'full' }).catch((e) => e);
    expect(err).toBeInstanceOf(EinkBusError);
    expect(err.cause).toBeInstanceOf(TransportError);
    rig.spi.faults.transfer = undefined;
    expect(rig.panel.pixels().equals(a)).toBe(true); // never activated half-written
    expect(rig.display.shown?.equals(a)).toBe(true);
    const info = await rig.display.update(b);
    expect(info).toMatchObject({ kind: 'full', reason: 'recover' });
    expect(rig.panel.pixels().equals(b)).toBe(true);
    await rig.close();
  });

  it('2.9" frames (4,736 B) are split into SPI writes of at most 4,096 B; partial needs a LUT', async () => {
    const rig = await createSimEinkRig({ panel: '2in9' });
    const a = picture(128, 296);
    await rig.display.update(a);
    const sizes = rig.spi.recording.filter((r) => r.dc === 1).map((r) => r.tx.length);
    expect(Math.max(...sizes)).toBe(4096);
    expect(sizes.filter((s) => s === 640)).toHaveLength(2);
    const b = a.clone();
    b.fillRect(60, 100, 8, 8);
    expect(await rig.display.update(b)).toMatchObject({ kind: 'full', reason: 'no-partial-waveform' });
    await rig.close();

    const lut = new Uint8Array(LUT_BLOCK_BYTES).fill(0x11);
    const rig2 = await createSimEinkRig({ panel: '2in9', driver: { partialLut: lut } });
    await rig2.display.update(a);
    expect(await rig2.display.update(b)).toMatchObject({ kind: 'partial' });
    const seq = describe(commands(rig2.spi.recording));
    expect(seq).toContain('32 <153 B>');
    expect(seq.slice(-2)).toEqual(['22 0F', '20']);
    expect(rig2.panel.pixels().equals(b)).toBe(true);
    expect(rig2.panel.faultsOf()).toEqual([]);
    await rig2.close();
  });

  it('works on the wall clock too (short real BUSY times)', async () => {
    const { systemClock } = await import('../../src/core');
    const rig = await createSimEinkRig({ clock: systemClock });
    rig.panel.faults.busy = (p) => Math.min(p.durationMs, 5);
    const a = picture(122, 250);
    await rig.display.update(a);
    expect(rig.panel.pixels().equals(a)).toBe(true);
    expect(rig.panel.faultsOf()).toEqual([]);
    await rig.close();
  });
});

group('ManualClock usage', () => {
  it('busy time is virtual', async () => {
    const clock = new ManualClock();
    const rig = await createSimEinkRig({ clock });
    const t0 = performance.now();
    await rig.display.update(picture(122, 250));
    expect(clock.monotonic()).toBeGreaterThanOrEqual(3500);
    expect(performance.now() - t0).toBeLessThan(2000);
    await rig.close();
  });
});
