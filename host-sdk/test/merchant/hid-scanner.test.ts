import { CanceledError, HandsetError } from '@handset/device-drivers/core';
import { SimHidDevice } from '@handset/device-drivers/transport';
import { describe, expect, it } from 'vitest';
import { HID_USAGE, HidReportError, KeyboardLineDecoder, keyboardReportsFor, scanLines } from '../../src/merchant/hid-scanner';

const r = (...bytes: number[]) => Uint8Array.from([...bytes, ...new Array(8 - bytes.length).fill(0)]);

describe('KeyboardLineDecoder', () => {
  it('decodes press/release reports of a scanned pay code ending in Enter', () => {
    const d = new KeyboardLineDecoder();
    const lines = keyboardReportsFor('281234567890123456').flatMap((rep) => d.push(rep));
    expect(lines).toEqual(['281234567890123456']);
    expect(d.pending).toBe('');
  });

  it('a repeated digit needs a release in between (held keys do not repeat)', () => {
    const d = new KeyboardLineDecoder();
    const one = HID_USAGE.DIGIT_1;
    const out = [r(0, 0, one), r(0, 0, one), r(), r(0, 0, one), r(), r(0, 0, HID_USAGE.ENTER), r()].flatMap((x) => d.push(x));
    expect(out).toEqual(['11']);
  });

  it('handles rollover (two keys in one report, new key added while one is held) and keypad digits', () => {
    const d = new KeyboardLineDecoder();
    const out = [
      r(0, 0, HID_USAGE.DIGIT_1 + 1, HID_USAGE.DIGIT_1 + 2), // "2","3" in one report
      r(0, 0, HID_USAGE.DIGIT_1 + 2, HID_USAGE.KP_1 + 3), // "3" still held, keypad "4" new
      r(),
      r(0, 0, HID_USAGE.KP_0),
      r(0, 0, HID_USAGE.KP_ENTER),
    ].flatMap((x) => d.push(x));
    expect(out).toEqual(['2340']);
  });

  it('skips ErrorRollOver reports, honours shift, backspace and escape', () => {
    const d = new KeyboardLineDecoder();
    d.push(r(0, 0, 1, 1, 1, 1, 1, 1));
    d.push(r(0x02, 0, HID_USAGE.A));
    d.push(r());
    d.push(r(0, 0, HID_USAGE.BACKSPACE));
    d.push(r());
    d.push(r(0, 0, HID_USAGE.ESCAPE));
    d.push(r());
    expect(d.pending).toBe('');
    d.push(r(0x20, 0, HID_USAGE.A + 1));
    expect(d.pending).toBe('B');
  });

  it('a bad report is a typed error and does not disturb the line', () => {
    const d = new KeyboardLineDecoder();
    d.push(r(0, 0, HID_USAGE.DIGIT_1));
    expect(() => d.push(Uint8Array.of(1, 2, 3))).toThrow(HidReportError);
    d.push(r());
    expect(d.push(r(0, 0, HID_USAGE.ENTER))).toEqual(['1']);
  });

  it('strips a report id and rejects a wrong one', () => {
    const d = new KeyboardLineDecoder({ reportId: 1 });
    expect(() => d.push(Uint8Array.of(2, ...r(0, 0, HID_USAGE.DIGIT_1)))).toThrow(HidReportError);
    d.push(Uint8Array.of(1, ...r(0, 0, HID_USAGE.DIGIT_1)));
    expect(d.pending).toBe('1');
  });

  it('drops an overlong line instead of growing without bound', () => {
    const d = new KeyboardLineDecoder({ maxLineLength: 4 });
    expect(keyboardReportsFor('123456').flatMap((x) => d.push(x))).toEqual([]);
    expect(keyboardReportsFor('1234').flatMap((x) => d.push(x))).toEqual(['1234']);
  });
});

describe('scanLines over a simulated HID scanner', () => {
  it('yields scanned lines, reports glitches, and ends with a typed error on unplug', async () => {
    const dev = new SimHidDevice({ product: 'Sim barcode scanner' });
    const errors: HandsetError[] = [];
    const it = scanLines(dev, { onError: (e) => errors.push(e) });
    const first = it.next();
    await new Promise((res) => setTimeout(res, 5));
    for (const rep of keyboardReportsFor('1234')) dev.sendReport(rep);
    dev.sendReport([1, 2, 3]);
    for (const rep of keyboardReportsFor('5678')) dev.sendReport(rep);
    expect((await first).value).toBe('1234');
    expect((await it.next()).value).toBe('5678');
    expect(errors.map((e) => e.code)).toEqual(['HID_REPORT']);
    const next = it.next();
    dev.unplug();
    await expect(next).rejects.toBeInstanceOf(HandsetError);
  });

  it('stops with CanceledError when aborted', async () => {
    const dev = new SimHidDevice();
    const ac = new AbortController();
    const it = scanLines(dev, { signal: ac.signal });
    const p = it.next();
    await new Promise((res) => setTimeout(res, 5));
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(CanceledError);
  });
});
