/**
 * The fleet simulation (`handset sim fleet`): one seed = one fresh world, run to the end
 * in virtual time, then checked against DESIGN.md section 9.
 *
 * The world: a {@link CloudCenter} over fresh SQLite stores (one batch = one transaction,
 * `unitOfWork` as the service wires it), a ManualClock, K merchants with orders and an
 * amount-comparison state machine each, H handsets ({@link SimHandset} keys + counter and
 * the firmware's durable outbox) with funded accounts, and a {@link SimNetwork} between
 * them and the cloud. Everything random - keys, payment ids, amounts, delays, faults -
 * comes from one {@link Prng} seeded with the seed, and the loop handles one event at a
 * time, so a seed replays exactly; the sha-256 of the event log (`digest`) proves it.
 *
 * Flows: scan-to-pay (the handset signs an authorisation, keeps it in its outbox BEFORE
 * sending, resends the same bytes until answered) and show-to-pay (the handset shows a
 * pay code, the merchant charges it and resends from its own outbox until answered).
 * Faults come from the seed's {@link FaultPreset}.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@handset/device-drivers/core';
import { MemoryOutboxStore } from '@handset/firmware/uplink';
import { CloudCenter, type Outcome } from '../cloud/center';
import { ledgerIds, TRANSFER_CODE } from '../cloud/ids';
import type { LedgerStore } from '../cloud/ledger/index';
import { SeedVault } from '../cloud/registry/vault';
import { SimHandset } from '../cloud/sim';
import { type OpenStores, openStores, type UnitOfWork } from '../cloud/stores';
import { applyResult, newOrder, type OrderRecord, openOrder } from '../merchant/amount-comparison';
import { fromWireResult } from '../merchant/mqtt-results';
import {
  type Authorisation,
  type CryptoProvider,
  decodeMessage,
  encodeMessageText,
  type MerchantCharge,
  newPaymentId,
  PAYCODE_STEP_SECONDS,
  type PaymentResult,
  paycodeStep,
} from '../protocol/index';
import { FAULT_PRESETS, type FaultPreset, type FaultPresetName, presetForSeed } from './faults';
import { EventQueue, SimNetwork } from './network';
import { Prng, seededCrypto } from './prng';

/** Start of virtual time (ms since the epoch): the same for every seed. */
const EPOCH_MS = Date.UTC(2026, 0, 1, 9, 0, 0);
const CURRENCY = 'EUR';
const ROGUE_MERCHANT = 'm-rogue';
/** The cloud ingest takes whatever arrived in one 5 ms tick as one batch. */
const CLOUD_TICK_MS = 5;
/** Runs stop here even if something is still unanswered (then `outbox.drained` fails). */
const HORIZON_MS = 2 * 3600_000;

/**
 * Test seams (STYLE habit 6: an override that falls through). A hook that returns
 * `undefined` leaves the cloud's behaviour alone; anything else replaces it. Used to
 * plant bugs and prove the invariants catch them.
 */
export interface FleetHooks {
  /**
   * Sees every outcome before it is published. Return a replacement (e.g. a changed
   * result) or undefined to publish it as is. May act on `center` (e.g. book again).
   */
  outcome?(o: Outcome, ctx: { center: CloudCenter; flow: 'auth' | 'charge' }): Promise<Outcome | undefined> | Outcome | undefined;
}

export interface FleetSeedOptions {
  seed: number;
  /** Handsets (default 20). */
  handsets?: number;
  /** Merchants (default 4). */
  merchants?: number;
  /** Payments each handset tries (default 3). */
  paymentsPerHandset?: number;
  /** Force a fault preset (default: the seed's, see {@link presetForSeed}). */
  preset?: FaultPresetName;
  /**
   * Parent of the per-seed store directory, removed afterwards. Default `/dev/shm` where
   * it exists (the simulation models crashes itself; fsyncs to a real disk would only
   * slow it down), else the OS temp dir.
   */
  tmpDir?: string;
  hooks?: FleetHooks;
  /** Keep the event log lines in the report (debugging). */
  keepLog?: boolean;
}

/** One broken rule: the invariant's name and what was seen. */
export interface Violation {
  invariant: string;
  detail: string;
}

export interface SeedReport {
  seed: number;
  preset: FaultPresetName;
  ok: boolean;
  /** At most 5 per invariant, in the order the invariants are checked ({@link INVARIANTS}). */
  violations: Violation[];
  /** sha-256 (hex) of the event log: same seed, same digest. */
  digest: string;
  events: number;
  /** Payments the honest parties started (distinct payment ids). */
  payments: number;
  approved: number;
  declined: number;
  declines: Record<string, number>;
  /** Faults actually injected in this seed, by kind. */
  faults: Record<string, number>;
  /** Recovery work the faults caused: outbox resends, merchants polling for a missed result. */
  recovery: Record<string, number>;
  virtualMs: number;
  wallMs: number;
  log?: string[];
}

/** The invariants, in the order they are checked and reported. */
export const INVARIANTS = {
  'cloud.invariants': "the cloud's own checkInvariants(): money conserved, balances = transfers, none booked twice",
  'outbox.drained': 'every handset and merchant outbox has a final outcome for every payment id',
  'result.stable': 'a result a handset or merchant saw never changes when it arrives again',
  'result.matches-cloud': "each outbox's final result is the cloud's record of that payment",
  'approved.booked-once': "an approved payment is booked exactly once, for its amount, and the merchant's comparison says PAID",
  'declined.booked-nothing': 'a declined payment has no booked transfer',
  'order.paid-once': 'no order has two approved payments',
  balances: 'each balance = deposits - approved payments (consumers), = approved payments (merchants); nothing left pending',
  'rogue.refused':
    'no forged rogue message (bad signature, another device, changed replay) is ever recorded; a used pay code charged again is declined',
} as const;
export type InvariantName = keyof typeof INVARIANTS;

// ------------------------------------------------------------------------ the world

interface Intent {
  flow: 'scan' | 'paycode';
  m: number;
  orderRef: string;
  amount: bigint;
  /** A second handset pays the same order at nearly the same time. */
  twin?: number;
}

interface Handset {
  i: number;
  sim: SimHandset;
  outbox: MemoryOutboxStore;
  skewMs: number;
  up: boolean;
  /** Bumped on reboot: resend timers of the previous boot are void. */
  epoch: number;
  intents: Intent[];
  next: number;
  /** The payment its sequential flow waits for before the next intent. */
  waitingFor?: string;
  lastPaycodeStep: number;
  /** First result seen per payment id that is not in the outbox (its pay-code payments). */
  seen: Map<string, string>;
}

interface Merchant {
  i: number;
  merchantId: string;
  outbox: MemoryOutboxStore;
  orders: Map<string, OrderRecord>;
  seen: Map<string, string>;
  flagged: number;
}

type Ev =
  | { k: 'start'; h: number }
  | { k: 'extra'; h: number; intent: Intent }
  | { k: 'charge'; m: number; h: number; intent: Intent; code: string }
  | { k: 'cloud'; flow: 'auth' | 'charge'; topicId: string; text: string }
  | { k: 'toHandset'; h: number; text: string }
  | { k: 'toMerchant'; m: number; text: string }
  | { k: 'resend'; party: 'h' | 'm'; idx: number; id: string; epoch: number }
  | { k: 'reboot'; h: number }
  | { k: 'boot'; h: number }
  | { k: 'rogue' };

class SimCrash extends Error {
  constructor(readonly when: 'in-batch' | 'after-commit') {
    super(`simulated cloud worker crash (${when})`);
  }
}

class FleetWorld {
  readonly rng: Prng;
  readonly preset: FaultPreset;
  readonly clock = new ManualClock({ startMs: 0, epochMs: EPOCH_MS, autoAdvance: false });
  readonly queue = new EventQueue<Ev>();
  readonly net: SimNetwork;
  readonly crypto: CryptoProvider;
  readonly vault: SeedVault;
  readonly dir: string;
  stores!: OpenStores;
  center!: CloudCenter;
  handsets: Handset[] = [];
  merchants: Merchant[] = [];
  byDevice = new Map<string, Handset>();
  byMerchant = new Map<string, Merchant>();
  rogue!: SimHandset;
  /** Rogue messages that must never even be recorded (forged signatures, other device ids). */
  rogueIds = new Set<string>();
  /** Rogue charges with a used pay code: recorded, and must be declined. */
  rogueCharges = new Set<string>();
  /** Authorisation texts seen on the wire (what a rogue can capture and replay). */
  captured: string[] = [];
  deposits = new Map<string, bigint>();
  started = new Set<string>();
  violations: Violation[] = [];
  private perInvariant = new Map<string, number>();
  faults: Record<string, number> = {};
  recovery: Record<string, number> = {};
  private hash = createHash('sha256');
  events = 0;
  log?: string[];
  private crashArmed: 'in-batch' | 'after-commit' | undefined;
  private crashes = 0;

  constructor(
    readonly o: FleetSeedOptions,
    parent: string,
  ) {
    this.rng = new Prng(o.seed);
    this.preset = o.preset ? FAULT_PRESETS[o.preset] : presetForSeed(o.seed);
    this.net = new SimNetwork(this.rng, this.preset.link);
    this.crypto = seededCrypto(this.rng);
    this.vault = new SeedVault(this.rng.bytes(32));
    this.dir = mkdtempSync(join(parent, `fleet-${o.seed}-`));
    if (o.keepLog) this.log = [];
  }

  get t(): number {
    return this.clock.monotonic();
  }

  record(line: string): void {
    const l = `${this.t} ${line}`;
    this.hash.update(l).update('\n');
    this.events++;
    this.log?.push(l);
  }

  digest(): string {
    return this.hash.digest('hex');
  }

  /** Recovery work (not faults): resends, merchant polls. */
  note(what: string): void {
    this.recovery[what] = (this.recovery[what] ?? 0) + 1;
  }

  count(fault: string, n = 1): void {
    this.faults[fault] = (this.faults[fault] ?? 0) + n;
  }

  violate(invariant: InvariantName, detail: string): void {
    const n = (this.perInvariant.get(invariant) ?? 0) + 1;
    this.perInvariant.set(invariant, n);
    if (n <= 5) this.violations.push({ invariant, detail });
  }

  // ---------------------------------------------------------------- cloud

  async openCloud(): Promise<void> {
    this.stores = await openStores({ store: `sqlite:${this.dir}`, clock: this.clock, groupCommit: true });
    const stores = this.stores;
    const inner = stores.unitOfWork;
    if (!inner) throw new Error('the SQLite stores have no unit of work');
    // The fault seam: the batch's unit of work, as the service wires it, with a crash
    // armed either inside the transaction (after the ledger booked: all rolled back) or
    // right after its commit (decided and stored, but no answer ever leaves the worker).
    const unitOfWork: UnitOfWork = async (fn) => {
      const armed = this.crashArmed;
      if (armed === 'in-batch') {
        return inner((scope) => fn({ registry: scope.registry, ledger: crashAfterBooking(scope.ledger) }));
      }
      const r = await inner(fn);
      if (armed === 'after-commit') throw new SimCrash('after-commit');
      return r;
    };
    this.center = new CloudCenter({
      registry: stores.registry,
      ledger: stores.ledger,
      unitOfWork,
      vault: this.vault,
      clock: this.clock,
      crypto: this.crypto,
    });
  }

  /** The worker died: its stores are closed and a new center starts over the same files. */
  async restartCloud(why: SimCrash): Promise<void> {
    this.crashArmed = undefined;
    this.count(`crash:${why.when}`);
    this.record(`cloud crash ${why.when}`);
    await this.stores.close();
    await this.openCloud();
  }

  /** One tick's worth of cloud-bound messages, as the ingest hands them over. */
  async cloudBatch(batch: Array<Extract<Ev, { k: 'cloud' }>>): Promise<void> {
    for (const flow of ['auth', 'charge'] as const) {
      const msgs = batch.filter((b) => b.flow === flow);
      if (!msgs.length) continue;
      if (this.crashes < this.preset.maxCrashes && this.rng.chance(this.preset.crash)) {
        this.crashArmed = this.rng.chance(0.5) ? 'in-batch' : 'after-commit';
      }
      let outcomes: Outcome[];
      try {
        outcomes =
          flow === 'auth'
            ? await this.center.authorise(msgs.map((m) => ({ payload: m.text, topicDeviceId: m.topicId })))
            : await this.center.charge(msgs.map((m) => ({ payload: m.text, topicMerchantId: m.topicId })));
      } catch (err) {
        if (!(err instanceof SimCrash)) throw err;
        this.crashes++;
        await this.restartCloud(err);
        return; // the whole tick dies with the worker: the senders resend
      }
      this.crashArmed = undefined;
      for (let o of outcomes) {
        o = (await this.o.hooks?.outcome?.(o, { center: this.center, flow })) ?? o;
        if (o.kind === 'rejected') {
          this.record(`cloud rejected ${o.code}`);
          continue;
        }
        const r = o.result;
        this.record(
          `cloud ${r.flow} ${r.paymentId} ${r.status}${r.reason ? ` ${r.reason}` : ''}${o.replayed ? ' replayed' : ''}`,
        );
        const text = encodeMessageText('result', r);
        const h = this.byDevice.get(r.deviceId);
        if (o.to.device && h) for (const at of this.net.deliveries(this.t)) this.queue.push(at, { k: 'toHandset', h: h.i, text });
        const m = this.byMerchant.get(r.merchantId);
        if (o.to.merchant && m)
          for (const at of this.net.deliveries(this.t)) this.queue.push(at, { k: 'toMerchant', m: m.i, text });
      }
    }
  }

  sendToCloud(flow: 'auth' | 'charge', topicId: string, text: string): void {
    if (flow === 'auth') this.captured.push(text);
    for (const at of this.net.deliveries(this.t)) {
      const tick = Math.ceil(at / CLOUD_TICK_MS) * CLOUD_TICK_MS;
      this.queue.push(tick, { k: 'cloud', flow, topicId, text });
    }
  }

  // ---------------------------------------------------------------- set-up

  async setup(): Promise<void> {
    const o = this.o;
    const nH = o.handsets ?? 20;
    const nM = o.merchants ?? 4;
    const per = o.paymentsPerHandset ?? 3;
    const p = this.preset;
    await this.openCloud();
    const c = this.center;
    const expiresAt = EPOCH_MS + 6 * 3600_000;
    for (let i = 0; i < nM; i++) {
      const merchantId = `m-${i}`;
      await c.createMerchant({ merchantId, currency: CURRENCY });
      const m: Merchant = { i, merchantId, outbox: new MemoryOutboxStore(), orders: new Map(), seen: new Map(), flagged: 0 };
      this.merchants.push(m);
      this.byMerchant.set(merchantId, m);
    }
    let orderNo = 0;
    const order = async (mi: number, amount: bigint): Promise<string> => {
      const m = this.merchants[mi]!;
      const orderRef = `o-${orderNo++}`;
      await c.createOrder({ merchantId: m.merchantId, orderRef, amount, currency: CURRENCY, expiresAt });
      const rec = newOrder({
        merchantId: m.merchantId,
        reference: orderRef,
        due: { minor: amount, currency: CURRENCY },
        createdAt: this.clock.now(),
        expiresAt,
      });
      m.orders.set(orderRef, openOrder(rec).order);
      return orderRef;
    };
    for (let i = 0; i < nH; i++) {
      const account = `acct-${i}`;
      const sim = new SimHandset({ deviceId: `hs-${i}`, account, crypto: this.crypto });
      await c.createUser({ account, currency: CURRENCY });
      sim.accept(await c.register(sim.registrationRequest(this.clock.now())));
      const [lo, hi] = p.skewMs;
      const h: Handset = {
        i,
        sim,
        outbox: new MemoryOutboxStore(),
        skewMs: lo === hi ? lo : this.rng.int(lo, hi),
        up: true,
        epoch: 0,
        intents: [],
        next: 0,
        lastPaycodeStep: -1,
        seen: new Map(),
      };
      if (h.skewMs) this.count('skewed-handsets');
      this.handsets.push(h);
      this.byDevice.set(sim.deviceId, h);
    }
    for (const h of this.handsets) {
      let spend = 0n;
      for (let n = 0; n < per; n++) {
        const flow = this.rng.chance(0.35) ? 'paycode' : 'scan';
        const big = flow === 'scan' && this.rng.chance(0.1);
        const amount = BigInt(big ? this.rng.int(5_001, 20_000) : this.rng.int(100, 4_000));
        const mi = this.rng.int(0, nM - 1);
        const intent: Intent = { flow, m: mi, orderRef: await order(mi, amount), amount };
        if (flow === 'scan' && nH > 1 && this.rng.chance(p.doubleOrder)) {
          intent.twin = (h.i + this.rng.int(1, nH - 1)) % nH;
          this.count('double-orders');
        }
        h.intents.push(intent);
        spend += amount;
      }
      const under = this.rng.chance(p.underfunded);
      if (under) this.count('underfunded-handsets');
      const funds = under ? spend / 2n + 1n : spend * 2n + 10_000n;
      await c.deposit(h.sim.account, funds, 'initial');
      this.deposits.set(h.sim.account, funds);
      this.queue.push(this.rng.int(0, 2_000), { k: 'start', h: h.i });
      const reboots = fractional(this.rng, p.rebootsPerHandset);
      for (let r = 0; r < reboots; r++) this.queue.push(this.rng.int(500, 40_000), { k: 'reboot', h: h.i });
    }
    // the rogue: a registered device of its own, funded, that misbehaves
    this.rogue = new SimHandset({ deviceId: 'hs-rogue', account: 'rogue', crypto: this.crypto });
    await c.createUser({ account: 'rogue', currency: CURRENCY });
    this.rogue.accept(await c.register(this.rogue.registrationRequest(this.clock.now())));
    await c.deposit('rogue', 1_000_000n, 'initial');
    await c.createMerchant({ merchantId: ROGUE_MERCHANT, currency: CURRENCY });
    this.deposits.set('rogue', 1_000_000n);
    const rogues = fractional(this.rng, p.roguePerHandset * nH);
    for (let r = 0; r < rogues; r++) this.queue.push(this.rng.int(200, 40_000), { k: 'rogue' });
    this.record(`setup ${this.preset.name} handsets=${nH} merchants=${nM} orders=${orderNo}`);
  }

  // ---------------------------------------------------------------- handsets

  private handsetNow(h: Handset): number {
    return this.clock.now() + h.skewMs;
  }

  private resendDelay(): number {
    return 2_000 + this.rng.int(0, 1_000);
  }

  private async payScan(h: Handset, intent: Intent): Promise<string> {
    const m = this.merchants[intent.m]!;
    const auth = h.sim.authorise({
      merchantId: m.merchantId,
      orderRef: intent.orderRef,
      amount: intent.amount,
      currency: CURRENCY,
      nowMs: this.handsetNow(h),
      method: intent.amount > this.center.policy.stepUpLimit ? 'fingerprint+pin' : 'fingerprint',
    });
    const text = encodeMessageText('authorisation', auth);
    // the outbox holds the payment BEFORE it is sent
    await h.outbox.add({ id: auth.paymentId, kind: 'auth', topic: h.sim.deviceId, payload: text, createdAt: this.t });
    this.started.add(auth.paymentId);
    this.record(`hs-${h.i} auth ${auth.paymentId} ${m.merchantId}/${intent.orderRef} ${intent.amount}`);
    await this.sendFromOutbox('h', h.i, auth.paymentId);
    return auth.paymentId;
  }

  private async sendFromOutbox(party: 'h' | 'm', idx: number, id: string): Promise<void> {
    const box = party === 'h' ? this.handsets[idx]!.outbox : this.merchants[idx]!.outbox;
    const e = await box.get(id);
    if (!e || e.result !== null) return;
    await box.markSent(id, this.t);
    if (e.attempts > 0) this.note('resends');
    this.sendToCloud(party === 'h' ? 'auth' : 'charge', e.topic, e.payload);
    const epoch = party === 'h' ? this.handsets[idx]!.epoch : 0;
    this.queue.push(this.t + this.resendDelay(), { k: 'resend', party, idx, id, epoch });
  }

  private async startNext(h: Handset): Promise<void> {
    if (!h.up) {
      this.queue.push(this.t + 1_000, { k: 'start', h: h.i });
      return;
    }
    const intent = h.intents[h.next];
    if (!intent) return;
    if (intent.flow === 'scan') {
      h.next++;
      h.waitingFor = await this.payScan(h, intent);
      if (intent.twin !== undefined)
        this.queue.push(this.t + this.rng.int(0, 300), { k: 'extra', h: intent.twin, intent: { ...intent, twin: undefined } });
      return;
    }
    // show-to-pay: one code per 15 s step, so wait for a fresh step
    const step = paycodeStep(this.handsetNow(h), PAYCODE_STEP_SECONDS);
    if (step <= h.lastPaycodeStep) {
      const wait = (step + 1) * PAYCODE_STEP_SECONDS * 1000 - this.handsetNow(h) + this.rng.int(1, 500);
      this.queue.push(this.t + wait, { k: 'start', h: h.i });
      return;
    }
    h.next++;
    h.lastPaycodeStep = step;
    const code = h.sim.paycode(this.handsetNow(h));
    this.record(`hs-${h.i} shows a pay code for m-${intent.m}/${intent.orderRef}`);
    this.queue.push(this.t + this.rng.int(200, 1_500), { k: 'charge', m: intent.m, h: h.i, intent, code });
    this.queue.push(this.t + this.rng.int(300, 3_000), { k: 'start', h: h.i });
  }

  private async handsetResult(h: Handset, text: string): Promise<void> {
    if (!h.up) {
      this.count('lost-while-rebooting');
      return;
    }
    const r = decodeMessage('result', text);
    const done = await h.outbox.complete(r.paymentId, text, this.t);
    this.record(`hs-${h.i} got ${r.paymentId} ${r.status}${done ? (done.first ? ' first' : ' again') : ' (not in outbox)'}`);
    if (done) {
      if (!done.first && done.entry.result !== text)
        this.violate('result.stable', `hs-${h.i} payment ${r.paymentId}: first ${brief(done.entry.result)}, now ${brief(text)}`);
      if (done.first && h.waitingFor === r.paymentId) {
        h.waitingFor = undefined;
        this.queue.push(this.t + this.rng.int(300, 3_000), { k: 'start', h: h.i });
      }
      return;
    }
    if (r.flow === 'paycode') stable(this, h.seen, r, text, `hs-${h.i}`);
  }

  private async reboot(h: Handset): Promise<void> {
    if (!h.up) return;
    h.up = false;
    h.epoch++;
    this.count('reboots');
    this.record(`hs-${h.i} reboots`);
    this.queue.push(this.t + this.rng.int(500, 20_000), { k: 'boot', h: h.i });
  }

  private async boot(h: Handset): Promise<void> {
    h.up = true;
    this.record(`hs-${h.i} boots`);
    // whatever has no answer is sent again: the durable outbox survived the reboot
    for (const e of await h.outbox.unanswered()) await this.sendFromOutbox('h', h.i, e.id);
  }

  // ---------------------------------------------------------------- merchants

  private async charge(m: Merchant, intent: Intent, code: string): Promise<void> {
    const ch: MerchantCharge = {
      v: 1,
      type: 'merchant.charge',
      paymentId: newPaymentId((n) => this.rng.bytes(n), this.clock.now()),
      merchantId: m.merchantId,
      orderRef: intent.orderRef,
      code,
      amount: intent.amount,
      currency: CURRENCY,
      ts: this.clock.now(),
    };
    const text = encodeMessageText('merchant.charge', ch);
    await m.outbox.add({ id: ch.paymentId, kind: 'auth', topic: m.merchantId, payload: text, createdAt: this.t });
    this.started.add(ch.paymentId);
    this.record(`${m.merchantId} charge ${ch.paymentId} ${intent.orderRef} ${intent.amount}`);
    await this.sendFromOutbox('m', m.i, ch.paymentId);
  }

  private async merchantResult(m: Merchant, text: string): Promise<void> {
    const r = decodeMessage('result', text);
    const done = await m.outbox.complete(r.paymentId, text, this.t);
    if (done && !done.first && done.entry.result !== text)
      this.violate(
        'result.stable',
        `${m.merchantId} payment ${r.paymentId}: first ${brief(done.entry.result)}, now ${brief(text)}`,
      );
    if (!done) stable(this, m.seen, r, text, m.merchantId);
    this.applyToOrder(m, r);
  }

  /** The terminal's amount comparison: the result is applied to its own order (due vs authorised vs booked). */
  private applyToOrder(m: Merchant, r: PaymentResult): void {
    const order = m.orders.get(r.orderRef);
    if (!order) {
      m.flagged++;
      return;
    }
    const tr = applyResult(order, fromWireResult(r), this.clock.now());
    m.orders.set(r.orderRef, tr.order);
    if (tr.event.kind === 'flagged') m.flagged++;
    this.record(`${m.merchantId} order ${r.orderRef} ${tr.event.kind} -> ${tr.order.state}`);
  }

  // ---------------------------------------------------------------- the rogue

  private async rogueMessage(): Promise<void> {
    const victim = this.rng.pick(this.handsets);
    const m = this.rng.pick(this.merchants);
    const [orderRef, order] = this.rng.pick([...m.orders.entries()]);
    const base = { merchantId: m.merchantId, orderRef, amount: order.due.minor, currency: CURRENCY, nowMs: this.clock.now() };
    const kind = this.rng.pick([
      'bad-signature',
      'other-device',
      'other-device-topic',
      'replay',
      'replay-new-id',
      'paycode-reuse',
    ] as const);
    this.count(`rogue:${kind}`);
    if (kind === 'paycode-reuse') {
      // a rogue merchant presents a pay code that was already charged (and answered)
      const used = (await Promise.all(this.merchants.map((x) => x.outbox.all()))).flat().filter((e) => e.result !== null);
      if (used.length) {
        const ch = decodeMessage('merchant.charge', this.rng.pick(used).payload);
        const again: MerchantCharge = {
          ...ch,
          paymentId: newPaymentId((n) => this.rng.bytes(n), this.clock.now()),
          merchantId: ROGUE_MERCHANT,
          orderRef: `r-${this.rogueCharges.size}`,
          ts: this.clock.now(),
        };
        this.rogueCharges.add(again.paymentId);
        this.record(`rogue ${kind} ${again.paymentId}`);
        const text = encodeMessageText('merchant.charge', again);
        for (const at of this.net.deliveries(this.t)) {
          this.queue.push(Math.ceil(at / CLOUD_TICK_MS) * CLOUD_TICK_MS, {
            k: 'cloud',
            flow: 'charge',
            topicId: ROGUE_MERCHANT,
            text,
          });
        }
        return;
      }
    }
    const send = (a: Authorisation, topic: string, raw?: string) => {
      if (raw === undefined) this.rogueIds.add(a.paymentId);
      this.record(`rogue ${kind} ${a.paymentId} on ${topic}`);
      const text = raw ?? JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
      for (const at of this.net.deliveries(this.t)) {
        this.queue.push(Math.ceil(at / CLOUD_TICK_MS) * CLOUD_TICK_MS, { k: 'cloud', flow: 'auth', topicId: topic, text });
      }
    };
    const captured = this.captured.length ? this.rng.pick(this.captured) : undefined;
    if (kind === 'bad-signature' || kind === 'paycode-reuse' || ((kind === 'replay' || kind === 'replay-new-id') && !captured)) {
      const a = this.rogue.authorise(base);
      send({ ...a, signature: corrupt(a.signature) }, this.rogue.deviceId);
    } else if (kind === 'other-device' || kind === 'other-device-topic') {
      // signed with the rogue's own key, in the victim's name
      const a = this.rogue.authorise(base);
      const forged = { ...a, deviceId: victim.sim.deviceId, account: victim.sim.account };
      send(forged, kind === 'other-device' ? this.rogue.deviceId : victim.sim.deviceId);
    } else if (captured) {
      const a = decodeMessage('authorisation', captured);
      if (kind === 'replay') send(a, a.deviceId, captured);
      else send({ ...a, paymentId: newPaymentId((n) => this.rng.bytes(n), this.clock.now()) }, a.deviceId);
    }
  }

  // ---------------------------------------------------------------- the loop

  async run(): Promise<void> {
    for (;;) {
      const next = this.queue.pop();
      if (!next || next.at > HORIZON_MS) break;
      if (next.at > this.t) this.clock.advance(next.at - this.t);
      const ev = next.event;
      switch (ev.k) {
        case 'start':
          await this.startNext(this.handsets[ev.h]!);
          break;
        case 'extra': {
          const h = this.handsets[ev.h]!;
          if (!h.up) this.queue.push(this.t + 1_000, ev);
          else {
            this.record(`hs-${ev.h} also pays ${ev.intent.orderRef}`);
            await this.payScan(h, ev.intent);
          }
          break;
        }
        case 'charge':
          await this.charge(this.merchants[ev.m]!, ev.intent, ev.code);
          break;
        case 'cloud': {
          const batch = [ev];
          for (let p = this.queue.peek(); p && p.at === next.at && p.event.k === 'cloud'; p = this.queue.peek()) {
            batch.push(this.queue.pop()!.event as Extract<Ev, { k: 'cloud' }>);
          }
          await this.cloudBatch(batch);
          break;
        }
        case 'toHandset':
          await this.handsetResult(this.handsets[ev.h]!, ev.text);
          break;
        case 'toMerchant':
          await this.merchantResult(this.merchants[ev.m]!, ev.text);
          break;
        case 'resend': {
          if (ev.party === 'h') {
            const h = this.handsets[ev.idx]!;
            if (h.epoch !== ev.epoch || !h.up) break;
          }
          await this.sendFromOutbox(ev.party, ev.idx, ev.id);
          break;
        }
        case 'reboot':
          await this.reboot(this.handsets[ev.h]!);
          break;
        case 'boot':
          await this.boot(this.handsets[ev.h]!);
          break;
        case 'rogue':
          await this.rogueMessage();
          break;
      }
    }
  }

  // ---------------------------------------------------------------- the checks

  async check(): Promise<{ approved: number; declined: number; declines: Record<string, number> }> {
    const c = this.center;
    const read = c.registry.read;
    // 1. the cloud's own checker
    const rep = await c.checkInvariants();
    for (const v of rep.violations) this.violate('cloud.invariants', v);
    // 2. outboxes drained
    const finals: Array<{ owner: string; id: string; result: string }> = [];
    for (const [owner, box] of [
      ...this.handsets.map((h) => [`hs-${h.i}`, h.outbox] as const),
      ...this.merchants.map((m) => [m.merchantId, m.outbox] as const),
    ]) {
      for (const e of await box.all()) {
        if (e.result === null) this.violate('outbox.drained', `${owner} payment ${e.id}: no answer after ${e.attempts} sends`);
        else finals.push({ owner, id: e.id, result: e.result });
      }
    }
    // 3. result.stable was checked on every arrival (violations already recorded)
    // 4. each final result is what the cloud recorded
    for (const f of finals) {
      const rec = await read.getPayment(f.id);
      if (!rec) {
        const r = decodeMessage('result', f.result);
        if (r.status !== 'declined')
          this.violate('result.matches-cloud', `${f.owner} payment ${f.id}: ${r.status} but the cloud has no record`);
        continue;
      }
      const want = encodeMessageText('result', c.resultOf(rec));
      if (want !== f.result)
        this.violate('result.matches-cloud', `${f.owner} payment ${f.id}: saw ${brief(f.result)}, cloud says ${brief(want)}`);
    }
    // the merchants that missed a result poll the cloud for their open orders
    const payments = await read.listPayments({ limit: 1_000_000 });
    for (const m of this.merchants) {
      for (const [ref, order] of m.orders) {
        if (order.state !== 'awaiting_payment') continue;
        const o = await read.getOrder(m.merchantId, ref);
        const p = o?.paymentId ? await read.getPayment(o.paymentId) : undefined;
        if (p && p.status === 'approved') {
          this.note('merchant-polls');
          this.applyToOrder(m, c.resultOf(p));
        }
      }
    }
    // 5-7. approved booked once + merchant says PAID; declined booked nothing; one per order
    let approved = 0;
    let declined = 0;
    const declines: Record<string, number> = {};
    const paidOrders = new Map<string, string>();
    const spent = new Map<string, bigint>();
    const earned = new Map<string, bigint>();
    for (const p of payments) {
      const booked = (await c.ledger.transfersByUserData(p.paymentId)).filter(
        (t) => t.result === 'ok' && t.code === TRANSFER_CODE.payment,
      );
      if (p.status === 'approved') {
        if (this.started.has(p.paymentId)) approved++;
        const ids = booked.map((t) => t.id).sort();
        const want = [ledgerIds.capture(p.paymentId), ledgerIds.pending(p.paymentId)].sort();
        if (ids.join() !== want.join())
          this.violate('approved.booked-once', `payment ${p.paymentId}: booked [${ids.join(', ')}]`);
        const pend = booked.find((t) => t.id === ledgerIds.pending(p.paymentId));
        if (pend && pend.amount !== p.amount)
          this.violate('approved.booked-once', `payment ${p.paymentId}: booked ${pend.amount}, authorised ${p.amount}`);
        const m = this.byMerchant.get(p.merchantId);
        const order = m?.orders.get(p.orderRef);
        const settled = order?.payments.find((x) => x.result.paymentId === p.paymentId);
        if (order?.state !== 'paid' || order.settledBy !== p.paymentId || settled?.comparison.verdict !== 'PAID') {
          this.violate(
            'approved.booked-once',
            `payment ${p.paymentId}: merchant ${p.merchantId} order ${p.orderRef} is ${order?.state ?? 'unknown'}` +
              ` (settled by ${order?.settledBy ?? 'nothing'}, comparison ${settled?.comparison.verdict ?? 'none'})`,
          );
        }
        const key = `${p.merchantId}/${p.orderRef}`;
        const other = paidOrders.get(key);
        if (other) this.violate('order.paid-once', `order ${key}: approved ${other} and ${p.paymentId}`);
        paidOrders.set(key, p.paymentId);
        spent.set(p.account, (spent.get(p.account) ?? 0n) + p.amount);
        earned.set(p.merchantId, (earned.get(p.merchantId) ?? 0n) + p.amount);
      } else if (p.status === 'declined') {
        const reason = p.reason ?? 'unknown';
        if (this.started.has(p.paymentId)) {
          declined++;
          declines[reason] = (declines[reason] ?? 0) + 1;
        } else if (this.rogueCharges.has(p.paymentId)) this.count(`rogue-declined:${reason}`);
        if (booked.length)
          this.violate(
            'declined.booked-nothing',
            `payment ${p.paymentId} (${reason}): booked ${booked.map((t) => t.id).join(', ')}`,
          );
      }
      if (this.rogueIds.has(p.paymentId))
        this.violate('rogue.refused', `rogue payment ${p.paymentId} was recorded (${p.status})`);
      if (this.rogueCharges.has(p.paymentId) && p.status !== 'declined')
        this.violate('rogue.refused', `a used pay code was charged again: payment ${p.paymentId} is ${p.status}`);
    }
    // 8. balances
    const accounts = [...this.deposits.keys()].map((a) => ledgerIds.user(a));
    const merchants = this.merchants.map((m) => ledgerIds.merchant(m.merchantId));
    const byId = new Map((await c.ledger.lookupAccounts([...accounts, ...merchants])).map((a) => [a.id, a]));
    for (const [account, dep] of this.deposits) {
      const a = byId.get(ledgerIds.user(account));
      const want = dep - (spent.get(account) ?? 0n);
      const have = a ? a.creditsPosted - a.debitsPosted : undefined;
      if (have !== want || (a && (a.debitsPending !== 0n || a.creditsPending !== 0n)))
        this.violate('balances', `${account}: balance ${have}, deposits - approved = ${want}, pending ${a?.debitsPending}`);
    }
    for (const m of this.merchants) {
      const a = byId.get(ledgerIds.merchant(m.merchantId));
      const want = earned.get(m.merchantId) ?? 0n;
      const have = a ? a.creditsPosted - a.debitsPosted : undefined;
      if (have !== want) this.violate('balances', `${m.merchantId}: balance ${have}, approved payments = ${want}`);
    }
    this.violations.sort((a, b) => order(a.invariant) - order(b.invariant));
    return { approved, declined, declines };
  }

  async close(): Promise<void> {
    await this.stores.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------ helpers

const ORDER = Object.keys(INVARIANTS);
function order(name: string): number {
  return ORDER.indexOf(name);
}

/** A ledger view whose booking call books and then kills the worker (inside the open transaction). */
function crashAfterBooking(ledger: LedgerStore): LedgerStore {
  return new Proxy(ledger, {
    get(target, prop) {
      if (prop === 'createTransfers') {
        return async (ts: Parameters<LedgerStore['createTransfers']>[0]) => {
          await target.createTransfers(ts);
          throw new SimCrash('in-batch');
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Checks that a result not in an outbox never changes (first one wins). */
function stable(w: FleetWorld, seen: Map<string, string>, r: PaymentResult, text: string, who: string): void {
  const first = seen.get(r.paymentId);
  if (first === undefined) seen.set(r.paymentId, text);
  else if (first !== text) w.violate('result.stable', `${who} payment ${r.paymentId}: first ${brief(first)}, now ${brief(text)}`);
}

function brief(text: string | null): string {
  if (text === null) return 'nothing';
  const r = JSON.parse(text) as { status?: string; reason?: string; bookedAmount?: string };
  return `${r.status}${r.reason ? `/${r.reason}` : ''} booked ${r.bookedAmount}`;
}

/** A base64url signature with one character changed (still well-formed). */
function corrupt(sig: string): string {
  const i = 10;
  return sig.slice(0, i) + (sig[i] === 'A' ? 'B' : 'A') + sig.slice(i + 1);
}

/** `x` rounded up or down at random so that its expectation is `x`. */
function fractional(rng: Prng, x: number): number {
  const whole = Math.floor(x);
  return whole + (rng.chance(x - whole) ? 1 : 0);
}

// ------------------------------------------------------------------------ API

function defaultTmpDir(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

/** Runs one seed: builds its world, runs it to the end, checks every invariant. */
export async function runFleetSeed(o: FleetSeedOptions): Promise<SeedReport> {
  const t0 = performance.now();
  const w = new FleetWorld(o, o.tmpDir ?? defaultTmpDir());
  try {
    await w.setup();
    await w.run();
    const { approved, declined, declines } = await w.check();
    const net = w.net.stats;
    for (const [k, v] of Object.entries({ dropped: net.dropped, duplicated: net.duplicated, reordered: net.reordered }))
      if (v) w.count(k, v);
    return {
      seed: o.seed,
      preset: w.preset.name,
      ok: w.violations.length === 0,
      violations: w.violations,
      digest: w.digest(),
      events: w.events,
      payments: w.started.size,
      approved,
      declined,
      declines,
      faults: w.faults,
      recovery: w.recovery,
      virtualMs: w.t,
      wallMs: performance.now() - t0,
      ...(w.log ? { log: w.log } : {}),
    };
  } finally {
    await w.close();
  }
}

export interface FleetRunOptions extends Omit<FleetSeedOptions, 'seed'> {
  /** First seed (default 1). */
  from?: number;
  /** How many consecutive seeds. */
  seeds: number;
  /** Called after every seed (progress output). */
  onSeed?(r: SeedReport): void;
}

export interface FleetSummary {
  seeds: number;
  ok: number;
  /** Violations found (at most 5 per invariant and seed are kept and counted). */
  violations: number;
  payments: number;
  approved: number;
  declined: number;
  /** Faults injected over all seeds, by kind. */
  faults: Record<string, number>;
  /** Recovery work over all seeds (resends, merchant polls). */
  recovery: Record<string, number>;
  /** Seeds run per preset. */
  presets: Record<string, number>;
  seedsPerSecond: number;
  /** First violation of each failing seed. */
  failures: Array<{ seed: number; preset: string; invariant: string; detail: string }>;
}

/** Runs seeds `from .. from+seeds-1` one after the other and sums them up. */
export async function runFleet(o: FleetRunOptions): Promise<FleetSummary> {
  const from = o.from ?? 1;
  const t0 = performance.now();
  const s: FleetSummary = {
    seeds: 0,
    ok: 0,
    violations: 0,
    payments: 0,
    approved: 0,
    declined: 0,
    faults: {},
    recovery: {},
    presets: {},
    seedsPerSecond: 0,
    failures: [],
  };
  for (let seed = from; seed < from + o.seeds; seed++) {
    const r = await runFleetSeed({ ...o, seed });
    s.seeds++;
    if (r.ok) s.ok++;
    s.violations += r.violations.length;
    s.payments += r.payments;
    s.approved += r.approved;
    s.declined += r.declined;
    s.presets[r.preset] = (s.presets[r.preset] ?? 0) + 1;
    for (const [k, v] of Object.entries(r.faults)) s.faults[k] = (s.faults[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.recovery)) s.recovery[k] = (s.recovery[k] ?? 0) + v;
    const first = r.violations[0];
    if (first) s.failures.push({ seed, preset: r.preset, ...first });
    o.onSeed?.(r);
  }
  const secs = (performance.now() - t0) / 1000;
  s.seedsPerSecond = Math.round((s.seeds / Math.max(secs, 1e-9)) * 100) / 100;
  return s;
}
