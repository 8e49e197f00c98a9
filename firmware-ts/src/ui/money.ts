/**
 * Money for the screen: integer minor units + the ISO 4217 exponent, never floats.
 * "EUR 1,234.50", "JPY 1,500", "BHD 12.345".
 */

import { ValidationError } from '@handset/device-drivers/core';
import { findCurrency, formatMinorUnits, type Money } from '@handset/host-sdk/protocol';

export type { Money };

/** Digits grouped by three with `sep`, minor part kept as is. */
function group(decimal: string, sep: string): string {
  const [whole = '0', frac] = decimal.split('.');
  const g = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  return frac === undefined ? g : `${g}.${frac}`;
}

/**
 * Formats an amount for display: the alpha code, a space, grouped digits with exactly the
 * currency's exponent decimals. Accepts alpha ("EUR") or numeric ("978", EMV tag 53) codes.
 * Throws `ValidationError` (UI_MONEY) for an unknown currency or a negative / oversized amount.
 */
export function formatMoney(money: Money, options: { grouping?: string } = {}): { code: string; amount: string; text: string } {
  const cur = findCurrency(money.currency);
  if (!cur) throw new ValidationError(`unknown currency '${money.currency}'`, { code: 'UI_MONEY', device: 'ui' });
  let decimal: string;
  try {
    decimal = formatMinorUnits(money.minor, cur);
  } catch (err) {
    throw new ValidationError(`cannot show amount ${String(money.minor)}: ${(err as Error).message}`, {
      code: 'UI_MONEY',
      device: 'ui',
      cause: err,
    });
  }
  const amount = group(decimal, options.grouping ?? ',');
  return { code: cur.alpha, amount, text: `${cur.alpha} ${amount}` };
}
