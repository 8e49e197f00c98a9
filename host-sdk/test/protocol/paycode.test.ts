import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import {
  dammCheckDigit,
  dammValid,
  generatePaycode,
  nodeCrypto,
  PAYCODE_LENGTH,
  PaycodeError,
  parsePaycode,
  paycodeGuessProbability,
  paycodeIndex,
  paycodeStep,
  verifyPaycode,
} from '../../src/protocol/index';

const seed = new Uint8Array(32).fill(7);
const index = paycodeIndex(42);
const T0 = 1_700_000_000_000;

describe('pay codes', () => {
  it('have a fixed value for a fixed seed and time (committed vector)', () => {
    const p = generatePaycode(nodeCrypto, { seed, index, nowMs: T0 });
    expect(p.code).toBe('90000000042947468077');
    expect(p.code).toHaveLength(PAYCODE_LENGTH);
    expect(p.validUntilMs - p.validFromMs).toBe(60_000);
    expect(parsePaycode(p.code)).toEqual({ version: '9', index: '0000000042', otp: '94746807' });
  });

  it('are accepted for at most 60 s after the step starts, and refused before', () => {
    const p = generatePaycode(nodeCrypto, { seed, index, nowMs: T0 });
    for (let t = p.validFromMs; t < p.validUntilMs; t += 1000) {
      const v = verifyPaycode(nodeCrypto, p.code, { seed, nowMs: t });
      expect(v.ok, `t+${t - p.validFromMs}`).toBe(true);
      if (v.ok) expect(v.step).toBe(p.step);
    }
    expect(verifyPaycode(nodeCrypto, p.code, { seed, nowMs: p.validUntilMs }).ok).toBe(false);
    expect(verifyPaycode(nodeCrypto, p.code, { seed, nowMs: p.validFromMs - 15_001 }).ok).toBe(false);
    // one step of fast handset clock is tolerated
    expect(verifyPaycode(nodeCrypto, p.code, { seed, nowMs: p.validFromMs - 1 }).ok).toBe(true);
  });

  it('support single use: a consumed step is reported as used, the next code works', () => {
    const p = generatePaycode(nodeCrypto, { seed, index, nowMs: T0 });
    const first = verifyPaycode(nodeCrypto, p.code, { seed, nowMs: T0 + 2000 });
    expect(first.ok).toBe(true);
    const replay = verifyPaycode(nodeCrypto, p.code, { seed, nowMs: T0 + 3000, lastUsedStep: p.step });
    expect(replay).toMatchObject({ ok: false, reason: 'paycode_used', step: p.step });
    const next = generatePaycode(nodeCrypto, { seed, index, nowMs: T0 + 3000, step: p.step + 1 });
    expect(next.code).not.toBe(p.code);
    expect(verifyPaycode(nodeCrypto, next.code, { seed, nowMs: T0 + 3000, lastUsedStep: p.step })).toMatchObject({
      ok: true,
      step: p.step + 1,
    });
  });

  it('are bound to seed and index', () => {
    const p = generatePaycode(nodeCrypto, { seed, index, nowMs: T0 });
    expect(verifyPaycode(nodeCrypto, p.code, { seed: new Uint8Array(32).fill(8), nowMs: T0 })).toMatchObject({
      ok: false,
      reason: 'paycode_invalid',
    });
    const other = generatePaycode(nodeCrypto, { seed, index: paycodeIndex(43), nowMs: T0 });
    expect(other.code.slice(11, 19)).not.toBe(p.code.slice(11, 19));
  });

  it('Damm check digit catches every single-digit error and every adjacent transposition', () => {
    const { code } = generatePaycode(nodeCrypto, { seed, index, nowMs: T0 });
    expect(dammValid(code)).toBe(true);
    for (let i = 0; i < code.length; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === code[i]) continue;
        const typo = code.slice(0, i) + d + code.slice(i + 1);
        expect(dammValid(typo), typo).toBe(false);
      }
      if (i + 1 < code.length && code[i] !== code[i + 1]) {
        const swapped = code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2);
        expect(dammValid(swapped), swapped).toBe(false);
      }
    }
    // exhaustive over all digit pairs in one position pair
    for (let a = 0; a < 10; a++)
      for (let b = 0; b < 10; b++) if (a !== b) expect(dammCheckDigit(`12${a}${b}`)).not.toBe(dammCheckDigit(`12${b}${a}`));
  });

  it('refuses malformed codes with typed errors and positions', () => {
    const bad = (c: unknown, code: string, pos?: number) => {
      try {
        parsePaycode(c);
      } catch (e) {
        expect(e).toBeInstanceOf(PaycodeError);
        expect((e as PaycodeError).code).toBe(code);
        if (pos !== undefined) expect((e as PaycodeError).position).toBe(pos);
        return;
      }
      throw new Error('accepted');
    };
    bad('9000000004294746807', 'PAYCODE_LENGTH');
    bad('900000000429474680771', 'PAYCODE_LENGTH');
    bad('90000000042947a68077', 'PAYCODE_NOT_DIGITS', 14);
    bad('10000000042947468077', 'PAYCODE_VERSION', 0);
    bad('90000000042947468078', 'PAYCODE_CHECK_DIGIT', 19);
    bad(9e19, 'PAYCODE_TYPE');
    bad('9'.repeat(10_000), 'PAYCODE_LENGTH');
  });

  it('fit a version 1 QR code at level M and Q in numeric mode', () => {
    const { code } = generatePaycode(nodeCrypto, { seed, index: paycodeIndex(9_999_999_999), nowMs: T0 });
    for (const level of ['L', 'M', 'Q'] as const) {
      const qr = QRCode.create(code, { errorCorrectionLevel: level });
      expect(qr.version, level).toBe(1);
      expect(qr.segments[0]?.mode.id).toBe('Numeric');
    }
    expect(QRCode.create(code, { errorCorrectionLevel: 'H' }).version).toBe(2);
  });

  it('document the guessing bound', () => {
    expect(paycodeGuessProbability(1e7)).toBeCloseTo(5e-11, 20);
    expect(paycodeGuessProbability(1e10, 5)).toBeCloseTo(5e-8, 15);
    expect(paycodeStep(T0)).toBe(Math.floor(T0 / 15_000));
  });
});
