import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core';
import { createSimEinkRig, MonoBitmap, type SimEinkRig } from '../../src/ssd1680';
import { picture } from './helpers';

/** Raw command writer on the rig's bus, for sequences the real driver would never send. */
function raw(rig: SimEinkRig) {
  return async (cmd: number, ...data: number[]) => {
    await rig.lines.dc.write(0);
    await rig.spi.write(Uint8Array.of(cmd));
    if (data.length) {
      await rig.lines.dc.write(1);
      await rig.spi.write(Uint8Array.from(data));
    }
  };
}

describe('Ssd1680Sim', () => {
  it('a stale previous plane (upstream Waveshare V4 partial: 0x24 only) leaves visible wrong pixels', async () => {
    const rig = await createSimEinkRig();
    const a = picture(122, 250);
    await rig.display.update(a);
    const b = a.clone();
    b.fillRect(60, 120, 40, 40); // black square
    await rig.display.update(b); // correct partial
    expect(rig.panel.mismatchPixels()).toBe(0);

    // Upstream bug: next partial writes only 0x24 (whole frame) - 0x26 still holds frame `a`.
    const c = a.clone(); // square removed again
    const send = raw(rig);
    const plane = rig.display.pack(c);
    await send(0x44, 0x00, 0x0f);
    await send(0x45, 0, 0, 0xf9, 0);
    await send(0x4e, 0);
    await send(0x4f, 0, 0);
    await send(0x24, ...plane);
    await send(0x22, 0xff);
    await send(0x20);
    await rig.lines.busy.waitFor(0, 10_000);
    // old (a) == new (c) inside the square -> not driven: the square stays black on the glass
    expect(rig.panel.mismatchPixels()).toBe(40 * 40);
    expect(rig.panel.pixels().equals(c)).toBe(false);
    expect(rig.panel.pixels().equals(b)).toBe(true);

    // the real driver does not know the glass changed behind it; a full refresh heals it
    await rig.display.update(c, { mode: 'full' });
    expect(rig.panel.mismatchPixels()).toBe(0);
    await rig.close();
  });

  it('records unknown commands, short parameters, writes while BUSY, partial before full', async () => {
    const clock = new ManualClock();
    const rig = await createSimEinkRig({ clock });
    await rig.display.init();
    clock.autoAdvance = false;
    const send = raw(rig);
    await send(0x99);
    await send(0x44, 0x00); // needs 2
    await send(0x4e, 0);
    expect(rig.panel.faultsOf().map((f) => f.code)).toEqual(['UNKNOWN_COMMAND', 'SHORT_PARAMS']);
    await send(0x22, 0xff);
    await send(0x20); // mode 2 straight after reset
    expect(rig.panel.busy).toBe(true);
    await send(0x24, 0x00); // while busy
    clock.advance(454);
    expect(rig.panel.busy).toBe(true);
    clock.advance(1);
    expect(rig.panel.busy).toBe(false);
    expect(rig.panel.faultsOf().map((f) => f.code)).toEqual([
      'UNKNOWN_COMMAND',
      'SHORT_PARAMS',
      'PARTIAL_BEFORE_FULL',
      'WRITE_WHILE_BUSY',
      'WRITE_WHILE_BUSY',
    ]);
    await rig.close();
  });

  it('deep sleep ignores bytes until a hardware reset', async () => {
    const rig = await createSimEinkRig();
    await rig.display.update(picture(122, 250));
    await rig.display.sleep();
    const send = raw(rig);
    await send(0x12);
    expect(rig.panel.faultsOf('WRITE_WHILE_ASLEEP')).toHaveLength(1);
    await rig.close();
  });

  it('honours data entry modes: X-/Y- fills a window from its far corner', async () => {
    const rig = await createSimEinkRig();
    await rig.display.init();
    const send = raw(rig);
    // window bytes 1..2, rows 10..11, mode 0x00 (X dec, Y dec): start at (2, 11)
    await send(0x11, 0x00);
    await send(0x44, 2, 1);
    await send(0x45, 11, 0, 10, 0);
    await send(0x4e, 2);
    await send(0x4f, 11, 0);
    await send(0x24, 0xa1, 0xa2, 0xa3, 0xa4);
    const at = (x: number, y: number) => rig.panel.bw[y * 22 + x];
    expect([at(2, 11), at(1, 11), at(2, 10), at(1, 10)]).toEqual([0xa1, 0xa2, 0xa3, 0xa4]);
    // mode 0x07 (X inc, Y inc, Y first): column-major fill
    await send(0x11, 0x07);
    await send(0x44, 4, 5);
    await send(0x45, 20, 0, 21, 0);
    await send(0x4e, 4);
    await send(0x4f, 20, 0);
    await send(0x24, 1, 2, 3, 4);
    expect([at(4, 20), at(4, 21), at(5, 20), at(5, 21)]).toEqual([1, 2, 3, 4]);
    await rig.close();
  });

  it('shows nothing until 0x20 and snapshots a PNG of the glass', async () => {
    const rig = await createSimEinkRig({ rotation: 90 });
    await rig.display.init();
    const send = raw(rig);
    await send(0x24, ...new Uint8Array(4000)); // all black into RAM
    expect(rig.panel.pixels().inkCount()).toBe(0);
    const { default: sharp } = await import('sharp');
    const png = await rig.panel.snapshot({ scale: 2 });
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([500, 244]);
    expect(new MonoBitmap(1, 1).inkCount()).toBe(0);
    await rig.close();
  });
});
