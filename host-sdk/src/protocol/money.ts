import { MoneyError } from './errors';

/**
 * Money on the wire and in memory: `bigint` minor units plus an ISO 4217 currency.
 * Decimal strings are converted digit by digit; a JS `number` is never accepted as an
 * amount (floats cannot represent 0.1 exactly, and 2^53 is smaller than many ledgers).
 */

/** One ISO 4217 currency: alpha code, numeric code (3 digits, as in EMV tag 53) and minor-unit exponent. */
export interface Currency {
  readonly alpha: string;
  readonly numeric: string;
  readonly exponent: number;
  readonly name: string;
}

/**
 * The currencies the handset system knows: every currency named by the EMV reference and
 * its national profiles (CNY, USD, BRL, THB, SGD, IDR, MYR, VND, INR, HKD), the common
 * reserve currencies, and representatives of exponents 0 and 3 for tests.
 */
export const CURRENCIES: readonly Currency[] = Object.freeze([
  { alpha: 'AUD', numeric: '036', exponent: 2, name: 'Australian dollar' },
  { alpha: 'BHD', numeric: '048', exponent: 3, name: 'Bahraini dinar' },
  { alpha: 'BRL', numeric: '986', exponent: 2, name: 'Brazilian real' },
  { alpha: 'CAD', numeric: '124', exponent: 2, name: 'Canadian dollar' },
  { alpha: 'CHF', numeric: '756', exponent: 2, name: 'Swiss franc' },
  { alpha: 'CLP', numeric: '152', exponent: 0, name: 'Chilean peso' },
  { alpha: 'CNY', numeric: '156', exponent: 2, name: 'Renminbi' },
  { alpha: 'EUR', numeric: '978', exponent: 2, name: 'Euro' },
  { alpha: 'GBP', numeric: '826', exponent: 2, name: 'Pound sterling' },
  { alpha: 'GHS', numeric: '936', exponent: 2, name: 'Ghanaian cedi' },
  { alpha: 'HKD', numeric: '344', exponent: 2, name: 'Hong Kong dollar' },
  { alpha: 'IDR', numeric: '360', exponent: 2, name: 'Indonesian rupiah' },
  { alpha: 'INR', numeric: '356', exponent: 2, name: 'Indian rupee' },
  { alpha: 'ISK', numeric: '352', exponent: 0, name: 'Icelandic krona' },
  { alpha: 'JOD', numeric: '400', exponent: 3, name: 'Jordanian dinar' },
  { alpha: 'JPY', numeric: '392', exponent: 0, name: 'Japanese yen' },
  { alpha: 'KRW', numeric: '410', exponent: 0, name: 'South Korean won' },
  { alpha: 'KWD', numeric: '414', exponent: 3, name: 'Kuwaiti dinar' },
  { alpha: 'MYR', numeric: '458', exponent: 2, name: 'Malaysian ringgit' },
  { alpha: 'NGN', numeric: '566', exponent: 2, name: 'Nigerian naira' },
  { alpha: 'OMR', numeric: '512', exponent: 3, name: 'Omani rial' },
  { alpha: 'PHP', numeric: '608', exponent: 2, name: 'Philippine peso' },
  { alpha: 'PKR', numeric: '586', exponent: 2, name: 'Pakistani rupee' },
  { alpha: 'SGD', numeric: '702', exponent: 2, name: 'Singapore dollar' },
  { alpha: 'THB', numeric: '764', exponent: 2, name: 'Thai baht' },
  { alpha: 'TND', numeric: '788', exponent: 3, name: 'Tunisian dinar' },
  { alpha: 'USD', numeric: '840', exponent: 2, name: 'US dollar' },
  { alpha: 'VND', numeric: '704', exponent: 0, name: 'Vietnamese dong' },
  { alpha: 'XOF', numeric: '952', exponent: 0, name: 'West African CFA franc' },
  { alpha: 'ZAR', numeric: '710', exponent: 2, name: 'South African rand' },
]);

const byAlpha = new Map(CURRENCIES.map((c) => [c.alpha, c]));
const byNumeric = new Map(CURRENCIES.map((c) => [c.numeric, c]));

/**
 * Largest amount accepted anywhere, in minor units: 999,999,999,999 — the capacity of EMV
 * "Amount, Authorised" (n12) and of MPM tag 54 without a decimal point (12 digits + "."
 * fit its 13 characters). Far above any handset payment, far below 2^63.
 */
export const MAX_MINOR_UNITS = 999_999_999_999n;

/** Looks up a currency by alpha ("USD") or numeric ("840") code; undefined if unknown. */
export function findCurrency(code: string): Currency | undefined {
  return byAlpha.get(code) ?? byNumeric.get(code);
}

/** Like findCurrency but throws `MoneyError` CURRENCY_UNKNOWN. */
export function currency(code: string): Currency {
  const c = typeof code === 'string' ? findCurrency(code) : undefined;
  if (!c) throw new MoneyError('CURRENCY_UNKNOWN', `unknown currency ${JSON.stringify(code)}`, { details: { input: code } });
  return c;
}

/** True if `code` is a known ISO 4217 alpha code. */
export function isCurrencyAlpha(code: string): boolean {
  return byAlpha.has(code);
}

function describe(input: unknown): string {
  return typeof input === 'bigint' ? `${input}n` : typeof input === 'string' ? JSON.stringify(input) : String(input);
}

/** Rejects everything but a bigint in [0, MAX_MINOR_UNITS]; returns it. */
export function checkMinorUnits(value: unknown, field = 'amount'): bigint {
  if (typeof value === 'number') {
    throw new MoneyError('AMOUNT_FLOAT', `${field}: a JS number (${value}) is not accepted; use bigint minor units`, {
      details: { input: value, field },
    });
  }
  if (typeof value !== 'bigint')
    throw new MoneyError('AMOUNT_TYPE', `${field}: expected bigint minor units, got ${typeof value}`, { details: { field } });
  if (value < 0n)
    throw new MoneyError('AMOUNT_NEGATIVE', `${field}: negative amount ${value}`, { details: { input: `${value}`, field } });
  if (value > MAX_MINOR_UNITS)
    throw new MoneyError('AMOUNT_OVERFLOW', `${field}: ${value} exceeds the maximum ${MAX_MINOR_UNITS}`, {
      details: { input: `${value}`, field },
    });
  return value;
}

/**
 * Parses a wire amount: a decimal string of minor units ("9873"), no sign, no leading
 * zeros (except "0" itself), at most MAX_MINOR_UNITS.
 */
export function parseMinorUnits(input: unknown, field = 'amount'): bigint {
  if (typeof input === 'number') return checkMinorUnits(input, field);
  if (typeof input !== 'string')
    throw new MoneyError('AMOUNT_TYPE', `${field}: expected a string of minor units`, { details: { field } });
  if (input.startsWith('-'))
    throw new MoneyError('AMOUNT_NEGATIVE', `${field}: negative amount ${describe(input)}`, { details: { input, field } });
  if (/^[0-9]+\.[0-9]*$/.test(input))
    throw new MoneyError('AMOUNT_FLOAT', `${field}: ${describe(input)} has a decimal point; minor units are integers`, {
      details: { input, field },
    });
  if (!/^(0|[1-9][0-9]*)$/.test(input))
    throw new MoneyError('AMOUNT_SYNTAX', `${field}: ${describe(input)} is not a decimal integer of minor units`, {
      details: { input, field },
    });
  if (input.length > 13)
    throw new MoneyError('AMOUNT_OVERFLOW', `${field}: ${describe(input)} exceeds the maximum ${MAX_MINOR_UNITS}`, {
      details: { input, field },
    });
  return checkMinorUnits(BigInt(input), field);
}

/**
 * Parses a decimal major-unit amount ("98.73", "98", "98.") to minor units using the
 * currency exponent, without floats. Rejects signs, separators ("98,73", "3 705"), more
 * decimals than the exponent allows (AMOUNT_TOO_MANY_DECIMALS), and overflow.
 */
export function parseDecimalAmount(input: unknown, currencyOrExponent: Currency | number, field = 'amount'): bigint {
  const exponent = typeof currencyOrExponent === 'number' ? currencyOrExponent : currencyOrExponent.exponent;
  if (typeof input === 'number' || typeof input === 'bigint')
    throw new MoneyError('AMOUNT_FLOAT', `${field}: give the amount as a decimal string, not a ${typeof input}`, {
      details: { input: String(input), field },
    });
  if (typeof input !== 'string')
    throw new MoneyError('AMOUNT_TYPE', `${field}: expected a decimal string`, { details: { field } });
  if (input.startsWith('-'))
    throw new MoneyError('AMOUNT_NEGATIVE', `${field}: negative amount ${describe(input)}`, { details: { input, field } });
  const m = /^([0-9]+)(?:\.([0-9]*))?$/.exec(input);
  if (!m)
    throw new MoneyError('AMOUNT_SYNTAX', `${field}: ${describe(input)} is not a decimal amount (digits and at most one ".")`, {
      details: { input, field },
    });
  const whole = m[1]!;
  const frac = m[2] ?? '';
  if (frac.length > exponent)
    throw new MoneyError(
      'AMOUNT_TOO_MANY_DECIMALS',
      `${field}: ${describe(input)} has ${frac.length} decimals; the currency has ${exponent}`,
      {
        details: { input, field, exponent },
      },
    );
  const digits = (whole + frac.padEnd(exponent, '0')).replace(/^0+(?=.)/, '');
  if (digits.length > 13)
    throw new MoneyError('AMOUNT_OVERFLOW', `${field}: ${describe(input)} exceeds the maximum`, { details: { input, field } });
  return checkMinorUnits(BigInt(digits), field);
}

/** Formats minor units as a decimal string with exactly `exponent` decimals ("98.73", JPY "500"). */
export function formatMinorUnits(minor: bigint, currencyOrExponent: Currency | number): string {
  checkMinorUnits(minor);
  const exponent = typeof currencyOrExponent === 'number' ? currencyOrExponent : currencyOrExponent.exponent;
  if (exponent === 0) return minor.toString();
  const s = minor.toString().padStart(exponent + 1, '0');
  return `${s.slice(0, -exponent)}.${s.slice(-exponent)}`;
}

/** An amount with its currency, as compared by the merchant terminal's amount comparison. */
export interface Money {
  readonly minor: bigint;
  readonly currency: string;
}

/** True only when both currency and minor units are identical. */
export function sameMoney(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.minor === b.minor;
}
