/**
 * The money-receiving terminal as a library.
 *
 * ```ts
 * const terminal = new MerchantTerminal({ merchant, cloud, mpm });
 * await terminal.start();                         // subscribe to this merchant's results
 * const o = await terminal.createOrder({ amount: { minor: 1234n, currency: 'EUR' } });
 * show(o.qrPayload);                              // dynamic EMV MPM with the amount
 * terminal.on('update', (view) => ...);           // live status + amount comparison
 * await terminal.chargePayCode(o.reference, scannedDigits);   // consumer-presented flow
 * terminal.receipt(o.reference);                  // receipt data; renderReceiptText() for paper
 * await terminal.refund(o.reference, paymentId, { minor: 234n, currency: 'EUR' });
 * ```
 *
 * Every result goes through the amount comparison module (`amount-comparison.ts`); the
 * terminal never decides "paid" anywhere else.
 */

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Clock, HandsetError, systemClock, ValidationError } from '@handset/device-drivers/core';
import { newPaymentId, ORDER_REF_RE } from '../protocol/messages';
import { parsePaycode } from '../protocol/paycode';
import {
  type Amount,
  type AmountComparison,
  applyRefund,
  applyResult,
  cancelOrder as cancelTransition,
  expireOrder,
  InvalidOrderError,
  isValidAmount,
  newOrder,
  type OrderRecord,
  openOrder,
  type PaymentResult,
  type RecordedPayment,
  refundableMinor,
  type TransitionEvent,
  unknownOrderComparison,
} from './amount-comparison';
import type { CloudClient, MerchantProfile, MpmEncoder, RefundOutcome } from './ports';
import { buildReceipt, type Receipt } from './receipt';

const NS = 'merchant:terminal';

/** Order references: the wire contract's grammar (fits EMV 62-05, ans <= 25). */
export const REFERENCE_RE = ORDER_REF_RE;

/** Pay codes as the wire contract carries them (`merchant.charge.code`): 20 digits. */
export const PAY_CODE_RE = /^[0-9]{20}$/;

export interface TerminalOptions {
  merchant: MerchantProfile;
  cloud: CloudClient;
  mpm: MpmEncoder;
  clock?: Clock;
  /** Order lifetime when createOrder gets none (default 5 minutes). */
  defaultTtlMs?: number;
  /** Longest lifetime an order may ask for (default 1 hour). */
  maxTtlMs?: number;
  /** Capture mode of orders created without one (default `auto`). See {@link CloudOrderInput.capture}. */
  defaultCapture?: 'auto' | 'manual';
  /** Orders kept in memory for history; older closed orders are dropped first (default 500). */
  historyLimit?: number;
  /** Called with every flagged comparison (for logs and alerts). Never receives secrets. */
  onFlag?: (info: { reference: string; comparison: AmountComparison; result?: PaymentResult }) => void;
}

/** One order with everything the page and the receipts need. */
export interface OrderView {
  readonly order: OrderRecord;
  /** The dynamic EMV MPM payload shown as QR. */
  readonly qrPayload: string;
  /** The comparison of the settling payment, or of the latest result if none settled yet. */
  readonly comparison: AmountComparison | null;
  /** Last thing that happened, for the status line. */
  readonly lastEvent: TransitionEvent | null;
  readonly refunds: readonly RefundOutcome[];
  /** `manual`: payments are reservations until {@link MerchantTerminal.capture} (or a void). */
  readonly capture: 'auto' | 'manual';
  /** Payment ids whose reservation was captured (manual orders only). */
  readonly captured: readonly string[];
}

export interface TerminalEvents {
  /** An order changed (created, opened, result, expiry, cancel, refund). */
  update: [view: OrderView];
  /** A result for an order this terminal does not know. */
  unknown: [comparison: AmountComparison, result: PaymentResult];
}

/** The terminal refused an operation (unknown order, wrong state, bad input). */
export class TerminalError extends HandsetError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { device: NS, details });
  }
}

interface Entry {
  order: OrderRecord;
  qrPayload: string;
  lastEvent: TransitionEvent | null;
  refunds: RefundOutcome[];
  capture: 'auto' | 'manual';
  captured: Set<string>;
  cancelTimer?: () => void;
  busy?: Promise<unknown>;
}

export class MerchantTerminal extends EventEmitter<TerminalEvents> {
  readonly merchant: MerchantProfile;
  private readonly cloud: CloudClient;
  private readonly mpm: MpmEncoder;
  private readonly clock: Clock;
  private readonly defaultTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly historyLimit: number;
  private readonly defaultCapture: 'auto' | 'manual';
  private readonly onFlag: TerminalOptions['onFlag'];
  private readonly orders = new Map<string, Entry>();
  private readonly unknownResults: { comparison: AmountComparison; result: PaymentResult }[] = [];
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(options: TerminalOptions) {
    super();
    this.merchant = options.merchant;
    this.cloud = options.cloud;
    this.mpm = options.mpm;
    this.clock = options.clock ?? systemClock;
    this.defaultTtlMs = options.defaultTtlMs ?? 5 * 60_000;
    this.maxTtlMs = options.maxTtlMs ?? 60 * 60_000;
    this.historyLimit = options.historyLimit ?? 500;
    this.defaultCapture = options.defaultCapture ?? 'auto';
    this.onFlag = options.onFlag;
  }

  /** Subscribes to this merchant's results. Idempotent. */
  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.unsubscribe = await this.cloud.subscribeResults(this.merchant.id, (r) => this.handleResult(r));
  }

  /** Unsubscribes and cancels the expiry timers (orders stay readable). */
  async stop(): Promise<void> {
    for (const e of this.orders.values()) e.cancelTimer?.();
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    await u?.();
  }

  /**
   * Creates an order, registers it with the cloud and returns it with its QR payload.
   * The order is `awaiting_payment` when this resolves. Bad input -> `ValidationError` /
   * `TerminalError`; a cloud failure rejects and leaves no order behind.
   */
  async createOrder(input: {
    amount: Amount;
    reference?: string;
    ttlMs?: number;
    capture?: 'auto' | 'manual';
  }): Promise<OrderView> {
    const { amount } = input;
    if (!isValidAmount(amount))
      throw new ValidationError('amount must be positive bigint minor units with an ISO 4217 code', {
        code: 'BAD_AMOUNT',
        device: NS,
      });
    const reference = input.reference ?? this.newReference();
    if (!REFERENCE_RE.test(reference)) {
      throw new ValidationError(`reference ${JSON.stringify(reference)} must match ${REFERENCE_RE}`, {
        code: 'BAD_REFERENCE',
        device: NS,
      });
    }
    if (this.orders.has(reference))
      throw new TerminalError('DUPLICATE_REFERENCE', `order ${reference} already exists`, { reference });
    const ttl = input.ttlMs ?? this.defaultTtlMs;
    if (!Number.isInteger(ttl) || ttl < 1000 || ttl > this.maxTtlMs) {
      throw new ValidationError(`ttlMs must be an integer from 1000 to ${this.maxTtlMs}`, { code: 'BAD_TTL', device: NS });
    }
    const now = this.clock.now();
    const created = newOrder({ merchantId: this.merchant.id, reference, due: amount, createdAt: now, expiresAt: now + ttl });
    const qrPayload = this.mpm.encodeDynamic({ merchant: this.merchant, amount, reference });
    const capture = input.capture ?? this.defaultCapture;
    if (capture !== 'auto' && capture !== 'manual')
      throw new ValidationError('capture must be auto or manual', { code: 'BAD_CAPTURE', device: NS });
    const entry: Entry = { order: created, qrPayload, lastEvent: null, refunds: [], capture, captured: new Set() };
    this.orders.set(reference, entry);
    try {
      await this.cloud.createOrder({ merchantId: this.merchant.id, reference, amount, expiresAt: created.expiresAt, capture });
    } catch (err) {
      this.orders.delete(reference);
      throw err;
    }
    this.transition(entry, openOrder(entry.order));
    entry.cancelTimer = this.clock.setTimeout(() => void this.expire(reference), ttl);
    this.trimHistory();
    return this.view(entry);
  }

  /** The order, or a `TerminalError` UNKNOWN_ORDER. */
  get(reference: string): OrderView {
    return this.view(this.entry(reference));
  }

  /** Every order, newest first. */
  list(): OrderView[] {
    return [...this.orders.values()].reverse().map((e) => this.view(e));
  }

  /** Results that named an order this terminal does not know (flagged). */
  unknown(): readonly { comparison: AmountComparison; result: PaymentResult }[] {
    return this.unknownResults;
  }

  /**
   * Applies one result from the cloud (the results stream calls this; so does a pay-code
   * charge). Goes through the amount comparison state machine only.
   */
  handleResult(result: PaymentResult): OrderView | null {
    const entry = this.orders.get(result.orderReference);
    if (!entry) {
      if (this.unknownResults.some((u) => u.result.paymentId === result.paymentId)) return null;
      const comparison = unknownOrderComparison(result);
      this.unknownResults.push({ comparison, result });
      if (this.unknownResults.length > this.historyLimit) this.unknownResults.shift();
      this.onFlag?.({ reference: result.orderReference, comparison, result });
      this.emit('unknown', comparison, result);
      return null;
    }
    const t = applyResult(entry.order, result, this.clock.now());
    if (t.event.kind === 'redelivery') return this.view(entry);
    if (t.order === entry.order && t.event.kind === 'flagged') {
      // WRONG_MERCHANT: recorded nowhere on the order; reported, nothing changes.
      this.onFlag?.({ reference: entry.order.reference, comparison: t.event.comparison, result });
      return this.view(entry);
    }
    if (t.event.kind === 'flagged' || (t.event.kind === 'settled' && t.event.comparison.flagged)) {
      this.onFlag?.({ reference: entry.order.reference, comparison: t.event.comparison, result });
    }
    if (t.order.state !== 'awaiting_payment' && t.order.state !== 'created') entry.cancelTimer?.();
    return this.transition(entry, t);
  }

  /**
   * Consumer-presented flow: charges the payer's scanned/typed pay code for the order's
   * due amount through the cloud, then applies the result. Spaces and dashes are ignored.
   */
  async chargePayCode(reference: string, rawCode: string): Promise<OrderView> {
    const entry = this.entry(reference);
    const payCode = typeof rawCode === 'string' ? rawCode.replace(/[\s-]/g, '') : '';
    if (!PAY_CODE_RE.test(payCode)) throw new ValidationError('a pay code is 20 digits', { code: 'BAD_PAY_CODE', device: NS });
    parsePaycode(payCode);
    if (entry.order.state !== 'awaiting_payment') {
      throw new TerminalError('ORDER_NOT_PAYABLE', `order ${reference} is ${entry.order.state}`, {
        reference,
        state: entry.order.state,
      });
    }
    const paymentId = newPaymentId((n) => randomBytes(n), this.clock.now());
    const result = await this.cloud.chargePayCode({
      merchantId: this.merchant.id,
      reference,
      amount: entry.order.due,
      payCode,
      paymentId,
    });
    return this.handleResult(result) ?? this.view(entry);
  }

  /** Cancels an unpaid order (in the cloud first, so it refuses later payments). */
  async cancel(reference: string): Promise<OrderView> {
    const entry = this.entry(reference);
    if (entry.order.state !== 'awaiting_payment' && entry.order.state !== 'created') {
      throw new TerminalError('ORDER_NOT_CANCELLABLE', `order ${reference} is ${entry.order.state}`, { reference });
    }
    await this.cloud.cancelOrder(this.merchant.id, reference);
    if (entry.order.state !== 'awaiting_payment' && entry.order.state !== 'created') return this.view(entry);
    entry.cancelTimer?.();
    return this.transition(entry, cancelTransition(entry.order, this.clock.now()));
  }

  /**
   * Refunds `amount` (default: everything still refundable) of a booked payment on the
   * order through the cloud. Works on flagged payments too (duplicate, late, mismatched).
   */
  async refund(reference: string, paymentId: string, amount?: Amount): Promise<OrderView> {
    const entry = this.entry(reference);
    const p = this.payment(entry, paymentId);
    if (entry.capture === 'manual' && !entry.captured.has(paymentId)) {
      throw new TerminalError('NOT_CAPTURED', `payment ${paymentId} is a reservation: capture it or void it`, { paymentId });
    }
    const left = refundableMinor(p);
    if (left <= 0n)
      throw new TerminalError('NOTHING_TO_REFUND', `payment ${paymentId} has nothing left to refund`, { paymentId });
    const booked = p.result.booked as Amount;
    const want = amount ?? { minor: left, currency: booked.currency };
    applyRefund(entry.order, paymentId, want);
    const refundId = `rf-${paymentId}-${(entry.refunds.length + 1).toString(36)}`.slice(0, 64);
    const out = await this.cloud.refund({ merchantId: this.merchant.id, paymentId, refundId, amount: want });
    entry.refunds.push(out);
    return this.transition(entry, applyRefund(entry.order, paymentId, out.amount));
  }

  /** Voids (fully reverses) a booked payment through the cloud. */
  async voidPayment(reference: string, paymentId: string): Promise<OrderView> {
    const entry = this.entry(reference);
    const p = this.payment(entry, paymentId);
    const booked = p.result.booked;
    if (!isValidAmount(booked) || p.refundedMinor !== 0n || entry.captured.has(paymentId)) {
      throw new TerminalError('NOT_VOIDABLE', `payment ${paymentId} cannot be voided (refund it instead)`, { paymentId });
    }
    applyRefund(entry.order, paymentId, booked, 'void');
    const out = await this.cloud.voidPayment({
      merchantId: this.merchant.id,
      paymentId,
      refundId: `vd-${paymentId}`.slice(0, 64),
    });
    entry.refunds.push(out);
    return this.transition(entry, applyRefund(entry.order, paymentId, booked, 'void'));
  }

  /**
   * Captures the full reservation of a manual-capture payment through the cloud. Only a
   * payment that compared PAID is captured: a flagged one can only be voided.
   */
  async capture(reference: string, paymentId: string): Promise<OrderView> {
    const entry = this.entry(reference);
    const p = this.payment(entry, paymentId);
    if (entry.capture !== 'manual')
      throw new TerminalError('NOT_CAPTURABLE', `order ${reference} was booked at once (auto capture)`, { reference });
    if (p.comparison.verdict !== 'PAID' || p.refundedMinor !== 0n) {
      throw new TerminalError('NOT_CAPTURABLE', `payment ${paymentId} is not a clean PAID reservation; void it`, { paymentId });
    }
    if (!entry.captured.has(paymentId)) {
      await this.cloud.capture({ merchantId: this.merchant.id, paymentId });
      entry.captured.add(paymentId);
    }
    return this.transition(entry, {
      order: entry.order,
      event: { kind: 'state', from: entry.order.state, to: entry.order.state },
    });
  }

  /** Receipt data for the order (the settling payment, or the latest result). */
  receipt(reference: string): Receipt {
    const v = this.get(reference);
    return buildReceipt(this.merchant, v);
  }

  /** Asks the cloud for the order's results and applies any this terminal missed. */
  async reconcile(reference: string): Promise<OrderView> {
    const entry = this.entry(reference);
    for (const r of await this.cloud.paymentsFor(this.merchant.id, reference)) this.handleResult(r);
    return this.view(entry);
  }

  private async expire(reference: string): Promise<void> {
    const entry = this.orders.get(reference);
    if (entry?.order.state !== 'awaiting_payment') return;
    try {
      await this.cloud.cancelOrder(this.merchant.id, reference);
    } catch {
      // The cloud may already have booked a payment; its result decides (a booking after
      // expiresAt is still flagged LATE_RESULT by the comparison module).
      await this.reconcile(reference).catch(() => undefined);
    }
    const t = expireOrder(entry.order, this.clock.now());
    if (t) this.transition(entry, t);
  }

  private entry(reference: string): Entry {
    const e = typeof reference === 'string' ? this.orders.get(reference) : undefined;
    if (!e) throw new TerminalError('UNKNOWN_ORDER', `no order ${JSON.stringify(reference)}`, { reference });
    return e;
  }

  private payment(entry: Entry, paymentId: string): RecordedPayment {
    const p = entry.order.payments.find((x) => x.result.paymentId === paymentId && x.result.status === 'booked');
    if (!p) throw new InvalidOrderError(`no booked payment ${paymentId} on order ${entry.order.reference}`);
    return p;
  }

  private transition(entry: Entry, t: { order: OrderRecord; event: TransitionEvent }): OrderView {
    entry.order = t.order;
    entry.lastEvent = t.event;
    const v = this.view(entry);
    this.emit('update', v);
    return v;
  }

  private view(e: Entry): OrderView {
    const settled = e.order.payments.find((p) => p.result.paymentId === e.order.settledBy);
    const latest = e.order.payments.at(-1);
    return {
      order: e.order,
      qrPayload: e.qrPayload,
      comparison: (settled ?? latest)?.comparison ?? null,
      lastEvent: e.lastEvent,
      refunds: [...e.refunds],
      capture: e.capture,
      captured: [...e.captured],
    };
  }

  private newReference(): string {
    const d = new Date(this.clock.now());
    const ymd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
    for (;;) {
      const ref = `ORD-${ymd}-${randomBytes(3).toString('hex').toUpperCase()}`;
      if (!this.orders.has(ref)) return ref;
    }
  }

  private trimHistory(): void {
    if (this.orders.size <= this.historyLimit) return;
    for (const [ref, e] of this.orders) {
      if (this.orders.size <= this.historyLimit) break;
      if (e.order.state !== 'awaiting_payment') this.orders.delete(ref);
    }
  }
}
