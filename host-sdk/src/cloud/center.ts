/**
 * The service center's decisions, independent of transport (MQTT and HTTP both call
 * it): registration, authorisation (scan-to-pay), pay-code charges (show-to-pay),
 * capture / void / refund, and the operator actions.
 *
 * How a payment is decided, in batches (the MQTT ingest hands over whatever arrived in
 * one event-loop turn):
 *   A. stateless: decode + schema, topic id = message id, device known, signature,
 *      idempotency (payment id seen before? same request -> first outcome; other
 *      request -> idempotency_conflict, nothing booked);
 *   B. one registry transaction: device status, counter strictly increasing, time
 *      window, merchant, order match, limits + PIN step-up, pay code consumed once;
 *      the payment row is written `processing` (or `declined`) and the order claimed;
 *   C. one ledger call (group commit): `pa-{id}` pending + `pc-{id}` post;
 *   D. one registry transaction: `approved` / `declined` from the ledger's answer.
 * A crash between B and D leaves `processing`; the next delivery of the same message
 * resumes at C, where the ledger replays its first outcome: never a second booking, and
 * a retry never changes the outcome.
 */
import { type Clock, HandsetError, systemClock } from '@handset/device-drivers/core';
import {
  type Authorisation,
  authorisationSignatureCheck,
  authorisationSigningBytes,
  type CryptoProvider,
  type DeclineReason,
  decodeMessage,
  type MerchantCharge,
  MessageError,
  nodeCrypto,
  PAYCODE_STEP_SECONDS,
  type PaycodeError,
  type PaymentResult,
  parsePaycode,
  paycodeIndex,
  type RegistrationRequest,
  type RegistrationResponse,
  toBase64Url,
  verifyPaycode,
  verifyRegistration,
} from '../protocol/index';
import { BadRequestError, IdempotencyConflictError, NotFoundError, RefundRefusedError, StateError } from './errors';
import { ACCOUNT_CODE, ledgerIds, sha256Hex, TRANSFER_CODE } from './ids';
import {
  checkLedgerInvariants,
  type InvariantReport,
  type LedgerStore,
  type TransferInput,
  type TransferResultCode,
} from './ledger/index';
import { type CloudLogger, silentLogger } from './log';
import type {
  DeviceRecord,
  MerchantRecord,
  OrderRecord,
  PaymentRecord,
  RefundRecord,
  RegistryStore,
  RegistryTx,
  UserRecord,
} from './registry/index';
import { prefetched } from './registry/prefetch';
import type { SeedVault } from './registry/vault';
import type { StoreScope, UnitOfWork } from './stores';
import type { BatchVerifier, SignatureCheck } from './verify-pool';

/** Payment rules. Amounts are minor units of the payment's currency. */
export interface CloudPolicy {
  /** Oldest accepted authorisation timestamp, relative to the cloud clock. Default 120 s. */
  maxAgeMs: number;
  /** Newest accepted (handset clock ahead). Default 30 s. */
  maxFutureSkewMs: number;
  /** Above this amount the method must be 'fingerprint+pin' (and pay codes are refused). Default 5,000 (50.00). */
  stepUpLimit: bigint;
  /** No single payment above this. Default 1,000,000 (10,000.00). */
  maxPaymentAmount: bigint;
  /** Consecutive bad signatures / stale counters before the device is locked. Default 5. */
  maxSecurityFailures: number;
  /** How long a manual-capture reservation lives before it expires. Default 7 days. */
  reservationSeconds: number;
  /** Default lifetime of an order created without `expiresAt`. Default 15 min. */
  orderTtlMs: number;
}

export const DEFAULT_POLICY: CloudPolicy = {
  maxAgeMs: 120_000,
  maxFutureSkewMs: 30_000,
  stepUpLimit: 5_000n,
  maxPaymentAmount: 1_000_000n,
  maxSecurityFailures: 5,
  reservationSeconds: 7 * 24 * 3600,
  orderTtlMs: 15 * 60_000,
};

export interface CenterOptions {
  registry: RegistryStore;
  /** Put a GroupCommitLedger here for throughput. */
  ledger: LedgerStore;
  /**
   * Both stores in one transaction (`OpenStores.unitOfWork`, SQLite): each payment batch
   * is then decided in ONE commit - claim, booking and finalise together - instead of
   * three.
   */
  unitOfWork?: UnitOfWork;
  /**
   * Checks a batch's signatures (the service passes an `Ed25519VerifyPool`: worker
   * threads). Default: each on libuv's thread pool, or inline if the crypto provider
   * has no async verify.
   */
  verifier?: BatchVerifier;
  vault: SeedVault;
  clock?: Clock;
  crypto?: CryptoProvider;
  logger?: CloudLogger;
  policy?: Partial<CloudPolicy>;
}

/** One authorisation as it arrived: raw bytes (or a decoded message) and the device id from its topic. */
export interface AuthInput {
  payload: Uint8Array | string | Authorisation;
  /** Device id taken from the MQTT topic (undefined over HTTP). */
  topicDeviceId?: string;
  receivedAt?: number;
}

export interface ChargeInput {
  payload: Uint8Array | string | MerchantCharge;
  /** Merchant id taken from the MQTT topic / HTTP path. */
  topicMerchantId?: string;
  receivedAt?: number;
}

/**
 * What happened to one input. `result` is the message to publish (when one can be
 * built); `to` says who gets it. `rejected` inputs could not even be read: typed code,
 * nothing booked, nothing published.
 */
export type Outcome =
  | { kind: 'result'; result: PaymentResult; to: { device: boolean; merchant: boolean }; replayed: boolean }
  | { kind: 'rejected'; code: string; message: string };

const UNKNOWN_DEVICE = 'hs-unknown';

interface Candidate {
  i: number;
  flow: 'scan' | 'paycode';
  paymentId: string;
  hash: string;
  receivedAt: number;
  deviceId: string;
  merchantId: string;
  orderRef: string;
  amount: bigint;
  currency: string;
  auth?: Authorisation;
  charge?: MerchantCharge;
  /** Set once decided or found. */
  record?: PaymentRecord;
  /** Found `processing` (a crash or a concurrent worker): continue at the booking step. */
  resumed?: boolean;
  /** The payment row existed before this call (the outcome is a replay). */
  existed?: boolean;
}

export class CloudCenter {
  readonly registry: RegistryStore;
  readonly ledger: LedgerStore;
  readonly clock: Clock;
  private readonly unitOfWork: UnitOfWork;
  private readonly verifier: BatchVerifier;
  readonly crypto: CryptoProvider;
  readonly policy: CloudPolicy;
  private readonly vault: SeedVault;
  private readonly log: CloudLogger;
  /** Users and merchants never change once created: read once per worker. */
  private readonly users = new Map<string, UserRecord>();
  private readonly merchants = new Map<string, MerchantRecord>();
  /** A device's public key never changes once registered: read once per worker (at most 100,000 kept). */
  private readonly publicKeys = new Map<string, string>();
  /**
   * Claim, booking and finalise of a batch run in one transaction (`unitOfWork` given):
   * nothing else can change a payment between them, so the steps skip their re-reads, and
   * a known payment id is found by the claim itself.
   */
  private readonly atomic: boolean;
  /** Batches waiting for the next unit of work (atomic stores), and whether one is running. */
  private readonly waiting: Array<{
    cands: Candidate[];
    resolve: (finals: Map<string, PaymentRecord>) => void;
    reject: (err: Error) => void;
  }> = [];
  private deciding = false;

  constructor(o: CenterOptions) {
    this.registry = o.registry;
    this.ledger = o.ledger;
    this.unitOfWork = o.unitOfWork ?? ((fn) => fn({ registry: this.registry, ledger: this.ledger }));
    this.atomic = Boolean(o.unitOfWork);
    this.vault = o.vault;
    this.clock = o.clock ?? systemClock;
    this.crypto = o.crypto ?? nodeCrypto;
    const crypto = this.crypto;
    this.verifier =
      o.verifier ??
      ((checks) =>
        Promise.all(
          checks.map((c) =>
            crypto.ed25519VerifyAsync
              ? crypto.ed25519VerifyAsync(c.publicKey, c.message, c.signature)
              : crypto.ed25519Verify(c.publicKey, c.message, c.signature),
          ),
        ));
    this.log = o.logger ?? silentLogger;
    this.policy = { ...DEFAULT_POLICY, ...o.policy };
  }

  // ---------------------------------------------------------------- setup / operators

  /** Creates a consumer (and its ledger account, balance limited at 0). Idempotent. */
  async createUser(u: { account: string; name?: string; currency: string }): Promise<UserRecord> {
    const rec: UserRecord = { account: u.account, name: u.name ?? u.account, currency: u.currency, createdAt: this.clock.now() };
    await this.ledger.createAccounts([
      { id: ledgerIds.issuer(u.currency), currency: u.currency, code: ACCOUNT_CODE.issuer },
      {
        id: ledgerIds.user(u.account),
        currency: u.currency,
        code: ACCOUNT_CODE.consumer,
        flags: { debitsMustNotExceedCredits: true },
      },
    ]);
    await this.registry.read.insertUser(rec);
    const got = (await this.registry.read.getUser(u.account))!;
    if (got.currency !== u.currency)
      throw new IdempotencyConflictError(`account ${u.account} exists with currency ${got.currency}`);
    return got;
  }

  /** Creates a merchant and its ledger account. Idempotent. */
  async createMerchant(m: { merchantId: string; name?: string; currency: string }): Promise<MerchantRecord> {
    const rec: MerchantRecord = {
      merchantId: m.merchantId,
      name: m.name ?? m.merchantId,
      currency: m.currency,
      createdAt: this.clock.now(),
    };
    await this.ledger.createAccounts([
      { id: ledgerIds.issuer(m.currency), currency: m.currency, code: ACCOUNT_CODE.issuer },
      { id: ledgerIds.merchant(m.merchantId), currency: m.currency, code: ACCOUNT_CODE.merchant },
    ]);
    await this.registry.read.insertMerchant(rec);
    const got = (await this.registry.read.getMerchant(m.merchantId))!;
    if (got.currency !== m.currency)
      throw new IdempotencyConflictError(`merchant ${m.merchantId} exists with currency ${got.currency}`);
    return got;
  }

  /** Tops up a consumer from the issuer account (operator action; `key` makes it idempotent). */
  async deposit(account: string, amount: bigint, key: string): Promise<{ transferId: string; replayed: boolean }> {
    const user = await this.registry.read.getUser(account);
    if (!user) throw new NotFoundError('account', account);
    if (amount <= 0n) throw new BadRequestError('deposit amount must be > 0');
    const id = ledgerIds.deposit(account, key);
    const [r] = await this.ledger.createTransfers([
      {
        id,
        debitAccountId: ledgerIds.issuer(user.currency),
        creditAccountId: ledgerIds.user(account),
        amount,
        currency: user.currency,
        code: TRANSFER_CODE.deposit,
        userData: `deposit:${account}`,
      },
    ]);
    if (r?.result === 'exists_with_different_fields')
      throw new IdempotencyConflictError(`deposit key ${key} was used with another amount`);
    if (r?.result !== 'ok') throw new StateError('DEPOSIT_REFUSED', `ledger refused the deposit: ${r?.result}`);
    return { transferId: id, replayed: r.replayed };
  }

  /** A merchant's order (the amount due). Same ref + same body = idempotent; other body = conflict. */
  async createOrder(o: {
    merchantId: string;
    orderRef: string;
    amount: bigint;
    currency: string;
    expiresAt?: number;
    capture?: 'auto' | 'manual';
  }): Promise<OrderRecord> {
    const merchant = await this.registry.read.getMerchant(o.merchantId);
    if (!merchant) throw new NotFoundError('merchant', o.merchantId);
    if (o.amount <= 0n) throw new BadRequestError('amount must be > 0');
    if (o.currency !== merchant.currency)
      throw new BadRequestError(`merchant ${o.merchantId} takes ${merchant.currency}, not ${o.currency}`);
    const now = this.clock.now();
    const rec: OrderRecord = {
      merchantId: o.merchantId,
      orderRef: o.orderRef,
      amount: o.amount,
      currency: o.currency,
      status: 'open',
      paymentId: null,
      capture: o.capture ?? 'auto',
      createdAt: now,
      expiresAt: o.expiresAt ?? now + this.policy.orderTtlMs,
    };
    if (!(await this.registry.read.insertOrder(rec))) {
      const got = (await this.registry.read.getOrder(o.merchantId, o.orderRef))!;
      if (got.amount !== o.amount || got.currency !== o.currency || got.capture !== rec.capture) {
        throw new IdempotencyConflictError(`order ${o.orderRef} exists with a different amount or currency`, {
          orderRef: o.orderRef,
        });
      }
      return got;
    }
    return rec;
  }

  async lockDevice(deviceId: string, reason = 'operator'): Promise<DeviceRecord> {
    if (!(await this.registry.read.updateDevice(deviceId, { status: 'locked', lockReason: reason }))) {
      throw new NotFoundError('device', deviceId);
    }
    this.log.warn('device.locked', { deviceId, reason });
    return (await this.registry.read.getDevice(deviceId, false, true))!;
  }

  /** A host unlocks a device (after a PIN lockout or too many failures): status active, failures 0. */
  async unlockDevice(deviceId: string): Promise<DeviceRecord> {
    const d = await this.registry.read.getDevice(deviceId);
    if (!d) throw new NotFoundError('device', deviceId);
    if (d.status === 'revoked') throw new StateError('DEVICE_REVOKED', `device ${deviceId} is revoked`);
    await this.registry.read.updateDevice(deviceId, { status: 'active', failures: 0, lockReason: null });
    this.log.info('device.unlocked', { deviceId });
    return (await this.registry.read.getDevice(deviceId, false, true))!;
  }

  async balances(accountIds: string[]) {
    return this.ledger.lookupAccounts(accountIds);
  }

  // ---------------------------------------------------------------- registration

  /**
   * Registers a handset: proof of key possession (signature), account exists, time
   * window; stores the public key, enrolment digests, and a fresh pay-code seed sealed
   * with the vault key. The clear seed is returned in this response only. A retry of
   * the same request (same requestId, same key) returns the same grant.
   */
  async register(payload: Uint8Array | string | RegistrationRequest): Promise<RegistrationResponse> {
    let req: RegistrationRequest;
    try {
      req =
        typeof payload === 'object' && !(payload instanceof Uint8Array)
          ? payload
          : decodeMessage('registration.request', payload);
    } catch (err) {
      this.log.warn('register.rejected', { code: (err as HandsetError).code });
      throw err instanceof HandsetError ? err : new BadRequestError(String(err));
    }
    const now = this.clock.now();
    const reject = (reason: NonNullable<RegistrationResponse['reason']>): RegistrationResponse => {
      this.log.warn('register.rejected', { deviceId: req.deviceId, reason });
      return {
        v: 1,
        type: 'registration.response',
        requestId: req.requestId,
        deviceId: req.deviceId,
        status: 'rejected',
        reason,
        ts: now,
      };
    };
    if (!verifyRegistration(this.crypto, req)) return reject('bad_signature');
    if (req.ts < now - this.policy.maxAgeMs || req.ts > now + this.policy.maxFutureSkewMs) return reject('stale');
    const user = await this.registry.read.getUser(req.account);
    if (!user) return reject('unknown_account');
    const grant = async (d: DeviceRecord): Promise<RegistrationResponse> => ({
      v: 1,
      type: 'registration.response',
      requestId: req.requestId,
      deviceId: d.deviceId,
      status: 'registered',
      account: d.account,
      paycode: {
        index: d.paycodeIndex,
        seed: toBase64Url(this.vault.open(d.seedSealed, d.deviceId)),
        stepSeconds: d.stepSeconds,
      },
      ts: now,
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.registry.read.getDevice(req.deviceId);
      if (existing) {
        if (existing.registrationId === req.requestId && existing.publicKey === req.publicKey) return grant(existing);
        return reject('device_exists');
      }
      const seed = this.crypto.randomBytes(32);
      const idx = this.crypto.randomBytes(8);
      const index = paycodeIndex(new DataView(idx.buffer, idx.byteOffset, 8).getBigUint64(0) % 10n ** 10n);
      const rec: DeviceRecord = {
        deviceId: req.deviceId,
        account: req.account,
        publicKey: req.publicKey,
        lastCounter: 0,
        status: 'active',
        failures: 0,
        lockReason: null,
        paycodeIndex: index,
        seedSealed: this.vault.seal(seed, req.deviceId),
        stepSeconds: PAYCODE_STEP_SECONDS,
        registrationId: req.requestId,
        registeredAt: now,
        enrolments: req.slots.map((s) => ({ slot: s.slot, templateSha256: s.templateSha256 })),
      };
      if (await this.registry.tx((r) => r.insertDevice(rec))) {
        this.log.info('register.ok', { deviceId: rec.deviceId, account: rec.account, slots: rec.enrolments?.length ?? 0 });
        return grant(rec);
      }
    }
    throw new StateError('REGISTRATION_RACE', `could not register ${req.deviceId}`);
  }

  // ---------------------------------------------------------------- payments

  /** Scan-to-pay authorisations, decided as one batch. One outcome per input, same order. */
  async authorise(inputs: readonly AuthInput[]): Promise<Outcome[]> {
    const out: Outcome[] = new Array(inputs.length);
    const cands: Candidate[] = [];
    // the batch's signatures are checked together, off the event loop
    const signed: Array<{ c: Candidate; deviceId: string; check?: SignatureCheck }> = [];
    for (const [i, input] of inputs.entries()) {
      const receivedAt = input.receivedAt ?? this.clock.now();
      let auth: Authorisation;
      try {
        auth =
          typeof input.payload === 'object' && !(input.payload instanceof Uint8Array)
            ? input.payload
            : decodeMessage('authorisation', input.payload);
      } catch (err) {
        out[i] = this.rejected('auth', err);
        continue;
      }
      if (input.topicDeviceId !== undefined && input.topicDeviceId !== auth.deviceId) {
        out[i] = this.rejected(
          'auth',
          new MessageError('DEVICE_MISMATCH', 'message device id differs from its topic', 'deviceId'),
        );
        continue;
      }
      const signedBytes = authorisationSigningBytes(auth);
      const c: Candidate = {
        i,
        flow: 'scan',
        paymentId: auth.paymentId,
        hash: sha256Hex(signedBytes),
        receivedAt,
        deviceId: auth.deviceId,
        merchantId: auth.merchantId,
        orderRef: auth.orderRef,
        amount: auth.amount,
        currency: auth.currency,
        auth,
      };
      const publicKey = await this.publicKeyOf(auth.deviceId);
      if (!publicKey) {
        out[i] = this.unrecorded(c, 'unknown_device', { device: true, merchant: false });
        continue;
      }
      signed.push({ c, deviceId: auth.deviceId, check: authorisationSignatureCheck(publicKey, auth, signedBytes) });
    }
    const wellFormed = signed.flatMap((s) => (s.check ? [s.check] : []));
    const verdicts = await this.verifier(wellFormed);
    let v = 0;
    for (const { c, deviceId, check } of signed) {
      if (!(check && verdicts[v++])) {
        await this.securityFailure(deviceId, 'bad_signature');
        out[c.i] = this.unrecorded(c, 'bad_signature', { device: true, merchant: false });
        continue;
      }
      const early = this.atomic ? undefined : await this.idempotency(c);
      if (early) out[c.i] = early;
      else cands.push(c);
    }
    await this.decide(cands, out);
    return out;
  }

  private async publicKeyOf(deviceId: string): Promise<string | undefined> {
    const known = this.publicKeys.get(deviceId);
    if (known) return known;
    const device = await this.registry.read.getDevice(deviceId);
    if (!device) return undefined;
    if (this.publicKeys.size >= 100_000) this.publicKeys.delete(this.publicKeys.keys().next().value!);
    this.publicKeys.set(deviceId, device.publicKey);
    return device.publicKey;
  }

  /** Show-to-pay: the merchant presents a pay code + amount. One outcome per input. */
  async charge(inputs: readonly ChargeInput[]): Promise<Outcome[]> {
    const out: Outcome[] = new Array(inputs.length);
    const cands: Candidate[] = [];
    for (const [i, input] of inputs.entries()) {
      const receivedAt = input.receivedAt ?? this.clock.now();
      let ch: MerchantCharge;
      try {
        ch =
          typeof input.payload === 'object' && !(input.payload instanceof Uint8Array)
            ? input.payload
            : decodeMessage('merchant.charge', input.payload);
      } catch (err) {
        out[i] = this.rejected('charge', err);
        continue;
      }
      if (input.topicMerchantId !== undefined && input.topicMerchantId !== ch.merchantId) {
        out[i] = this.rejected(
          'charge',
          new MessageError('MERCHANT_MISMATCH', 'message merchant id differs from its topic', 'merchantId'),
        );
        continue;
      }
      const c: Candidate = {
        i,
        flow: 'paycode',
        paymentId: ch.paymentId,
        hash: sha256Hex(JSON.stringify([ch.merchantId, ch.orderRef, ch.code, ch.amount.toString(), ch.currency])),
        receivedAt,
        deviceId: UNKNOWN_DEVICE,
        merchantId: ch.merchantId,
        orderRef: ch.orderRef,
        amount: ch.amount,
        currency: ch.currency,
        charge: ch,
      };
      let index: string;
      try {
        index = parsePaycode(ch.code).index;
      } catch (err) {
        this.log.warn('charge.paycode_malformed', { paymentId: c.paymentId, code: (err as PaycodeError).code });
        out[i] = this.unrecorded(c, 'paycode_invalid', { device: false, merchant: true });
        continue;
      }
      const device = await this.registry.read.getDeviceByPaycodeIndex(index);
      if (!device) {
        out[i] = this.unrecorded(c, 'paycode_invalid', { device: false, merchant: true });
        continue;
      }
      c.deviceId = device.deviceId;
      const early = this.atomic ? undefined : await this.idempotency(c);
      if (early) out[i] = early;
      else cands.push(c);
    }
    await this.decide(cands, out);
    return out;
  }

  /** Phase A idempotency: a known payment id returns its first outcome (or resumes `processing`). */
  private async idempotency(c: Candidate): Promise<Outcome | undefined> {
    const prior = await this.registry.read.getPayment(c.paymentId);
    if (!prior) return undefined;
    if (prior.requestHash !== c.hash) {
      this.log.warn('payment.idempotency_conflict', { paymentId: c.paymentId });
      return this.unrecorded(c, 'idempotency_conflict', { device: c.flow === 'scan', merchant: c.flow === 'paycode' });
    }
    if (prior.status === 'processing') {
      c.record = prior;
      c.resumed = true;
      c.existed = true;
      return undefined;
    }
    return { kind: 'result', result: this.resultOf(prior), to: { device: true, merchant: true }, replayed: true };
  }

  /**
   * Group commit of whole decisions (atomic stores): batches that reach this point while a
   * unit of work is running, or in the same event-loop turn, are decided together in the
   * next one - one claim, one booking, one finalise, one COMMIT. Under load the units grow
   * and the cost per payment falls; alone, a batch waits one turn. Every batch of a unit
   * gets the unit's records (keyed by payment id); a failed unit fails each of its batches.
   */
  private decideTogether(cands: Candidate[]): Promise<Map<string, PaymentRecord>> {
    if (!this.atomic) return this.unitOfWork((stores) => this.claimBookFinalise(cands, stores));
    return new Promise((resolve, reject) => {
      this.waiting.push({ cands, resolve, reject });
      if (this.deciding) return;
      this.deciding = true;
      setImmediate(() => void this.drainDecisions());
    });
  }

  private async drainDecisions(): Promise<void> {
    while (this.waiting.length) {
      const group = this.waiting.splice(0);
      try {
        const all = group.flatMap((g) => g.cands);
        const finals = await this.unitOfWork((stores) => this.claimBookFinalise(all, stores));
        for (const g of group) g.resolve(finals);
      } catch (err) {
        for (const g of group) g.reject(err as Error);
      }
    }
    this.deciding = false;
  }

  private async decide(cands: Candidate[], out: Outcome[]): Promise<void> {
    if (!cands.length) return;
    const finals = await this.decideTogether(cands);
    for (const c of cands) {
      let rec = finals.get(c.paymentId) ?? c.record;
      if (rec?.status === 'processing') rec = (await this.registry.read.getPayment(c.paymentId)) ?? rec;
      if (!rec || rec.status === 'processing') {
        out[c.i] = { kind: 'rejected', code: 'IN_PROGRESS', message: `payment ${c.paymentId} is still being decided` };
        continue;
      }
      if (rec.requestHash !== c.hash) {
        out[c.i] = this.unrecorded(c, 'idempotency_conflict', { device: c.flow === 'scan', merchant: c.flow === 'paycode' });
        continue;
      }
      out[c.i] = {
        kind: 'result',
        result: this.resultOf(rec),
        to: { device: true, merchant: true },
        replayed: Boolean(c.existed),
      };
      if (c.existed) continue;
      if (rec.status === 'approved')
        this.log.info('payment.approved', { paymentId: rec.paymentId, flow: rec.flow, amount: rec.amount });
      else
        this.log.warn('payment.declined', { paymentId: rec.paymentId, flow: rec.flow, reason: rec.reason, detail: rec.detail });
    }
  }

  /**
   * Phases B-D for one batch, on the stores of one unit of work. Resolves to the
   * finalised records by payment id.
   */
  private async claimBookFinalise(cands: Candidate[], { registry, ledger }: StoreScope): Promise<Map<string, PaymentRecord>> {
    // B: claim
    // Devices are locked in id order: decisions for one device are serialised across
    // workers (PostgreSQL), and two batches cannot deadlock. A retried transaction starts
    // again from the phase-A state.
    const fresh = cands
      .filter((c) => !c.resumed)
      .sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    await registry.tx(async (tx) => {
      for (const c of fresh) {
        c.record = undefined;
        c.existed = false;
        c.resumed = false;
      }
      // the batch's devices, payments and orders: one locked read per table, not per payment
      const r = await prefetched(tx, {
        devices: fresh.map((c) => c.deviceId),
        payments: fresh.map((c) => c.paymentId),
        orders: fresh.map((c) => ({ merchantId: c.merchantId, orderRef: c.orderRef })),
      });
      for (const c of fresh) {
        const device = (await r.getDevice(c.deviceId, true))!;
        const prior = await r.getPayment(c.paymentId, true);
        if (prior) {
          c.record = prior;
          c.resumed = prior.status === 'processing';
          c.existed = true;
          continue;
        }
        c.record = await this.claim(r, c, device);
      }
    });
    // A declined fresh payment whose reservation the ledger already holds: the registry
    // lost its claim (e.g. restored from an older backup than the ledger). The ledger is the truth.
    const declined = fresh.filter((c) => c.record?.status === 'declined' && !c.existed);
    if (declined.length) {
      const held = await ledger.lookupTransfers(declined.map((c) => ledgerIds.pending(c.paymentId)));
      const booked = new Set(held.filter((t) => t.result === 'ok').map((t) => t.userData));
      const redo = declined.filter((c) => booked.has(c.paymentId));
      if (redo.length) {
        await registry.tx(async (r) => {
          for (const c of redo) {
            const patch = { status: 'processing' as const, reason: null, detail: 'reconciled from the ledger', decidedAt: null };
            await r.updatePayment(c.paymentId, patch);
            c.record = { ...c.record!, ...patch };
            this.log.warn('payment.reconciled', { paymentId: c.paymentId });
          }
        });
      }
    }
    // C: book
    const booking = cands.filter((c) => c.record && c.record.status === 'processing');
    const transfers: TransferInput[] = [];
    const slots = new Map<Candidate, { start: number; count: number }>();
    const seen = new Set<string>();
    for (const c of booking) {
      if (seen.has(c.paymentId)) continue;
      seen.add(c.paymentId);
      const ts = this.paymentTransfers(c.record!);
      slots.set(c, { start: transfers.length, count: ts.length });
      transfers.push(...ts);
    }
    const results = transfers.length ? await ledger.createTransfers(transfers) : [];
    // D: finalise
    const decidedAt = this.clock.now();
    const finals = new Map<string, PaymentRecord>();
    if (slots.size) {
      await registry.tx(async (tx) => {
        const batch = [...slots.keys()].map((c) => c.record!);
        const r = this.atomic
          ? tx
          : await prefetched(tx, {
              payments: batch.map((p) => p.paymentId),
              orders: batch.map((p) => ({ merchantId: p.merchantId, orderRef: p.orderRef })),
            });
        for (const [c, slot] of slots) {
          const codes = results.slice(slot.start, slot.start + slot.count).map((x) => x.result);
          finals.set(c.paymentId, await this.finalise(r, c.record!, codes, decidedAt));
        }
      });
    }
    return finals;
  }

  /** Phase B for one new payment inside the claim transaction. */
  private async claim(r: RegistryTx, c: Candidate, device: DeviceRecord): Promise<PaymentRecord> {
    const now = this.clock.now();
    const base: PaymentRecord = {
      paymentId: c.paymentId,
      flow: c.flow,
      deviceId: c.deviceId,
      account: device.account,
      merchantId: c.merchantId,
      orderRef: c.orderRef,
      amount: c.amount,
      currency: c.currency,
      method: c.auth?.method ?? null,
      counter: c.auth?.counter ?? null,
      requestHash: c.hash,
      status: 'processing',
      reason: null,
      detail: null,
      receivedAt: c.receivedAt,
      decidedAt: null,
      ledgerTransferId: null,
      settlement: null,
      captured: 0n,
      refunded: 0n,
      capture: 'auto',
    };
    const decline = async (reason: DeclineReason, detail: string | null = null): Promise<PaymentRecord> => {
      const rec = { ...base, status: 'declined' as const, reason, detail, decidedAt: c.receivedAt };
      if (!(await r.insertPayment(rec))) throw new StateError('PAYMENT_RACE', `payment ${c.paymentId} was recorded concurrently`);
      return rec;
    };
    // pay code: verify and consume first (a presented code is spent whatever follows)
    if (c.charge) {
      const last = await r.lastPaycodeStep(device.deviceId);
      const seed = this.vault.open(device.seedSealed, device.deviceId);
      const v = verifyPaycode(this.crypto, c.charge.code, {
        seed,
        nowMs: now,
        lastUsedStep: last,
        stepSeconds: device.stepSeconds,
      });
      if (!v.ok) return decline(v.reason, v.reason === 'paycode_used' ? 'pay code already used' : 'pay code not valid now');
      await r.consumePaycodeStep(device.deviceId, v.step, c.paymentId, now);
    }
    if (device.status === 'locked') return decline('account_locked', device.lockReason);
    if (device.status !== 'active') return decline('unknown_device', device.status);
    if (c.auth) {
      const a = c.auth;
      if (a.account !== device.account) return decline('unknown_account', 'account is not the device owner');
      if (a.counter <= device.lastCounter) {
        await this.failureIn(r, device, 'stale_counter');
        return decline('stale_counter', `counter ${a.counter} <= ${device.lastCounter}`);
      }
      await r.updateDevice(device.deviceId, { lastCounter: a.counter, failures: 0 });
      if (a.ts < now - this.policy.maxAgeMs) return decline('expired', 'authorisation too old');
      if (a.ts > now + this.policy.maxFutureSkewMs) return decline('future_timestamp');
    }
    const user = this.users.get(device.account) ?? (await r.getUser(device.account));
    if (!user) return decline('unknown_account');
    this.users.set(user.account, user);
    const merchant = this.merchants.get(c.merchantId) ?? (await r.getMerchant(c.merchantId));
    if (!merchant) return decline('unknown_merchant');
    this.merchants.set(merchant.merchantId, merchant);
    let order = await r.getOrder(c.merchantId, c.orderRef, true);
    if (!order && c.charge) {
      order = {
        merchantId: c.merchantId,
        orderRef: c.orderRef,
        amount: c.amount,
        currency: c.currency,
        status: 'open',
        paymentId: null,
        capture: 'auto',
        createdAt: now,
        expiresAt: now + this.policy.orderTtlMs,
      };
      await r.insertOrder(order);
    }
    if (!order) return decline('unknown_order');
    if (order.status !== 'open' || order.paymentId)
      return decline('order_closed', `order ${order.status}: already paid or closed`);
    if (now > order.expiresAt) return decline('expired', 'order expired');
    if (c.currency !== order.currency || c.currency !== user.currency || c.currency !== merchant.currency) {
      return decline('currency_mismatch');
    }
    if (c.amount !== order.amount) return decline('amount_mismatch', `order due ${order.amount}, authorised ${c.amount}`);
    if (c.amount > this.policy.maxPaymentAmount) return decline('limit_exceeded', 'over the per-payment limit');
    if (c.amount > this.policy.stepUpLimit && c.auth?.method !== 'fingerprint+pin') {
      return c.charge
        ? decline('limit_exceeded', 'pay codes are limited to the step-up amount')
        : decline('pin_required', 'PIN step-up required');
    }
    const rec: PaymentRecord = { ...base, capture: order.capture };
    if (!(await r.insertPayment(rec))) throw new StateError('PAYMENT_RACE', `payment ${c.paymentId} was recorded concurrently`);
    await r.updateOrder(c.merchantId, c.orderRef, { paymentId: c.paymentId });
    return rec;
  }

  private paymentTransfers(p: PaymentRecord): TransferInput[] {
    const pending: TransferInput = {
      id: ledgerIds.pending(p.paymentId),
      debitAccountId: ledgerIds.user(p.account),
      creditAccountId: ledgerIds.merchant(p.merchantId),
      amount: p.amount,
      currency: p.currency,
      code: TRANSFER_CODE.payment,
      flags: { pending: true },
      timeoutSeconds: p.capture === 'manual' ? this.policy.reservationSeconds : 0,
      userData: p.paymentId,
    };
    if (p.capture === 'manual') return [pending];
    return [
      pending,
      {
        id: ledgerIds.capture(p.paymentId),
        pendingId: pending.id,
        currency: p.currency,
        code: TRANSFER_CODE.payment,
        flags: { postPending: true },
        userData: p.paymentId,
      },
    ];
  }

  /** Phase D: the ledger's answer decides; a decline releases the order claim. */
  private async finalise(
    r: RegistryTx,
    p: PaymentRecord,
    codes: TransferResultCode[],
    decidedAt: number,
  ): Promise<PaymentRecord> {
    // step by step (PostgreSQL), another worker may have finalised it since the claim
    const current = this.atomic ? p : await r.getPayment(p.paymentId, true);
    if (current && current.status !== 'processing') return current;
    const failed = codes.find((c) => c !== 'ok');
    if (!failed) {
      const manual = p.capture === 'manual';
      const patch = {
        status: 'approved' as const,
        decidedAt,
        ledgerTransferId: manual ? ledgerIds.pending(p.paymentId) : ledgerIds.capture(p.paymentId),
        settlement: manual ? ('pending' as const) : ('captured' as const),
        captured: manual ? 0n : p.amount,
      };
      await r.updatePayment(p.paymentId, patch);
      if (!manual) await r.updateOrder(p.merchantId, p.orderRef, { status: 'paid' });
      return { ...p, ...patch };
    }
    const reason: DeclineReason =
      failed === 'exceeds_credits'
        ? 'insufficient_funds'
        : failed === 'debit_account_not_found'
          ? 'unknown_account'
          : failed === 'credit_account_not_found'
            ? 'unknown_merchant'
            : failed.includes('currency')
              ? 'currency_mismatch'
              : 'internal_error';
    if (reason === 'internal_error') this.log.error('ledger.refused', { paymentId: p.paymentId, codes });
    const patch = { status: 'declined' as const, reason, detail: `ledger: ${failed}`, decidedAt };
    await r.updatePayment(p.paymentId, patch);
    const order = await r.getOrder(p.merchantId, p.orderRef, true);
    if (order?.paymentId === p.paymentId) await r.updateOrder(p.merchantId, p.orderRef, { paymentId: null });
    return { ...p, ...patch };
  }

  /** Capture a manual-capture payment (full, or partial: the remainder is released). */
  async capture(paymentId: string, amount?: bigint): Promise<PaymentRecord> {
    const p = await this.requireApproved(paymentId);
    if (p.settlement === 'captured') {
      if (amount === undefined || amount === p.captured) return p;
      throw new IdempotencyConflictError(`payment ${paymentId} was captured for ${p.captured}`);
    }
    if (p.settlement !== 'pending') throw new StateError('NOT_CAPTURABLE', `payment ${paymentId} is ${p.settlement}`);
    if (amount !== undefined && (amount <= 0n || amount > p.amount))
      throw new BadRequestError('capture amount must be 1..authorised');
    const [r] = await this.ledger.createTransfers([
      {
        id: ledgerIds.capture(paymentId),
        pendingId: ledgerIds.pending(paymentId),
        amount,
        currency: p.currency,
        code: TRANSFER_CODE.payment,
        flags: { postPending: true },
        userData: paymentId,
      },
    ]);
    if (r?.result === 'exists_with_different_fields')
      throw new IdempotencyConflictError(`payment ${paymentId} was captured differently`);
    if (r?.result === 'pending_transfer_expired') {
      await this.registry.read.updatePayment(paymentId, { settlement: 'expired' });
      throw new StateError('RESERVATION_EXPIRED', `the reservation of ${paymentId} expired`);
    }
    if (r?.result !== 'ok') throw new StateError('CAPTURE_REFUSED', `ledger refused the capture: ${r?.result}`);
    const [t] = await this.ledger.lookupTransfers([ledgerIds.capture(paymentId)]);
    await this.registry.tx(async (x) => {
      await x.updatePayment(paymentId, {
        settlement: 'captured',
        captured: t!.amount,
        ledgerTransferId: ledgerIds.capture(paymentId),
      });
      await x.updateOrder(p.merchantId, p.orderRef, { status: 'paid' });
    });
    return (await this.registry.read.getPayment(paymentId))!;
  }

  /** Void a manual-capture payment that is still pending: the reservation is released, the order reopens. */
  async voidPayment(paymentId: string): Promise<PaymentRecord> {
    const p = await this.requireApproved(paymentId);
    if (p.settlement === 'voided') return p;
    if (p.settlement !== 'pending')
      throw new StateError('NOT_VOIDABLE', `payment ${paymentId} is ${p.settlement}; refund it instead`);
    const [r] = await this.ledger.createTransfers([
      {
        id: ledgerIds.void(paymentId),
        pendingId: ledgerIds.pending(paymentId),
        currency: p.currency,
        code: TRANSFER_CODE.payment,
        flags: { voidPending: true },
        userData: paymentId,
      },
    ]);
    if (r?.result !== 'ok' && r?.result !== 'pending_transfer_expired') {
      throw new StateError('VOID_REFUSED', `ledger refused the void: ${r?.result}`);
    }
    await this.registry.tx(async (x) => {
      await x.updatePayment(paymentId, { settlement: r.result === 'ok' ? 'voided' : 'expired' });
      const o = await x.getOrder(p.merchantId, p.orderRef, true);
      if (o?.paymentId === paymentId) await x.updateOrder(p.merchantId, p.orderRef, { paymentId: null, status: 'open' });
    });
    return (await this.registry.read.getPayment(paymentId))!;
  }

  /**
   * Refund (full or partial) of a captured payment, never more than captured in total.
   * `key` is the idempotency key: same key + same amount = the first outcome; same key +
   * other amount = IdempotencyConflictError.
   */
  async refund(paymentId: string, amount: bigint, key: string): Promise<RefundRecord> {
    if (amount <= 0n) throw new BadRequestError('refund amount must be > 0');
    if (!key || key.length > 128) throw new BadRequestError('refund key must be 1..128 characters');
    const transferId = ledgerIds.refund(paymentId, key);
    const now = this.clock.now();
    // claim: reserve the refundable amount on the payment row
    const claimed = await this.registry.tx(async (r): Promise<{ refund: RefundRecord; fresh: boolean }> => {
      const existing = await r.getRefund(paymentId, key, true);
      if (existing) {
        if (existing.amount !== amount)
          throw new IdempotencyConflictError(`refund key ${key} was used for ${existing.amount}`, { key });
        return { refund: existing, fresh: false };
      }
      const p = await r.getPayment(paymentId, true);
      if (!p) throw new NotFoundError('payment', paymentId);
      if (p.status !== 'approved' || p.settlement !== 'captured') {
        throw new RefundRefusedError('NOT_REFUNDABLE', `payment ${paymentId} is ${p.status}/${p.settlement ?? '-'}`);
      }
      if (p.refunded + amount > p.captured) {
        throw new RefundRefusedError(
          'REFUND_EXCEEDS_CAPTURED',
          `refunds would total ${p.refunded + amount} > captured ${p.captured}`,
          {
            refunded: p.refunded.toString(),
            captured: p.captured.toString(),
          },
        );
      }
      const refund: RefundRecord = {
        refundId: transferId,
        paymentId,
        key,
        amount,
        status: 'processing',
        reason: null,
        transferId,
        createdAt: now,
      };
      await r.insertRefund(refund);
      await r.updatePayment(paymentId, { refunded: p.refunded + amount });
      return { refund, fresh: true };
    });
    if (claimed.refund.status !== 'processing') return claimed.refund;
    const p = (await this.registry.read.getPayment(paymentId))!;
    const [res] = await this.ledger.createTransfers([
      {
        id: transferId,
        debitAccountId: ledgerIds.merchant(p.merchantId),
        creditAccountId: ledgerIds.user(p.account),
        amount,
        currency: p.currency,
        code: TRANSFER_CODE.refund,
        userData: paymentId,
      },
    ]);
    const ok = res?.result === 'ok';
    await this.registry.tx(async (r) => {
      const cur = await r.getRefund(paymentId, key, true);
      if (cur?.status !== 'processing') return;
      await r.updateRefund(transferId, { status: ok ? 'succeeded' : 'failed', reason: ok ? null : (res?.result ?? 'unknown') });
      if (!ok) {
        const pay = (await r.getPayment(paymentId, true))!;
        await r.updatePayment(paymentId, { refunded: pay.refunded - amount });
      }
    });
    this.log.info(ok ? 'refund.ok' : 'refund.failed', { paymentId, amount, result: res?.result });
    return (await this.registry.read.getRefund(paymentId, key))!;
  }

  private async requireApproved(paymentId: string): Promise<PaymentRecord> {
    const p = await this.registry.read.getPayment(paymentId);
    if (!p) throw new NotFoundError('payment', paymentId);
    if (p.status !== 'approved') throw new StateError('NOT_APPROVED', `payment ${paymentId} is ${p.status}`);
    return p;
  }

  // ---------------------------------------------------------------- helpers

  private async securityFailure(deviceId: string, what: string): Promise<void> {
    await this.registry.tx(async (r) => {
      const d = await r.getDevice(deviceId, true);
      if (d) await this.failureIn(r, d, what);
    });
  }

  private async failureIn(r: RegistryTx, d: DeviceRecord, what: string): Promise<void> {
    const failures = d.failures + 1;
    const lock = d.status === 'active' && failures >= this.policy.maxSecurityFailures;
    await r.updateDevice(d.deviceId, lock ? { failures, status: 'locked', lockReason: 'too_many_failures' } : { failures });
    this.log.warn('device.security_failure', { deviceId: d.deviceId, what, failures, locked: lock });
  }

  private rejected(kind: string, err: unknown): Outcome {
    const code = err instanceof HandsetError ? err.code : 'MALFORMED';
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn(`${kind}.rejected`, { code, path: err instanceof MessageError ? err.path : undefined });
    return { kind: 'rejected', code, message };
  }

  /** A decline that is published but not recorded (the request was not authenticated, or conflicts). */
  private unrecorded(c: Candidate, reason: DeclineReason, to: { device: boolean; merchant: boolean }): Outcome {
    this.log.warn('payment.declined', { paymentId: c.paymentId, flow: c.flow, deviceId: c.deviceId, reason, recorded: false });
    const now = this.clock.now();
    return {
      kind: 'result',
      to,
      replayed: false,
      result: {
        v: 1,
        type: 'result',
        paymentId: c.paymentId,
        flow: c.flow,
        deviceId: c.deviceId,
        merchantId: c.merchantId,
        orderRef: c.orderRef,
        status: 'declined',
        reason,
        currency: c.currency,
        authorisedAmount: c.amount,
        bookedAmount: 0n,
        receivedAt: c.receivedAt,
        decidedAt: Math.max(now, c.receivedAt),
      },
    };
  }

  /** The result message of a decided payment (identical on every replay). */
  resultOf(p: PaymentRecord): PaymentResult {
    const approved = p.status === 'approved';
    return {
      v: 1,
      type: 'result',
      paymentId: p.paymentId,
      flow: p.flow,
      deviceId: p.deviceId,
      merchantId: p.merchantId,
      orderRef: p.orderRef,
      status: approved ? 'approved' : 'declined',
      ...(approved ? { ledgerTransferId: p.ledgerTransferId! } : { reason: p.reason ?? 'internal_error' }),
      currency: p.currency,
      authorisedAmount: p.amount,
      bookedAmount: approved ? p.amount : 0n,
      receivedAt: p.receivedAt,
      decidedAt: Math.max(p.decidedAt ?? p.receivedAt, p.receivedAt),
    };
  }

  /**
   * Ledger invariants plus the cross-checks between registry and ledger: every approved
   * payment has exactly its reservation booked, every declined one none, refunds never
   * exceed captures.
   */
  async checkInvariants(): Promise<InvariantReport> {
    const rep = await checkLedgerInvariants(this.ledger, { oncePerUserData: [TRANSFER_CODE.payment] });
    const payments = await this.registry.read.listPayments({ limit: 1_000_000 });
    const { transfers } = await this.ledger.dump();
    const booked = new Map(transfers.filter((t) => t.result === 'ok').map((t) => [t.id, t]));
    for (const p of payments) {
      const pend = booked.get(ledgerIds.pending(p.paymentId));
      if (p.status === 'approved' && !pend) rep.violations.push(`payment ${p.paymentId}: approved but not booked`);
      if (p.status === 'declined' && pend) rep.violations.push(`payment ${p.paymentId}: declined but booked`);
      if (pend && pend.amount !== p.amount)
        rep.violations.push(`payment ${p.paymentId}: booked ${pend.amount} != authorised ${p.amount}`);
      if (p.refunded > p.captured) rep.violations.push(`payment ${p.paymentId}: refunded more than captured`);
      const cap = booked.get(ledgerIds.capture(p.paymentId));
      if (p.settlement === 'captured' && cap?.amount !== p.captured)
        rep.violations.push(`payment ${p.paymentId}: capture mismatch`);
    }
    rep.ok = rep.violations.length === 0;
    return rep;
  }
}
