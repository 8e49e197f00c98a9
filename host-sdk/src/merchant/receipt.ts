/**
 * Receipts: the data (for JSON, storage, the page) and a fixed-width text rendering for a
 * 40-column receipt printer. A receipt says PAID only when the amount comparison said
 * PAID; anything else prints "NOT PAID" with the reasons.
 */

import { findCurrency, formatMinorUnits } from '../protocol/money';
import type { Amount, AmountComparison, OrderState, RecordedPayment } from './amount-comparison';
import type { MerchantProfile, RefundOutcome } from './ports';
import type { OrderView } from './terminal';

export interface Receipt {
  readonly merchant: { id: string; name: string; city: string; terminalLabel?: string };
  readonly reference: string;
  readonly state: OrderState;
  readonly createdAt: number;
  /** What was asked. */
  readonly due: Amount;
  /** The payment the receipt is about (the settling one, else the latest), if any. */
  readonly payment: {
    paymentId: string;
    flow?: string;
    deviceId?: string;
    ledgerTransferId?: string;
    decidedAt: number;
    status: 'booked' | 'declined';
  } | null;
  readonly comparison: AmountComparison | null;
  /** Only true when the comparison verdict is PAID. */
  readonly paid: boolean;
  readonly refunds: readonly RefundOutcome[];
  readonly refundedMinor: bigint;
}

/** Formats an amount in major units with its code: `12.34 EUR`, `500 JPY`; unknown currencies stay in minor units. */
export function formatAmount(a: Amount | null | undefined): string {
  if (!a) return '-';
  const c = findCurrency(a.currency);
  if (!c || typeof a.minor !== 'bigint' || a.minor < 0n) return `${String(a.minor)} ${a.currency} (minor)`;
  try {
    return `${formatMinorUnits(a.minor, c)} ${c.alpha}`;
  } catch {
    return `${a.minor} ${a.currency} (minor)`;
  }
}

export function buildReceipt(merchant: MerchantProfile, view: OrderView): Receipt {
  const o = view.order;
  const p: RecordedPayment | undefined = o.payments.find((x) => x.result.paymentId === o.settledBy) ?? o.payments.at(-1);
  const comparison = p?.comparison ?? null;
  return {
    merchant: { id: merchant.id, name: merchant.name, city: merchant.city, terminalLabel: merchant.terminalLabel },
    reference: o.reference,
    state: o.state,
    createdAt: o.createdAt,
    due: o.due,
    payment: p
      ? {
          paymentId: p.result.paymentId,
          flow: p.result.flow,
          deviceId: p.result.deviceId,
          ledgerTransferId: p.result.ledgerTransferId,
          decidedAt: p.result.at,
          status: p.result.status,
        }
      : null,
    comparison,
    paid: comparison?.verdict === 'PAID' && o.settledBy === p?.result.paymentId,
    refunds: view.refunds,
    refundedMinor: o.payments.reduce((sum, x) => sum + x.refundedMinor, 0n),
  };
}

const WIDTH = 40;

function row(left: string, right: string): string {
  const space = Math.max(1, WIDTH - left.length - right.length);
  return (left + ' '.repeat(space) + right).slice(0, Math.max(WIDTH, left.length + 1 + right.length));
}

function center(s: string): string {
  const pad = Math.max(0, Math.floor((WIDTH - s.length) / 2));
  return ' '.repeat(pad) + s;
}

/** Word-wraps to the paper width, continuation lines indented by 2. */
function wrap(text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > WIDTH) {
      out.push(line);
      line = `  ${word}`;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** The receipt as 40-column text (UTC times). */
export function renderReceiptText(r: Receipt): string {
  const lines: string[] = [];
  const rule = '-'.repeat(WIDTH);
  lines.push(center(r.merchant.name), center(r.merchant.city), center(`Merchant ${r.merchant.id}`));
  if (r.merchant.terminalLabel) lines.push(center(`Terminal ${r.merchant.terminalLabel}`));
  lines.push(rule, row('Order', r.reference), row('Date (UTC)', iso(r.createdAt)), rule);
  lines.push(row('AMOUNT DUE', formatAmount(r.due)));
  if (r.comparison) {
    lines.push(row('Authorised', formatAmount(r.comparison.authorised)), row('Booked', formatAmount(r.comparison.booked)));
  }
  lines.push(rule);
  if (r.paid) lines.push(center('*** PAID ***'));
  else if (r.payment) {
    lines.push(center('*** NOT PAID ***'));
    for (const reason of r.comparison?.reasons ?? []) lines.push(...wrap(`! ${reason.code}: ${reason.message}`));
  } else lines.push(center(`(${r.state.replace('_', ' ')})`));
  if (r.payment) {
    lines.push(rule, row('Payment', ''), `  ${r.payment.paymentId}`);
    if (r.payment.flow)
      lines.push(row('Method', r.payment.flow === 'paycode' ? 'pay code (scanned)' : 'handset scan + fingerprint'));
    if (r.payment.deviceId) lines.push(row('Handset', r.payment.deviceId));
    const ledger = r.payment.ledgerTransferId;
    if (ledger) lines.push('Ledger ref', ledger.length <= WIDTH - 2 ? `  ${ledger}` : ledger);
    lines.push(row('Decided (UTC)', iso(r.payment.decidedAt)));
  }
  if (r.refunds.length > 0) {
    lines.push(rule);
    for (const f of r.refunds) lines.push(row(f.status === 'voided' ? 'VOID' : 'REFUND', `-${formatAmount(f.amount)}`));
  }
  lines.push(rule, row('Status', r.state.toUpperCase().replace('_', ' ')), '');
  return lines.join('\n');
}
