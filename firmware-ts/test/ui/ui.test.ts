import { ValidationError } from '@handset/device-drivers/core';
import { createSimEinkRig } from '@handset/device-drivers/ssd1680';
import { describe, expect, it } from 'vitest';
import {
  ELLIPSIS,
  fitText,
  formatMoney,
  glyph,
  glyphCount,
  layoutQr,
  measureText,
  QrDoesNotFitError,
  renderScreen,
  SAMPLE_SCREENS,
  ScreenPresenter,
  wrap,
} from '../../src/ui';
import { decodeJsQr, decodeZbar } from './decode';

describe('bundled font and text', () => {
  it('has Latin, CJK, Hangul and kana glyphs at 8/16 px', () => {
    expect(glyphCount()).toBeGreaterThan(30_000);
    expect(glyph('A'.codePointAt(0) ?? 0)?.width).toBe(8);
    for (const ch of ['中', '店', '한', 'カ', '€', 'é']) expect(glyph(ch.codePointAt(0) ?? 0), ch).toBeDefined();
    expect(glyph('中'.codePointAt(0) ?? 0)?.width).toBe(16);
    expect(measureText('AB中')).toBe(32);
    expect(measureText('AB', 2)).toBe(32);
  });

  it('truncates text wider than the box with an ellipsis, never wider than the box', () => {
    const long = 'The Extraordinarily Long Named Bakery';
    const f = fitText(long, 100);
    expect(f.truncated).toBe(true);
    expect(f.text.endsWith(ELLIPSIS)).toBe(true);
    expect(measureText(f.text)).toBeLessThanOrEqual(100);
    const cjk = fitText('北京烤鸭店王府井分店', 70);
    expect(cjk.text).toBe(`北京烤${ELLIPSIS}`);
    expect(fitText('short', 100)).toEqual({ text: 'short', truncated: false });
    expect(measureText('a\u0007b\u0000')).toBe(16); // controls dropped
  });

  it('wraps words into lines', () => {
    expect(wrap('one two three four', 72, 5)).toEqual(['one two', 'three', 'four']);
  });
});

describe('money on screen', () => {
  it('formats minor units with the ISO 4217 exponent, grouped, no floats', () => {
    expect(formatMoney({ minor: 123450n, currency: 'EUR' }).text).toBe('EUR 1,234.50');
    expect(formatMoney({ minor: 1500n, currency: 'JPY' }).text).toBe('JPY 1,500');
    expect(formatMoney({ minor: 12345n, currency: 'BHD' }).text).toBe('BHD 12.345');
    expect(formatMoney({ minor: 5n, currency: '156' }).text).toBe('CNY 0.05');
    expect(formatMoney({ minor: 999_999_999_999n, currency: 'USD' }).amount).toBe('9,999,999,999.99');
    expect(() => formatMoney({ minor: 1n, currency: 'XXX' })).toThrow(ValidationError);
    expect(() => formatMoney({ minor: -1n, currency: 'EUR' })).toThrow(ValidationError);
  });
});

describe('QR layout for the 122-px panel', () => {
  it('a 20-digit pay code is version 1 at 4 px/module with the highest EC level that keeps it', () => {
    const q = layoutQr('91234567890123456785', 122);
    expect(q).toMatchObject({ version: 1, ecLevel: 'Q', modulePx: 4, quietModules: 4, sizePx: 116 });
  });

  it('longer payloads fall back to smaller modules and lower EC, down to 3 px', () => {
    const url = 'https://pay.example/c/9123456789012345678501234';
    const q = layoutQr(url, 122);
    expect(q.modulePx).toBe(3);
    expect(q.sizePx).toBeLessThanOrEqual(122);
    expect(q.version).toBeLessThanOrEqual(3);
  });

  it('refuses payloads that cannot be scanned at >= 3 px/module with a typed error', () => {
    expect(() => layoutQr('x'.repeat(60), 122)).toThrow(QrDoesNotFitError);
    const err = (() => {
      try {
        layoutQr('x'.repeat(300), 122);
      } catch (e) {
        return e as QrDoesNotFitError;
      }
    })();
    expect(err?.code).toBe('QR_DOES_NOT_FIT');
    expect(err).toBeInstanceOf(ValidationError);
    expect(() => layoutQr('', 122)).toThrow(QrDoesNotFitError);
    expect(() => renderScreen({ kind: 'paycode', payload: 'y'.repeat(100), secondsLeft: 60 })).toThrow(QrDoesNotFitError);
  });
});

describe('screens through the driver into the simulated panel', () => {
  it('every sample screen renders, has ink, and keeps text inside the panel', async () => {
    const rig = await createSimEinkRig({ rotation: 90, record: false });
    const ui = new ScreenPresenter(rig.display);
    for (const { name, screen } of SAMPLE_SCREENS) {
      const frame = renderScreen(screen);
      expect([frame.width, frame.height], name).toEqual([250, 122]);
      expect(frame.inkCount(), name).toBeGreaterThan(200);
      await ui.show(screen, { mode: 'full' });
      expect(rig.panel.pixels().equals(frame), name).toBe(true);
    }
    expect(rig.panel.faultsOf()).toEqual([]);
    await rig.close();
  });

  it('decodes every QR screen back from the panel snapshot with jsQR and zbarimg', async () => {
    const payloads = [
      '91234567890123456785',
      '90000000010000000007',
      'https://pay.example/c/9123456789012345678501234',
      'HANDSET:TOKEN:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123',
    ];
    const rig = await createSimEinkRig({ rotation: 90, record: false });
    const ui = new ScreenPresenter(rig.display);
    for (const payload of payloads) {
      await ui.show({ kind: 'paycode', payload, secondsLeft: 42, amount: { minor: 4200n, currency: 'SGD' } });
      const png = await rig.panel.snapshot();
      expect(await decodeJsQr(png), payload).toBe(payload);
      expect(await decodeZbar(png), payload).toBe(payload);
    }
    // the sample gallery's QR screens too
    for (const { name, screen } of SAMPLE_SCREENS.filter((s) => s.screen.kind === 'paycode')) {
      await ui.show(screen);
      const png = await rig.panel.snapshot();
      const want = (screen as { payload: string }).payload;
      expect(await decodeJsQr(png), name).toBe(want);
      expect(await decodeZbar(png), name).toBe(want);
    }
    await rig.close();
  });
});
