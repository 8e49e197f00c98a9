/**
 * The amount comparison module: the merchant terminal's last line of defence against a
 * tampered or mistaken amount (DESIGN.md §4).
 *
 * For every order the terminal compares three amounts:
 * - **due**: what the terminal itself asked for (its own order, never taken from the wire);
 * - **authorised**: what the payer authorised (signed by the handset, or the amount the
 *   cloud authorised for a pay-code charge), as relayed in the cloud's result;
 * - **booked**: what the cloud's ledger actually posted.
 *
 * All three present, positive, integer minor units (bigint), same currency and equal ->
 * `PAID`. Anything else -> `REJECTED` and `flagged`, with every reason found. A rejected
 * comparison is never shown as paid.
 *
 * The module has two layers, both pure (no I/O, no clock reads - time is passed in):
 * - {@link compareAmounts}: the three-way comparison;
 * - {@link applyResult} / {@link expireOrder} / {@link cancelOrder} / {@link applyRefund}:
 *   a small state machine per order (created -> awaiting_payment -> paid | rejected |
 *   expired | cancelled | voided | refunded | partially_refunded) that also detects
 *   duplicate, late and unknown-order results.
 */

import { HandsetError } from '@handset/device-drivers/core';
import { findCurrency, formatMinorUnits, MAX_MINOR_UNITS } from '../protocol/money';

/** Money as the terminal compares it: integer minor units and an ISO 4217 alpha-3 code. */
export interface Amount {
  /** Integer minor units (cents for EUR). Never a float. */
  readonly minor: bigint;
  /** ISO 4217 alphabetic code, upper case, e.g. 'EUR'. */
  readonly currency: string;
}

/** Why a comparison (or a result) was rejected. One comparison may carry several. */
export type ReasonCode =
  /** authorised or booked is smaller than due. */
  | 'UNDERPAID'
  /** authorised or booked is larger than due. */
  | 'OVERPAID'
  /** authorised or booked is in another currency than due. */
  | 'WRONG_CURRENCY'
  /** the result carries no authorised amount. */
  | 'MISSING_AUTHORISED'
  /** the result carries no booked amount (nothing was posted, or the cloud did not say). */
  | 'MISSING_BOOKED'
  /** an amount is not a positive integer of minor units, or its currency code is malformed. */
  | 'INVALID_AMOUNT'
  /** a second, different payment for an order that is already settled (paid or rejected). */
  | 'DUPLICATE_RESULT'
  /** a result for an order that had expired or was cancelled before the booking. */
  | 'LATE_RESULT'
  /** a result for an order reference this terminal never created. */
  | 'UNKNOWN_ORDER'
  /** the result names another merchant than this terminal's. */
  | 'WRONG_MERCHANT'
  /** the cloud declined the payment; nothing was booked. The order stays payable. */
  | 'DECLINED';

export interface Reason {
  readonly code: ReasonCode;
  /** Which amount the reason is about, where it is about one. */
  readonly field?: 'authorised' | 'booked';
  readonly expected?: Amount;
  readonly actual?: Amount;
  /** One line a cashier can read. */
  readonly message: string;
}

/** The outcome of comparing one result against its order. */
export interface AmountComparison {
  readonly verdict: 'PAID' | 'REJECTED';
  /** True whenever the verdict is REJECTED: a human must look at it. */
  readonly flagged: boolean;
  readonly due: Amount | null;
  readonly authorised: Amount | null;
  readonly booked: Amount | null;
  /** Empty exactly when the verdict is PAID. */
  readonly reasons: readonly Reason[];
}

const CURRENCY_RE = /^[A-Z]{3}$/;

/** True when `a` is a well-formed amount: bigint minor units > 0 and an upper-case alpha-3 code. */
export function isValidAmount(a: unknown): a is Amount {
  if (typeof a !== 'object' || a === null) return false;
  const { minor, currency } = a as { minor?: unknown; currency?: unknown };
  return typeof minor === 'bigint' && minor > 0n && typeof currency === 'string' && CURRENCY_RE.test(currency);
}

/** Strict equality of two amounts (same currency, same minor units). */
export function sameAmount(a: Amount, b: Amount): boolean {
  return a.currency === b.currency && a.minor === b.minor;
}

/** Renders an amount for messages: `12.34 EUR` for known currencies, else minor units. */
function show(a: Amount): string {
  const c = findCurrency(a.currency);
  return c && a.minor >= 0n && a.minor <= MAX_MINOR_UNITS
    ? `${formatMinorUnits(a.minor, c)} ${c.alpha}`
    : `${a.minor} ${a.currency} (minor units)`;
}

function checkAgainstDue(field: 'authorised' | 'booked', due: Amount, actual: Amount | null | undefined): Reason[] {
  if (actual === null || actual === undefined) {
    return [
      {
        code: field === 'authorised' ? 'MISSING_AUTHORISED' : 'MISSING_BOOKED',
        field,
        expected: due,
        message: `no ${field} amount in the result`,
      },
    ];
  }
  if (!isValidAmount(actual)) {
    return [{ code: 'INVALID_AMOUNT', field, message: `${field} amount is not a positive integer of minor units` }];
  }
  if (actual.currency !== due.currency) {
    return [
      {
        code: 'WRONG_CURRENCY',
        field,
        expected: due,
        actual,
        message: `${field} in ${actual.currency}, order is in ${due.currency}`,
      },
    ];
  }
  if (actual.minor < due.minor) {
    return [{ code: 'UNDERPAID', field, expected: due, actual, message: `${field} ${show(actual)} < due ${show(due)}` }];
  }
  if (actual.minor > due.minor) {
    return [{ code: 'OVERPAID', field, expected: due, actual, message: `${field} ${show(actual)} > due ${show(due)}` }];
  }
  return [];
}

/**
 * Compares due, authorised and booked. PAID only when all three are valid, in the same
 * currency and equal in minor units; otherwise REJECTED + flagged with every reason.
 * Total: never throws, whatever the input (a malformed due is itself a reason).
 */
export function compareAmounts(input: {
  due: Amount | null | undefined;
  authorised: Amount | null | undefined;
  booked: Amount | null | undefined;
}): AmountComparison {
  const due = input.due ?? null;
  const authorised = input.authorised ?? null;
  const booked = input.booked ?? null;
  const reasons: Reason[] = [];
  if (!isValidAmount(due)) {
    reasons.push({ code: 'INVALID_AMOUNT', message: 'the order has no valid due amount' });
    if (authorised === null) reasons.push({ code: 'MISSING_AUTHORISED', field: 'authorised', message: 'no authorised amount' });
    if (booked === null) reasons.push({ code: 'MISSING_BOOKED', field: 'booked', message: 'no booked amount' });
  } else {
    reasons.push(...checkAgainstDue('authorised', due, authorised), ...checkAgainstDue('booked', due, booked));
  }
  return rejectedOrPaid(due, authorised, booked, reasons);
}

function rejectedOrPaid(
  due: Amount | null,
  authorised: Amount | null,
  booked: Amount | null,
  reasons: Reason[],
): AmountComparison {
  const paid = reasons.length === 0;
  return { verdict: paid ? 'PAID' : 'REJECTED', flagged: !paid, due, authorised, booked, reasons };
}

/** A REJECTED comparison carrying `extra` reasons in front of whatever the amounts say. */
function rejectWith(
  extra: Reason[],
  due: Amount | null,
  authorised: Amount | null | undefined,
  booked: Amount | null | undefined,
): AmountComparison {
  const base = compareAmounts({ due, authorised, booked });
  return rejectedOrPaid(base.due, base.authorised, base.booked, [...extra, ...base.reasons]);
}

// ---------------------------------------------------------------------------------------
// Per-order state machine
// ---------------------------------------------------------------------------------------

/**
 * Order states.
 * - `created`: the order exists on the terminal only (not yet registered with the cloud).
 * - `awaiting_payment`: registered with the cloud, QR shown; results are accepted.
 * - `paid`: a result compared PAID. Settled.
 * - `rejected`: a booked result compared REJECTED (money may have moved: refund it). Settled.
 * - `expired` / `cancelled`: closed before any payment; later results are LATE_RESULT.
 * - `voided`: the paid payment was voided through the cloud (same-day reversal, in full).
 * - `partially_refunded` / `refunded`: refunds posted against the settled payment.
 */
export type OrderState =
  | 'created'
  | 'awaiting_payment'
  | 'paid'
  | 'rejected'
  | 'expired'
  | 'cancelled'
  | 'voided'
  | 'partially_refunded'
  | 'refunded';

/** What the terminal knows about a payment result (as relayed by the cloud). */
export interface PaymentResult {
  /** The payment id (idempotency key everywhere). */
  readonly paymentId: string;
  readonly merchantId: string;
  readonly orderReference: string;
  /** `booked`: the ledger posted it. `declined`: nothing was posted. */
  readonly status: 'booked' | 'declined';
  readonly authorised?: Amount | null;
  readonly booked?: Amount | null;
  /** The cloud's reason code for a decline. */
  readonly declineReason?: string;
  /** When the cloud decided (epoch ms). */
  readonly at: number;
  /** How the payment came: `scan` (handset scanned our QR) or `paycode` (we scanned the payer's code). */
  readonly flow?: 'scan' | 'paycode';
  /** The payer's handset, for the receipt. */
  readonly deviceId?: string;
  /** The cloud's ledger transfer id, for the receipt. */
  readonly ledgerTransferId?: string;
}

/** One result as recorded on its order, with its comparison. */
export interface RecordedPayment {
  readonly result: PaymentResult;
  readonly comparison: AmountComparison;
  /** Epoch ms when the terminal received it. */
  readonly receivedAt: number;
  /** Minor units refunded or voided against this payment so far. */
  readonly refundedMinor: bigint;
}

/** An order as the state machine sees it. Immutable: every transition returns a new object. */
export interface OrderRecord {
  readonly merchantId: string;
  readonly reference: string;
  readonly due: Amount;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly state: OrderState;
  /** Epoch ms of the transition into expired/cancelled, if any. */
  readonly closedAt?: number;
  /** Every result that arrived for this order, first to last (redeliveries not repeated). */
  readonly payments: readonly RecordedPayment[];
  /** The payment that settled the order (the first booked result), if any. */
  readonly settledBy?: string;
}

/** What a transition did, for logs and live status. */
export type TransitionEvent =
  | { readonly kind: 'settled'; readonly comparison: AmountComparison }
  | { readonly kind: 'declined'; readonly comparison: AmountComparison }
  | { readonly kind: 'flagged'; readonly comparison: AmountComparison }
  | { readonly kind: 'redelivery' }
  | { readonly kind: 'state'; readonly from: OrderState; readonly to: OrderState };

export interface Transition {
  readonly order: OrderRecord;
  readonly event: TransitionEvent;
}

/** A new order in state `created`. Throws {@link InvalidOrderError} for a bad amount or expiry. */
export function newOrder(input: {
  merchantId: string;
  reference: string;
  due: Amount;
  createdAt: number;
  expiresAt: number;
}): OrderRecord {
  if (!isValidAmount(input.due))
    throw new InvalidOrderError('due amount must be a positive bigint of minor units with an ISO 4217 code');
  if (!(input.expiresAt > input.createdAt)) throw new InvalidOrderError('expiresAt must be after createdAt');
  return { ...input, state: 'created', payments: [] };
}

/** `created` -> `awaiting_payment` (the cloud accepted the order, the QR can be shown). */
export function openOrder(order: OrderRecord): Transition {
  return to(order, 'awaiting_payment', ['created']);
}

/** `awaiting_payment`/`created` -> `expired` at or after `expiresAt`; otherwise unchanged. */
export function expireOrder(order: OrderRecord, now: number): Transition | null {
  if ((order.state !== 'awaiting_payment' && order.state !== 'created') || now < order.expiresAt) return null;
  return to({ ...order, closedAt: now }, 'expired', ['awaiting_payment', 'created']);
}

/** `awaiting_payment`/`created` -> `cancelled` (the cashier abandoned the sale before payment). */
export function cancelOrder(order: OrderRecord, now: number): Transition {
  return to({ ...order, closedAt: now }, 'cancelled', ['awaiting_payment', 'created']);
}

const SETTLED: ReadonlySet<OrderState> = new Set(['paid', 'rejected', 'voided', 'partially_refunded', 'refunded']);
const CLOSED: ReadonlySet<OrderState> = new Set(['expired', 'cancelled']);

/** True for states in which the order already has its (first) booked result. */
export function isSettled(state: OrderState): boolean {
  return SETTLED.has(state);
}

function sameResult(a: PaymentResult, b: PaymentResult): boolean {
  const eq = (x: Amount | null | undefined, y: Amount | null | undefined) =>
    (x ?? null) === null ? (y ?? null) === null : (y ?? null) !== null && sameAmount(x as Amount, y as Amount);
  return (
    a.paymentId === b.paymentId &&
    a.status === b.status &&
    a.orderReference === b.orderReference &&
    a.merchantId === b.merchantId &&
    eq(a.authorised, b.authorised) &&
    eq(a.booked, b.booked)
  );
}

/**
 * Applies one result to its order. Rules, in order:
 * 1. wrong merchant -> REJECTED/flagged (WRONG_MERCHANT), order unchanged;
 * 2. the same payment id with identical content already recorded -> `redelivery`
 *    (QoS 1 may deliver twice), order unchanged; the same id with different content ->
 *    DUPLICATE_RESULT flagged (a result must never change);
 * 3. `declined` with nothing booked -> REJECTED (DECLINED), event `declined`, order state
 *    unchanged: an open order stays `awaiting_payment` so the payer can retry, and a
 *    decline of a second attempt on a settled or closed order (the cloud refuses to
 *    take money twice) moved no money, so it is not an anomaly for the cashier;
 * 4. the order is already settled -> DUPLICATE_RESULT flagged (a second payment);
 * 5. the order expired or was cancelled, or the booking is later than `expiresAt` ->
 *    LATE_RESULT flagged, order state unchanged (booked money is left for a refund);
 * 6. otherwise the three-way comparison decides `paid` or `rejected`.
 * A `declined` result that nevertheless carries a booked amount contradicts itself: it
 * goes through rules 4-5 like money that moved, and is otherwise flagged (DECLINED, with
 * the order left as it was), never compared into `paid`.
 * Every flagged result is recorded on the order so the cashier can refund booked money.
 */
export function applyResult(order: OrderRecord, result: PaymentResult, now: number): Transition {
  const record = (comparison: AmountComparison, patch: Partial<OrderRecord> = {}): OrderRecord => ({
    ...order,
    ...patch,
    payments: [...order.payments, { result, comparison, receivedAt: now, refundedMinor: 0n }],
  });
  if (result.merchantId !== order.merchantId) {
    const c = rejectWith(
      [{ code: 'WRONG_MERCHANT', message: `result for merchant ${result.merchantId}, this terminal is ${order.merchantId}` }],
      order.due,
      result.authorised,
      result.booked,
    );
    return { order, event: { kind: 'flagged', comparison: c } };
  }
  const earlier = order.payments.find((p) => p.result.paymentId === result.paymentId);
  if (earlier && sameResult(earlier.result, result)) return { order, event: { kind: 'redelivery' } };
  if (result.status === 'declined' && !earlier && (result.booked === null || result.booked === undefined)) {
    const after = isSettled(order.state) || CLOSED.has(order.state) ? ` (order already ${order.state})` : '';
    const c = rejectWith(
      [{ code: 'DECLINED', message: `declined by the cloud: ${result.declineReason ?? 'no reason given'}${after}` }],
      order.due,
      result.authorised,
      result.booked,
    );
    return { order: record(c), event: { kind: 'declined', comparison: c } };
  }
  if (earlier || isSettled(order.state)) {
    const c = rejectWith(
      [
        {
          code: 'DUPLICATE_RESULT',
          message: earlier
            ? `payment ${result.paymentId} arrived again with different content`
            : `order ${order.reference} is already settled by ${order.settledBy}`,
        },
      ],
      order.due,
      result.authorised,
      result.booked,
    );
    return { order: record(c), event: { kind: 'flagged', comparison: c } };
  }
  const late = CLOSED.has(order.state) || (result.status === 'booked' && result.at > order.expiresAt);
  if (late) {
    const c = rejectWith(
      [{ code: 'LATE_RESULT', message: `result after the order was ${CLOSED.has(order.state) ? order.state : 'due to expire'}` }],
      order.due,
      result.authorised,
      result.booked,
    );
    return { order: record(c), event: { kind: 'flagged', comparison: c } };
  }
  if (result.status === 'declined') {
    const c = rejectWith(
      [{ code: 'DECLINED', message: 'a declined result carries a booked amount: check the ledger' }],
      order.due,
      result.authorised,
      result.booked,
    );
    return { order: record(c), event: { kind: 'flagged', comparison: c } };
  }
  const c = compareAmounts({ due: order.due, authorised: result.authorised, booked: result.booked });
  const next = record(c, { state: c.verdict === 'PAID' ? 'paid' : 'rejected', settledBy: result.paymentId });
  return { order: next, event: { kind: 'settled', comparison: c } };
}

/** A result for a reference the terminal does not know: always REJECTED + flagged. */
export function unknownOrderComparison(result: PaymentResult): AmountComparison {
  return {
    verdict: 'REJECTED',
    flagged: true,
    due: null,
    authorised: result.authorised ?? null,
    booked: result.booked ?? null,
    reasons: [{ code: 'UNKNOWN_ORDER', message: `no order ${result.orderReference} on this terminal` }],
  };
}

/** Minor units still refundable on one recorded payment (booked minus refunded; 0 if nothing booked). */
export function refundableMinor(p: RecordedPayment): bigint {
  if (p.result.status !== 'booked' || !isValidAmount(p.result.booked)) return 0n;
  return p.result.booked.minor - p.refundedMinor;
}

/**
 * Records a refund (or, with `kind: 'void'`, a void) of `amount` against payment `paymentId`.
 * Refunds on the settling payment move the order to `partially_refunded` / `refunded`
 * (`voided` for a void); refunds of flagged extra payments (duplicate, late) leave the
 * order state alone. Throws {@link InvalidOrderError} when the amount exceeds what is
 * refundable, the currency differs, or the payment is unknown.
 */
export function applyRefund(
  order: OrderRecord,
  paymentId: string,
  amount: Amount,
  kind: 'refund' | 'void' = 'refund',
): Transition {
  const i = order.payments.findIndex((p) => p.result.paymentId === paymentId && p.result.status === 'booked');
  const p = order.payments[i];
  if (i < 0 || !p) throw new InvalidOrderError(`no booked payment ${paymentId} on order ${order.reference}`);
  if (!isValidAmount(amount)) throw new InvalidOrderError('refund amount must be a positive bigint of minor units');
  const booked = p.result.booked;
  if (!isValidAmount(booked) || booked.currency !== amount.currency) {
    throw new InvalidOrderError(`refund currency ${amount.currency} does not match the booked currency`);
  }
  const left = refundableMinor(p);
  if (amount.minor > left) throw new InvalidOrderError(`refund ${amount.minor} exceeds the refundable ${left} minor units`);
  if (kind === 'void' && amount.minor !== booked.minor) throw new InvalidOrderError('a void reverses the whole payment');
  const payments = order.payments.map((q, j) => (j === i ? { ...q, refundedMinor: q.refundedMinor + amount.minor } : q));
  const from = order.state;
  let state = from;
  if (order.settledBy === paymentId) {
    if (kind === 'void') state = 'voided';
    else if (from === 'paid' || from === 'partially_refunded') state = amount.minor === left ? 'refunded' : 'partially_refunded';
  }
  return { order: { ...order, payments, state }, event: { kind: 'state', from, to: state } };
}

function to(order: OrderRecord, state: OrderState, allowed: OrderState[]): Transition {
  if (!allowed.includes(order.state)) {
    throw new InvalidOrderError(`order ${order.reference} cannot go from ${order.state} to ${state}`, {
      from: order.state,
      to: state,
    });
  }
  return { order: { ...order, state }, event: { kind: 'state', from: order.state, to: state } };
}

/** A state-machine transition or an order that breaks the rules (typed, never a crash). */
export class InvalidOrderError extends HandsetError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_ORDER', message, { device: 'merchant', details });
  }
}
