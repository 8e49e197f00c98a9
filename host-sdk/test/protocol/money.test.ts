import { describe, expect, it } from 'vitest';
import {
  CURRENCIES,
  currency,
  findCurrency,
  formatMinorUnits,
  MAX_MINOR_UNITS,
  MoneyError,
  parseDecimalAmount,
  parseMinorUnits,
} from '../../src/protocol/index';

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MoneyError);
    return (e as MoneyError).code;
  }
  throw new Error('did not throw');
};

describe('money', () => {
  it('knows every currency of the reference and its profiles, with exponents', () => {
    for (const [alpha, numeric, exp] of [
      ['CNY', '156', 2],
      ['USD', '840', 2],
      ['BRL', '986', 2],
      ['THB', '764', 2],
      ['SGD', '702', 2],
      ['IDR', '360', 2],
      ['MYR', '458', 2],
      ['VND', '704', 0],
      ['INR', '356', 2],
      ['HKD', '344', 2],
      ['JPY', '392', 0],
      ['KWD', '414', 3],
    ] as const) {
      expect(findCurrency(alpha)).toMatchObject({ numeric, exponent: exp });
      expect(findCurrency(numeric)?.alpha).toBe(alpha);
    }
    expect(new Set(CURRENCIES.map((c) => c.numeric)).size).toBe(CURRENCIES.length);
    expect(codeOf(() => currency('XXX'))).toBe('CURRENCY_UNKNOWN');
  });

  it('parses decimal strings to minor units without floats', () => {
    expect(parseDecimalAmount('98.73', currency('USD'))).toBe(9873n);
    expect(parseDecimalAmount('98', currency('USD'))).toBe(9800n);
    expect(parseDecimalAmount('98.', currency('USD'))).toBe(9800n);
    expect(parseDecimalAmount('0.1', currency('USD'))).toBe(10n);
    expect(parseDecimalAmount('1.005', currency('KWD'))).toBe(1005n);
    expect(parseDecimalAmount('500', currency('JPY'))).toBe(500n);
    expect(parseDecimalAmount('9999999999.99', 2)).toBe(MAX_MINOR_UNITS);
  });

  it('refuses floats, negatives, overflow, too many decimals and separators with typed errors', () => {
    expect(codeOf(() => parseDecimalAmount(98.73, 2))).toBe('AMOUNT_FLOAT');
    expect(codeOf(() => parseDecimalAmount('-1.00', 2))).toBe('AMOUNT_NEGATIVE');
    expect(codeOf(() => parseDecimalAmount('10000000000.00', 2))).toBe('AMOUNT_OVERFLOW');
    expect(codeOf(() => parseDecimalAmount('1.234', 2))).toBe('AMOUNT_TOO_MANY_DECIMALS');
    expect(codeOf(() => parseDecimalAmount('1.5', 0))).toBe('AMOUNT_TOO_MANY_DECIMALS');
    expect(codeOf(() => parseDecimalAmount('98,73', 2))).toBe('AMOUNT_SYNTAX');
    expect(codeOf(() => parseDecimalAmount('3 705', 2))).toBe('AMOUNT_SYNTAX');
    expect(codeOf(() => parseDecimalAmount('1e3', 2))).toBe('AMOUNT_SYNTAX');
    expect(codeOf(() => parseMinorUnits(12))).toBe('AMOUNT_FLOAT');
    expect(codeOf(() => parseMinorUnits('12.5'))).toBe('AMOUNT_FLOAT');
    expect(codeOf(() => parseMinorUnits('-5'))).toBe('AMOUNT_NEGATIVE');
    expect(codeOf(() => parseMinorUnits('1000000000000'))).toBe('AMOUNT_OVERFLOW');
    expect(codeOf(() => parseMinorUnits('99999999999999999999999'))).toBe('AMOUNT_OVERFLOW');
    expect(codeOf(() => parseMinorUnits('007'))).toBe('AMOUNT_SYNTAX');
    expect(codeOf(() => parseMinorUnits(null))).toBe('AMOUNT_TYPE');
    expect(parseMinorUnits('999999999999')).toBe(MAX_MINOR_UNITS);
  });

  it('formats minor units back exactly', () => {
    expect(formatMinorUnits(9873n, currency('USD'))).toBe('98.73');
    expect(formatMinorUnits(5n, currency('USD'))).toBe('0.05');
    expect(formatMinorUnits(0n, 2)).toBe('0.00');
    expect(formatMinorUnits(500n, currency('JPY'))).toBe('500');
    expect(formatMinorUnits(1005n, currency('KWD'))).toBe('1.005');
    for (const s of ['0.01', '12.34', '9999999999.99']) expect(formatMinorUnits(parseDecimalAmount(s, 2), 2)).toBe(s);
  });
});
