/**
 * The module chain and the payment state machine: generate -> fingerprint -> scan
 * (DESIGN §1), every payment passing the fingerprint module between a QR step and the
 * uplink. Read the two flows top to bottom:
 *
 * Scan to pay (merchant-presented):
 *   scan the merchant QR -> parse + validate the EMV MPM (our template: merchant id +
 *   order ref) -> confirm screen (merchant, amount) -> fingerprint verify (<= 3 presses)
 *   -> PIN step-up when over the limit or after 3 misses (3 wrong PINs: declined
 *   `PIN_LOCKED` and the handset locks; no PIN module: declined `PIN_REQUIRED_UNAVAILABLE`,
 *   after 3 misses the handset also locks) -> reserve the
 *   counter (on disk) -> sign -> outbox (on disk) -> MQTT -> wait for the result ->
 *   receipt (paid / declined), or "pending" when the cloud is slow (the outbox keeps
 *   resending; a late result still lands on the screen).
 *
 * Show to pay (consumer-presented):
 *   finger on the sensor -> match -> one-time pay code from the sealed seed -> QR on the
 *   e-ink for at most 60 s (new code every 15 s step) -> the merchant scans it and
 *   charges through the cloud -> a result on this handset's result topic ends the
 *   session with a receipt, else the session ends at expiry.
 *
 * States (`state` event): idle, scanning, confirming, verifying, step-up, signing,
 * sending, awaiting-result, showing-paycode, then paid | declined | pending | expired |
 * error, back to idle on the next flow; `locked` until a host unlocks.
 */
import { EventEmitter } from 'node:events';
import { CanceledError, type Clock, HandsetError, systemClock } from '@handset/device-drivers/core';
import {
  encodeMessageText,
  generatePaycode,
  newPaymentId,
  type PaymentResult,
  parseMpm,
  paycodeStep,
} from '@handset/host-sdk/protocol';
import type { HandsetConfig } from './config/index';
import type { Keystore, SigningGrant } from './keystore/index';
import { type Enrolment, FingerprintModule, type VerifyOutcome } from './modules/fingerprint/index';
import { QrGenerateModule } from './modules/qr-generate/index';
import type { Platform } from './platform';
import type { Money } from './ui/money';
import type { Screen } from './ui/screens';
import type { Uplink } from './uplink/index';

const NS = 'chain';

export type ChainState =
  | 'idle'
  | 'registering'
  | 'scanning'
  | 'confirming'
  | 'verifying'
  | 'step-up'
  | 'signing'
  | 'sending'
  | 'awaiting-result'
  | 'showing-paycode'
  | 'paid'
  | 'declined'
  | 'pending'
  | 'expired'
  | 'error'
  | 'locked';

export type Flow = 'scan' | 'paycode' | 'register';

/** Why the handset itself declined (nothing was sent) or what the cloud said. */
export type LocalDeclineReason =
  | 'PIN_REQUIRED_UNAVAILABLE'
  | 'FINGER_TIMEOUT'
  | 'INVALID_QR'
  | 'SCAN_TIMEOUT'
  | 'HANDSET_LOCKED'
  | 'NOT_REGISTERED'
  | 'RESULT_MISMATCH'
  | 'CANCELED';

export type PaymentOutcome =
  | {
      status: 'paid';
      flow: 'scan' | 'paycode';
      paymentId: string;
      merchantId: string;
      orderRef: string;
      amount: Money;
      result: PaymentResult;
    }
  | { status: 'declined'; flow: 'scan' | 'paycode'; reason: string; paymentId?: string; result?: PaymentResult; detail?: string }
  | { status: 'pending'; flow: 'scan'; paymentId: string }
  | { status: 'expired'; flow: 'paycode'; codes: string[] };

/** What the camera read, once validated. */
export interface MerchantRequest {
  merchantId: string;
  merchantName: string;
  orderRef: string;
  amount: Money;
  payload: string;
}

export interface ChainEvents {
  state: [change: { from: ChainState; to: ChainState; flow?: Flow }];
  screen: [screen: Screen];
  scanned: [request: MerchantRequest];
  /** Fingerprint guidance (prompt / press / lift), for the holder or a scripted test finger. */
  finger: [
    event:
      | { kind: 'prompt' | 'lift'; attempt: number; maxAttempts: number }
      | { kind: 'press'; attempt: number; matched: boolean; slot?: number },
  ];
  authorised: [info: { paymentId: string; counter: number; amount: Money; merchantId: string; orderRef: string }];
  paycode: [info: { code: string; step: number; validUntilMs: number }];
  /** Every result for this handset (also late ones and duplicates, flagged by `first`). */
  result: [result: PaymentResult, first: boolean];
  outcome: [outcome: PaymentOutcome];
}

/**
 * PIN step-up (the password module, `modules/password` `PasswordModule.requestPin` fits
 * this shape). Absent -> payments that need it are declined `PIN_REQUIRED_UNAVAILABLE`.
 */
export interface PinStepUp {
  requestPin(o: {
    reason: 'step_up' | 'fingerprint_failed' | 'sensor_unavailable';
    amount?: Money;
    signal?: AbortSignal;
  }): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Host unlock of the PIN (after too many wrong PINs); `chain.unlock()` calls it. */
  unlock?(): Promise<void>;
}

export class ChainBusyError extends HandsetError {
  constructor(state: ChainState) {
    super('CHAIN_BUSY', `the handset is busy (${state})`, { device: NS });
  }
}

export interface ChainOptions {
  platform: Platform;
  keystore: Keystore;
  uplink: Uplink;
  config: HandsetConfig;
  /** Runtime clock: timestamps, result waits, the pay-code session. */
  clock?: Clock;
  pin?: PinStepUp;
}

export class HandsetChain extends EventEmitter<ChainEvents> {
  readonly platform: Platform;
  readonly keystore: Keystore;
  readonly uplink: Uplink;
  readonly config: HandsetConfig;
  readonly fingerprint: FingerprintModule;
  readonly generate: QrGenerateModule;
  private readonly clock: Clock;
  private readonly pin: PinStepUp | undefined;
  private current: ChainState;
  private busy = false;
  private abort: AbortController | undefined;
  private readonly pendingPayments = new Set<string>();
  private paycodeSession: { onResult: (r: PaymentResult) => void } | undefined;
  private readonly offResult: () => void;

  constructor(o: ChainOptions) {
    super();
    this.platform = o.platform;
    this.keystore = o.keystore;
    this.uplink = o.uplink;
    this.config = o.config;
    this.clock = o.clock ?? systemClock;
    this.pin = o.pin;
    this.fingerprint = new FingerprintModule({
      r307: o.platform.r307,
      keystore: o.keystore,
      clock: this.clock,
      maxAttempts: o.config.maxFingerAttempts,
      fingerTimeoutMs: o.config.fingerTimeoutMs,
    });
    this.generate = new QrGenerateModule({ display: o.platform.display, clock: this.clock, maxShowMs: o.config.paycodeShowMs });
    const max = this.fingerprint.maxAttempts;
    this.fingerprint.on('prompt', (p) => this.emit('finger', { kind: 'prompt', attempt: p.attempt, maxAttempts: max }));
    this.fingerprint.on('lift', (p) => this.emit('finger', { kind: 'lift', attempt: p.attempt, maxAttempts: max }));
    this.fingerprint.on('press', (p) =>
      this.emit('finger', { kind: 'press', attempt: p.attempt, matched: p.matched, slot: p.slot }),
    );
    this.current = o.keystore.locked ? 'locked' : 'idle';
    const onResult = (r: PaymentResult, info: { first: boolean }) => this.onResult(r, info.first);
    this.uplink.on('result', onResult);
    this.offResult = () => this.uplink.off('result', onResult);
  }

  get state(): ChainState {
    return this.current;
  }

  /** Shows the idle (or locked) screen. */
  async showIdle(): Promise<void> {
    await this.show(this.keystore.locked ? { kind: 'locked' } : { kind: 'idle' });
  }

  /** Cancels the running flow (the holder pressed cancel). */
  cancel(): void {
    this.abort?.abort(new CanceledError('canceled by the holder', { device: NS }));
  }

  /** A host unlocks payments after a lockout. */
  async unlock(): Promise<void> {
    await this.pin?.unlock?.();
    this.keystore.unlockPayments();
    if (!this.busy) this.setState('idle');
    await this.showIdle();
  }

  /** Stops listening to the uplink (the platform and uplink belong to the caller). */
  dispose(): void {
    this.cancel();
    this.offResult();
  }

  // ------------------------------------------------------------------ registration

  /**
   * Registration (DESIGN §4): enrol `fingers` fingers on the R307 (or reuse enrolments
   * already in the keystore), then register public key + slot digests with the cloud and
   * keep the sealed pay-code seed.
   */
  async register(o: { account: string; fingers?: number; slots?: number[] }): Promise<Enrolment[]> {
    return this.run('register', async (signal) => {
      this.setState('registering', 'register');
      const enrolments: Enrolment[] = [];
      for (const slot of o.slots ?? []) enrolments.push({ slot, templateSha256: await this.fingerprint.digest(slot, signal) });
      for (let i = 0; i < (o.fingers ?? (o.slots?.length ? 0 : 1)); i++) {
        await this.show({ kind: 'finger', message: `Enrol finger ${i + 1}` });
        enrolments.push(await this.fingerprint.enrol({ signal }));
      }
      await this.show({ kind: 'processing', step: 'Registering with the cloud' });
      await this.fingerprint.register({
        uplink: this.uplink,
        account: o.account,
        enrolments,
        timeoutMs: this.config.resultTimeoutMs,
      });
      this.setState('idle', 'register');
      await this.show({ kind: 'idle', status: `Registered: ${o.account}` });
      return enrolments;
    });
  }

  // ------------------------------------------------------------------ scan to pay

  async scanToPay(): Promise<PaymentOutcome> {
    return this.run('scan', async (signal) => {
      // 1. scan the merchant's QR
      this.setState('scanning', 'scan');
      await this.show({ kind: 'processing', step: "Scan the merchant's QR" });
      let text: string;
      try {
        const r = await this.platform.scanner.scanOnce({ timeoutMs: this.config.scanTimeoutMs, signal });
        text = r.text;
        if (r.payload.kind !== 'emv')
          return this.decline(
            'scan',
            'INVALID_QR',
            `not a merchant code (${r.payload.kind === 'unsupported' ? r.payload.reason : r.payload.kind})`,
          );
      } catch (err) {
        if (signal.aborted) throw err;
        if ((err as HandsetError).code === 'SCAN_TIMEOUT') return this.decline('scan', 'SCAN_TIMEOUT', 'no QR code seen');
        throw err;
      }

      // 2. parse + validate (CRC, mandatory fields, our template)
      const req = merchantRequest(text);
      if ('problem' in req) return this.decline('scan', 'INVALID_QR', req.problem);
      this.emit('scanned', req);

      // 3. show merchant and amount
      this.setState('confirming', 'scan');
      await this.show({ kind: 'confirm', merchant: req.merchantName, amount: req.amount, reference: req.orderRef });

      // 4. fingerprint verify, 5. PIN step-up where required
      const grant = await this.authenticate('scan', req.amount, signal);
      if ('declined' in grant) return grant.declined;

      // 6. sign (counter reserved on disk first), 7. outbox, 8. MQTT
      this.setState('signing', 'scan');
      const counter = this.keystore.reserveCounter();
      const now = this.clock.now();
      const auth = this.keystore.signAuthorisation(grant.grant, {
        paymentId: newPaymentId((n) => this.keystore.crypto.randomBytes(n), now),
        account: this.account(),
        merchantId: req.merchantId,
        orderRef: req.orderRef,
        amount: req.amount.minor,
        currency: req.amount.currency,
        counter,
        ts: now,
      });
      this.setState('sending', 'scan');
      this.pendingPayments.add(auth.paymentId);
      await this.uplink.sendAuthorisation(auth, encodeMessageText('authorisation', auth));
      this.emit('authorised', {
        paymentId: auth.paymentId,
        counter,
        amount: req.amount,
        merchantId: req.merchantId,
        orderRef: req.orderRef,
      });

      // 9. wait for the result, 10. receipt
      this.setState('awaiting-result', 'scan');
      await this.show({ kind: 'processing', step: 'Authorising payment' });
      const result = await this.uplink.resultOf(auth.paymentId, this.config.resultTimeoutMs, signal);
      if (!result) {
        this.setState('pending', 'scan');
        await this.show({ kind: 'error', title: 'Pending', message: 'No answer yet. The payment will be retried.' });
        const out: PaymentOutcome = { status: 'pending', flow: 'scan', paymentId: auth.paymentId };
        this.emit('outcome', out);
        return out;
      }
      this.pendingPayments.delete(auth.paymentId);
      return this.receipt('scan', result, { ...req });
    });
  }

  // ------------------------------------------------------------------ show to pay

  async showToPay(o: { amount?: Money } = {}): Promise<PaymentOutcome> {
    return this.run('paycode', async (signal) => {
      const p = this.keystore.paycode;
      if (!p) return this.decline('paycode', 'NOT_REGISTERED', 'register the handset first');
      const grant = await this.authenticate('paycode', o.amount, signal, false);
      if ('declined' in grant) return grant.declined;

      this.setState('showing-paycode', 'paycode');
      let seed: Uint8Array | undefined = this.keystore.paycodeSeed(grant.grant);
      const shown: number[] = [];
      const make = () => {
        const now = this.clock.now();
        const step = Math.max(paycodeStep(now, p.stepSeconds), p.lastUsedStep + 1, shown.at(-1) ?? -1);
        const g = generatePaycode(this.keystore.crypto, {
          seed: seed as Uint8Array,
          index: p.index,
          nowMs: now,
          step,
          stepSeconds: p.stepSeconds,
        });
        shown.push(g.step);
        this.emit('paycode', { code: g.code, step: g.step, validUntilMs: g.validUntilMs });
        return { code: g.code, validUntilMs: g.validUntilMs };
      };
      const session = new AbortController();
      const onAbort = () => session.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      let result: PaymentResult | undefined;
      this.paycodeSession = {
        onResult: (r) => {
          if (r.flow !== 'paycode' || result) return;
          result = r;
          session.abort('result');
        },
      };
      try {
        const first = make();
        const r = await this.generate.showPayCode({
          code: first,
          amount: o.amount,
          nextCode: make,
          refreshEveryMs: p.stepSeconds * 1000,
          signal: session.signal,
        });
        if (result) {
          this.keystore.markPaycodeStep(Math.max(...shown));
          return this.receipt('paycode', result, undefined);
        }
        if (signal.aborted) throw signal.reason;
        this.setState('expired', 'paycode');
        const out: PaymentOutcome = { status: 'expired', flow: 'paycode', codes: r.codes };
        this.emit('outcome', out);
        return out;
      } finally {
        seed?.fill(0);
        seed = undefined;
        this.paycodeSession = undefined;
        signal.removeEventListener('abort', onAbort);
      }
    });
  }

  // ------------------------------------------------------------------ steps

  /** Fingerprint verify, then the PIN step-up where DESIGN §4 requires it. */
  private async authenticate(
    flow: 'scan' | 'paycode',
    amount: Money | undefined,
    signal: AbortSignal,
    stepUpOverLimit = true,
  ): Promise<{ grant: SigningGrant } | { declined: PaymentOutcome }> {
    this.setState('verifying', flow);
    let attemptsLeft = this.fingerprint.maxAttempts;
    const onPrompt = (e: ChainEvents['finger'][0]) => {
      if (e.kind === 'prompt') attemptsLeft = e.maxAttempts - e.attempt + 1;
    };
    this.on('finger', onPrompt);
    await this.show({ kind: 'finger', amount, attemptsLeft });
    let v: VerifyOutcome;
    try {
      v = await this.fingerprint.verify({ signal });
    } finally {
      this.off('finger', onPrompt);
    }
    const overLimit = stepUpOverLimit && amount !== undefined && amount.minor > this.config.stepUpLimit;
    if (v.matched && !overLimit) return { grant: v.grant };
    if (!v.matched && !v.pinStepUp) return { declined: await this.decline(flow, 'FINGER_TIMEOUT', 'no finger on the sensor') };
    // PIN step-up: over the limit, after the last miss, or without a sensor
    this.setState('step-up', flow);
    if (!this.pin) {
      const why = v.matched
        ? 'amount over the step-up limit'
        : v.reason === 'no_match'
          ? `${v.attempts} fingerprint misses`
          : 'sensor unavailable';
      if (!v.matched && v.reason === 'no_match') this.keystore.lock('fingerprint_failed_no_pin', this.clock.now());
      return {
        declined: await this.decline(flow, 'PIN_REQUIRED_UNAVAILABLE', `PIN required (${why}) but no PIN pad is available`),
      };
    }
    const pin = await this.pin.requestPin({
      reason: v.matched ? 'step_up' : v.reason === 'no_match' ? 'fingerprint_failed' : 'sensor_unavailable',
      amount,
      signal,
    });
    if (!pin.ok) {
      // too many wrong PINs: payments stay locked (keystore, survives restarts) until a host unlocks
      if (pin.reason === 'locked') this.keystore.lock('pin_locked', this.clock.now());
      return { declined: await this.decline(flow, `PIN_${pin.reason.toUpperCase()}`) };
    }
    const base = v.matched ? { slot: v.slot, score: v.score } : { slot: -1, score: 0 };
    return { grant: this.keystore.unlock({ ...base, method: 'fingerprint+pin' }) };
  }

  private async receipt(flow: 'scan' | 'paycode', r: PaymentResult, asked: MerchantRequest | undefined): Promise<PaymentOutcome> {
    const amount: Money = { minor: r.authorisedAmount, currency: r.currency };
    if (asked) {
      const same =
        r.merchantId === asked.merchantId &&
        r.orderRef === asked.orderRef &&
        r.currency === asked.amount.currency &&
        r.authorisedAmount === asked.amount.minor;
      if (!same) return this.decline(flow, 'RESULT_MISMATCH', 'the result does not match what was signed', r);
    }
    if (r.status === 'approved' && r.bookedAmount === r.authorisedAmount) {
      this.setState('paid', flow);
      await this.show({ kind: 'paid', merchant: asked?.merchantName ?? r.merchantId, amount, reference: r.orderRef });
      const out: PaymentOutcome = {
        status: 'paid',
        flow,
        paymentId: r.paymentId,
        merchantId: r.merchantId,
        orderRef: r.orderRef,
        amount,
        result: r,
      };
      this.emit('outcome', out);
      return out;
    }
    return this.decline(flow, r.reason ?? 'declined', undefined, r, asked?.merchantName ?? r.merchantId, amount);
  }

  private async decline(
    flow: 'scan' | 'paycode',
    reason: string,
    detail?: string,
    result?: PaymentResult,
    merchant?: string,
    amount?: Money,
  ): Promise<PaymentOutcome> {
    const locked = this.keystore.locked !== undefined;
    this.setState(locked ? 'locked' : 'declined', flow);
    await this.show({ kind: 'declined', reason: reason.replaceAll('_', ' ').toLowerCase(), merchant, amount });
    const out: PaymentOutcome = { status: 'declined', flow, reason, paymentId: result?.paymentId, result, detail };
    this.emit('outcome', out);
    return out;
  }

  private onResult(r: PaymentResult, first: boolean): void {
    this.emit('result', r, first);
    this.paycodeSession?.onResult(r);
    if (first && this.pendingPayments.has(r.paymentId) && !this.busy) {
      // a late answer to a payment that showed "pending": put the receipt up
      this.pendingPayments.delete(r.paymentId);
      void this.run('scan', async () => this.receipt('scan', r, undefined)).catch(() => undefined);
    }
  }

  private account(): string {
    const a = this.keystore.registration?.account;
    if (!a) throw new HandsetError('NOT_REGISTERED', 'the handset is not registered', { device: NS });
    return a;
  }

  private async run<T>(flow: Flow, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.busy) throw new ChainBusyError(this.current);
    if (this.keystore.locked && flow !== 'register') {
      this.busy = true;
      try {
        this.setState('locked', flow);
        await this.show({ kind: 'locked' });
        const out: PaymentOutcome = {
          status: 'declined',
          flow: flow as 'scan',
          reason: 'HANDSET_LOCKED',
          detail: this.keystore.locked.reason,
        };
        this.emit('outcome', out);
        return out as T;
      } finally {
        this.busy = false;
      }
    }
    this.busy = true;
    const ac = new AbortController();
    this.abort = ac;
    try {
      return await body(ac.signal);
    } catch (err) {
      if (ac.signal.aborted && (flow === 'scan' || flow === 'paycode')) {
        const out = await this.decline(flow, 'CANCELED', 'canceled');
        return out as T;
      }
      this.setState('error', flow);
      const e = err instanceof HandsetError ? err : new HandsetError('CHAIN_FAILED', String(err), { device: NS, cause: err });
      await this.show({ kind: 'error', message: e.message.slice(0, 80), code: e.code }).catch(() => undefined);
      throw e;
    } finally {
      this.busy = false;
      this.abort = undefined;
    }
  }

  private setState(to: ChainState, flow?: Flow): void {
    const from = this.current;
    this.current = to;
    if (from !== to) this.emit('state', { from, to, flow });
  }

  private async show(screen: Screen): Promise<void> {
    this.emit('screen', screen);
    await this.platform.presenter.show(screen);
  }
}

/** EMV MPM -> what the handset needs, or the first reason it cannot pay it. */
export function merchantRequest(payload: string): MerchantRequest | { problem: string } {
  const p = parseMpm(payload);
  if (!p.ok) {
    const first = p.problems.find((x) => x.severity === 'error');
    return { problem: `merchant QR refused: ${first ? `${first.code} ${first.message}` : 'CRC mismatch'}` };
  }
  const h = p.data.handset;
  if (!h?.merchantId || !h.orderRef) return { problem: 'not a Handset merchant code (no io.handset.pay template)' };
  const minor = p.data.amount?.minor;
  if (minor === undefined || minor <= 0n) return { problem: 'the merchant QR has no amount (static codes are not supported)' };
  const currency = p.data.currency?.alpha;
  if (!currency) return { problem: 'the merchant QR has an unknown currency' };
  return {
    merchantId: h.merchantId,
    merchantName: p.data.merchantName ?? h.merchantId,
    orderRef: h.orderRef,
    amount: { minor, currency },
    payload,
  };
}
