import { describe, expect, it } from 'vitest';
import {
  BOOT_REPORT_LENGTH,
  DEFAULT_KEYMAP,
  encodeBootReport,
  KeyEdgeDetector,
  keyForUsage,
  MODIFIER,
  PinPadReportError,
  parseBootReport,
  USAGE,
  usageForKey,
} from '../../src/pinpad';

const r = (...bytes: number[]) => Uint8Array.from(bytes);

describe('parseBootReport (literal 8-byte reports, reference §6.3)', () => {
  it('parses keypad 5 down and the all-zero release', () => {
    expect(parseBootReport(r(0x00, 0x00, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x00))).toEqual({
      modifiers: 0,
      reserved: 0,
      keys: [0x5d],
      rollover: false,
    });
    expect(parseBootReport(r(0, 0, 0, 0, 0, 0, 0, 0))).toEqual({ modifiers: 0, reserved: 0, keys: [], rollover: false });
  });

  it('keeps modifiers and the reserved byte, slot order, skips empty slots and duplicates', () => {
    const p = parseBootReport(r(MODIFIER.LEFT_SHIFT | MODIFIER.RIGHT_GUI, 0x7f, 0x1e, 0x00, 0x62, 0x1e, 0x58, 0x00));
    expect(p).toEqual({ modifiers: 0x82, reserved: 0x7f, keys: [0x1e, 0x62, 0x58], rollover: false });
  });

  it('six keys held fill every slot', () => {
    expect(parseBootReport(r(0, 0, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e)).keys).toEqual([0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e]);
  });

  it('phantom state: ErrorRollOver in the slots -> rollover, no keys, modifiers still valid', () => {
    expect(parseBootReport(r(0x01, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01))).toEqual({
      modifiers: 0x01,
      reserved: 0,
      keys: [],
      rollover: true,
    });
    expect(parseBootReport(r(0, 0, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02)).rollover).toBe(true);
    expect(parseBootReport(r(0, 0, 0x5d, 0x03, 0, 0, 0, 0))).toMatchObject({ keys: [], rollover: true });
  });

  it('numbered reports: 9 bytes, report ID first', () => {
    expect(parseBootReport(r(0x01, 0x00, 0x00, 0x58, 0, 0, 0, 0, 0), { reportId: 1 }).keys).toEqual([USAGE.KP_ENTER]);
  });

  it('wrong length or report ID -> PinPadReportError with lengths only, never the bytes', () => {
    const secret = r(0, 0, 0x5d, 0x5e, 0x5f, 0, 0);
    const e = (() => {
      try {
        parseBootReport(secret);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(PinPadReportError);
    expect(e).toMatchObject({ code: 'PINPAD_REPORT', details: { length: 7, expectedLength: 8 } });
    expect(JSON.stringify(e) + String((e as Error).stack)).not.toMatch(/93|94|95|5d|5e|5f/i);
    expect(() => parseBootReport(new Uint8Array(0))).toThrow(PinPadReportError);
    expect(() => parseBootReport(new Uint8Array(9))).toThrow(/9 bytes/);
    expect(() => parseBootReport(new Uint8Array(8), { reportId: 1 })).toThrow(/has 9/);
    expect(() => parseBootReport(r(2, 0, 0, 0x58, 0, 0, 0, 0, 0), { reportId: 1 })).toThrow(/report ID 2/);
  });
});

describe('key map', () => {
  it('maps keypad 0x59..0x62 and top row 0x1e..0x27 to digits', () => {
    const digits = (from: number) => Array.from({ length: 10 }, (_, i) => keyForUsage(from + i)).join('');
    expect(digits(0x59)).toBe('1234567890');
    expect(digits(0x1e)).toBe('1234567890');
  });

  it('maps Enter, KP Enter, Escape, Backspace, KP Backspace, Delete, KP Del; ignores Num Lock and operators', () => {
    expect(keyForUsage(0x28)).toBe('enter');
    expect(keyForUsage(0x58)).toBe('enter');
    expect(keyForUsage(0x29)).toBe('cancel');
    expect(keyForUsage(0x2a)).toBe('backspace');
    expect(keyForUsage(0xbb)).toBe('backspace');
    expect(keyForUsage(0x4c)).toBe('backspace');
    expect(keyForUsage(0x63)).toBe('backspace');
    for (const u of [0x53, 0x54, 0x55, 0x56, 0x57, 0x04, 0x2b, 0xff]) expect(keyForUsage(u)).toBeUndefined();
    expect(DEFAULT_KEYMAP.get(0x53)).toBeNull();
  });

  it('usageForKey is the inverse of the map for both layouts', () => {
    for (const layout of ['keypad', 'toprow'] as const)
      for (const k of ['0', '1', '5', '9', 'enter', 'backspace', 'cancel'] as const)
        expect(keyForUsage(usageForKey(k, layout))).toBe(k);
    expect(usageForKey('0')).toBe(0x62);
    expect(usageForKey('1', 'toprow')).toBe(0x1e);
    expect(usageForKey('enter', 'toprow')).toBe(0x28);
  });
});

describe('encodeBootReport', () => {
  it('builds the literal reports the parser reads', () => {
    expect(encodeBootReport({ keys: [0x5d] })).toEqual(r(0, 0, 0x5d, 0, 0, 0, 0, 0));
    expect(encodeBootReport({ keys: [] })).toEqual(new Uint8Array(BOOT_REPORT_LENGTH));
    expect(encodeBootReport({ modifiers: 0x02, keys: [0x1e, 0x1f] })).toEqual(r(0x02, 0, 0x1e, 0x1f, 0, 0, 0, 0));
    expect(encodeBootReport({ keys: [1, 2, 3, 4, 5, 6, 7].map((i) => 0x58 + i) })).toEqual(r(0, 0, 1, 1, 1, 1, 1, 1));
    expect(encodeBootReport({ keys: [0x58], reportId: 1 })).toEqual(r(1, 0, 0, 0x58, 0, 0, 0, 0, 0));
  });
});

describe('KeyEdgeDetector', () => {
  const feed = (d: KeyEdgeDetector, ...bytes: number[]) => d.next(parseBootReport(r(...bytes)));

  it('reports a key-down once while held, and the release', () => {
    const d = new KeyEdgeDetector();
    expect(feed(d, 0, 0, 0x5d, 0, 0, 0, 0, 0)).toEqual({ down: [0x5d], up: [] });
    expect(feed(d, 0, 0, 0x5d, 0, 0, 0, 0, 0)).toEqual({ down: [], up: [] });
    expect(feed(d, 0, 0, 0, 0, 0, 0, 0, 0)).toEqual({ down: [], up: [0x5d] });
  });

  it('rolling keys: a new key in another slot is a down, a key moving slots is not', () => {
    const d = new KeyEdgeDetector();
    feed(d, 0, 0, 0x59, 0, 0, 0, 0, 0);
    expect(feed(d, 0, 0, 0x59, 0x5a, 0, 0, 0, 0)).toEqual({ down: [0x5a], up: [] });
    expect(feed(d, 0, 0, 0x5a, 0, 0, 0, 0, 0)).toEqual({ down: [], up: [0x59] });
    expect(feed(d, 0, 0, 0x5b, 0x5a, 0, 0, 0, 0)).toEqual({ down: [0x5b], up: [] });
  });

  it('phantom state keeps the held keys: no spurious release or repeated press', () => {
    const d = new KeyEdgeDetector();
    feed(d, 0, 0, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e);
    expect(feed(d, 0, 0, 1, 1, 1, 1, 1, 1)).toEqual({ down: [], up: [] });
    expect(d.pressed).toEqual([0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e]);
    expect(feed(d, 0, 0, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f)).toEqual({ down: [0x5f], up: [0x59] });
  });
});
