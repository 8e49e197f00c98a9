/**
 * The authorisation / ledger scenario suite, written once and run on SQLite and on
 * PostgreSQL, each directly on one CloudCenter (authorisation.test.ts) and with two
 * CloudCenter workers behind the real Mosquitto on `$share` subscriptions
 * (authorisation-mosquitto.test.ts). Every scenario ends with the invariant checker and
 * a secret scan of the log; over MQTT also with "every published message was delivered
 * to exactly one worker", and the suite checks that both workers decided payments.
 */
import { ManualClock } from '@handset/device-drivers/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ledgerIds } from '../../src/cloud/ids';
import type { LedgerStore } from '../../src/cloud/ledger/index';
import { memoryLogger } from '../../src/cloud/log';
import type { OpenStores } from '../../src/cloud/stores';
import { encodeMessageText, type PaymentResult } from '../../src/protocol/index';
import { type Deployment, MosquittoDeployment, makeWorld, type SeenOutcome, type StoreKind, type World } from './fixtures';

export function result(o: SeenOutcome | undefined): PaymentResult {
  if (o?.kind !== 'result')
    throw new Error(`expected a result, got ${JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
  return o.result;
}

export function describeAuthorisationSuite(kind: StoreKind, via: Deployment = 'direct'): void {
  describe(`authorisation + ledger on ${kind}, ${via}`, () => {
    let w: (World & { stores: OpenStores }) | undefined;
    let clock: ManualClock;
    const log = memoryLogger();
    /** `to` and `replayed` exist only in-process: asserted on the direct path only. */
    const direct = via === 'direct';
    /** Per worker over the whole suite: messages received, results published, rejections. */
    const totals = new Map<string, { received: number; results: number; rejected: number }>();
    /** Over MQTT: two long-lived workers for the whole suite, given fresh centers + stores per test. */
    let deployment: MosquittoDeployment | undefined;

    beforeAll(async () => {
      if (direct) return;
      deployment = new MosquittoDeployment(2);
      await deployment.start();
    });

    async function world(policy = {}) {
      clock = new ManualClock({ autoAdvance: false });
      log.entries.length = 0;
      w = await makeWorld(kind, clock, { logger: log, policy, via, deployment });
      return w;
    }

    async function bal(id: string) {
      const [a] = await w!.center.ledger.lookupAccounts([id]);
      return a ? a.creditsPosted - a.debitsPosted : undefined;
    }

    afterEach(async () => {
      if (!w) return;
      const done = w;
      w = undefined;
      try {
        if (done.mqtt) {
          await done.mqtt.settle();
          const stats = done.mqtt.stats();
          for (const [i, s] of stats.entries()) {
            const t = totals.get(`cloud-${i + 1}`) ?? { received: 0, results: 0, rejected: 0 };
            t.received += s.received;
            t.results += s.results;
            t.rejected += s.rejected;
            totals.set(`cloud-${i + 1}`, t);
          }
          // each message the suite published reached exactly one worker (shared subscription)
          expect(stats.reduce((n, s) => n + s.received, 0)).toBe(done.mqtt.sent);
        }
        const rep = await done.center.checkInvariants();
        expect(rep.violations).toEqual([]);
        // nothing secret in the logs
        const text = JSON.stringify(log.entries);
        for (const h of [done.alice, done.bob]) {
          if (h.grant) expect(text).not.toContain(h.grant.seed);
        }
        expect(text).not.toMatch(/"signature":"[A-Za-z0-9_-]{20,}/);
      } finally {
        await done.cleanup();
      }
    });

    afterAll(async () => {
      if (direct) return;
      await deployment?.stop();
      const decided = [...totals.values()].reduce((n, t) => n + t.results, 0);
      console.log(`[${kind}, ${via}] per worker over the suite: ${JSON.stringify(Object.fromEntries(totals))}`);
      // both workers decided payments, not just one of them (the whole suite decides ~100;
      // a run filtered with -t may decide too few to split)
      if (decided < 10) return;
      expect([...totals.keys()]).toEqual(['cloud-1', 'cloud-2']);
      for (const t of totals.values()) expect(t.results).toBeGreaterThan(0);
    });

    it('registers handsets: seed once per request, replay-safe, proof of key required', async () => {
      const { center, alice } = await world();
      expect(alice.grant?.index).toMatch(/^[0-9]{10}$/);
      const req = alice.registrationRequest(clock.now());
      const again = await center.register(req);
      expect(again).toMatchObject({ status: 'rejected', reason: 'device_exists' });
      expect(again).not.toHaveProperty('paycode');
      const { SimHandset } = await import('../../src/cloud/sim');
      const carol = new SimHandset({ deviceId: 'hs-carol', account: 'alice', slots: [3, 4] });
      const creq = carol.registrationRequest(clock.now());
      const first = await center.register(creq);
      const retry = await center.register(creq);
      expect(first.status).toBe('registered');
      expect(retry.paycode).toEqual(first.paycode);
      const dev = await center.registry.read.getDevice('hs-carol', false, true);
      expect(dev?.enrolments?.map((e) => e.slot)).toEqual([3, 4]);
      expect(dev?.seedSealed).not.toContain(first.paycode!.seed);
      const forged = { ...carol.registrationRequest(clock.now()), deviceId: 'hs-dave' };
      expect(await center.register(forged)).toMatchObject({ status: 'rejected', reason: 'bad_signature' });
      const stranger = new SimHandset({ deviceId: 'hs-eve', account: 'nobody' });
      expect(await center.register(stranger.registrationRequest(clock.now()))).toMatchObject({ reason: 'unknown_account' });
      const late = new SimHandset({ deviceId: 'hs-late', account: 'alice' });
      expect(await center.register(late.registrationRequest(clock.now() - 600_000))).toMatchObject({ reason: 'stale' });
    });

    it('approves a scan-to-pay payment, books it once, and replays the first outcome', async () => {
      const { center, alice, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 1_250n, currency: 'EUR' });
      const auth = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-1',
        amount: 1_250n,
        currency: 'EUR',
        nowMs: clock.now(),
      });
      const [o] = await authorise([{ payload: encodeMessageText('authorisation', auth), topicDeviceId: 'hs-alice' }]);
      const r = result(o);
      expect(r).toMatchObject({
        status: 'approved',
        bookedAmount: 1_250n,
        authorisedAmount: 1_250n,
        ledgerTransferId: `pc-${auth.paymentId}`,
      });
      if (direct) expect(o?.kind === 'result' && o.to).toEqual({ device: true, merchant: true });
      expect(await bal(ledgerIds.user('alice'))).toBe(98_750n);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(1_250n);
      clock.advance(5_000);
      const [o2] = await authorise([{ payload: auth }]);
      if (direct) expect(o2?.kind === 'result' && o2.replayed).toBe(true);
      expect(result(o2)).toEqual(r);
      expect(await bal(ledgerIds.user('alice'))).toBe(98_750n);
      expect((await center.registry.read.getOrder(merchant, 'o-1'))?.status).toBe('paid');
    });

    it('refuses the same payment id with a different body and books nothing new', async () => {
      const { center, alice, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR' });
      await center.createOrder({ merchantId: merchant, orderRef: 'o-2', amount: 500n, currency: 'EUR' });
      const a1 = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR', nowMs: clock.now() });
      expect(result((await authorise([{ payload: a1 }]))[0]).status).toBe('approved');
      const a2 = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-2',
        amount: 500n,
        currency: 'EUR',
        nowMs: clock.now(),
        paymentId: a1.paymentId,
      });
      const [o] = await authorise([{ payload: a2 }]);
      expect(result(o)).toMatchObject({ status: 'declined', reason: 'idempotency_conflict', bookedAmount: 0n });
      if (direct) expect(o?.kind === 'result' && o.to?.merchant).toBe(false);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(500n);
      expect((await center.registry.read.getPayment(a1.paymentId))?.orderRef).toBe('o-1');
    });

    it('typed rejections for malformed, oversized, mismatched and unknown-device messages; nothing booked', async () => {
      const { center, alice, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR' });
      const good = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR', nowMs: clock.now() });
      const text = encodeMessageText('authorisation', good);
      const { SimHandset } = await import('../../src/cloud/sim');
      const ghost = new SimHandset({ deviceId: 'hs-ghost', account: 'alice' });
      const outs = await authorise([
        { payload: '{"v":1,' },
        { payload: 'x'.repeat(10_000) },
        { payload: text.replace('"amount":"500"', '"amount":500') },
        { payload: new Uint8Array([0xff, 0xfe, 0x7b]) },
        { payload: text, topicDeviceId: 'hs-bob' },
        {
          payload: ghost.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR', nowMs: clock.now() }),
        },
      ]);
      expect(outs.slice(0, 5).map((o) => (o.kind === 'rejected' ? o.code : o.kind))).toEqual([
        'MESSAGE_NOT_JSON',
        'MESSAGE_TOO_LARGE',
        'MESSAGE_INVALID',
        'MESSAGE_NOT_UTF8',
        'DEVICE_MISMATCH',
      ]);
      expect(result(outs[5])).toMatchObject({ status: 'declined', reason: 'unknown_device' });
      expect(await bal(ledgerIds.merchant(merchant))).toBe(0n);
      expect(await center.registry.read.listPayments()).toEqual([]);
      // the genuine one still goes through afterwards
      expect(result((await authorise([{ payload: good }]))[0]).status).toBe('approved');
    });

    it('bad signatures are declined unrecorded and lock the device after repeated failures; a host unlocks', async () => {
      const { center, alice, merchant, authorise } = await world({ maxSecurityFailures: 3 });
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR' });
      for (let i = 0; i < 3; i++) {
        const a = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR', nowMs: clock.now() });
        const forged = { ...a, amount: 5n };
        expect(result((await authorise([{ payload: forged }]))[0])).toMatchObject({
          status: 'declined',
          reason: 'bad_signature',
        });
      }
      expect(await center.registry.read.listPayments()).toEqual([]);
      expect((await center.registry.read.getDevice('hs-alice'))?.status).toBe('locked');
      const a = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR', nowMs: clock.now() });
      expect(result((await authorise([{ payload: a }]))[0])).toMatchObject({ reason: 'account_locked' });
      await center.unlockDevice('hs-alice');
      const b = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 500n, currency: 'EUR', nowMs: clock.now() });
      expect(result((await authorise([{ payload: b }]))[0]).status).toBe('approved');
    });

    it('stale counters, expired and future timestamps are declined', async () => {
      const { center, alice, merchant, authorise } = await world();
      for (const ref of ['o-1', 'o-2', 'o-3', 'o-4'])
        await center.createOrder({ merchantId: merchant, orderRef: ref, amount: 100n, currency: 'EUR' });
      const a5 = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-1',
        amount: 100n,
        currency: 'EUR',
        nowMs: clock.now(),
        counter: 5,
      });
      expect(result((await authorise([{ payload: a5 }]))[0]).status).toBe('approved');
      const a4 = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-2',
        amount: 100n,
        currency: 'EUR',
        nowMs: clock.now(),
        counter: 4,
      });
      const a5b = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-2',
        amount: 100n,
        currency: 'EUR',
        nowMs: clock.now(),
        counter: 5,
      });
      const old = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-3',
        amount: 100n,
        currency: 'EUR',
        nowMs: clock.now() - 121_000,
        counter: 10,
      });
      const future = alice.authorise({
        merchantId: merchant,
        orderRef: 'o-4',
        amount: 100n,
        currency: 'EUR',
        nowMs: clock.now() + 31_000,
        counter: 11,
      });
      const outs = await authorise([{ payload: a4 }, { payload: a5b }, { payload: old }, { payload: future }]);
      expect(outs.map((o) => result(o).reason)).toEqual(['stale_counter', 'stale_counter', 'expired', 'future_timestamp']);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(100n);
      // a decided decline is itself idempotent
      const [again] = await authorise([{ payload: old }]);
      expect(result(again).reason).toBe('expired');
      if (direct) expect(again?.kind === 'result' && again.replayed).toBe(true);
    });

    it('order match: amount, currency, unknown order, unknown merchant, order paid twice', async () => {
      const { center, alice, bob, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 700n, currency: 'EUR' });
      await center.createMerchant({ merchantId: 'm-usd', currency: 'USD' });
      await center.createOrder({ merchantId: 'm-usd', orderRef: 'u-1', amount: 700n, currency: 'USD' });
      const t = clock.now();
      const outs = await authorise([
        { payload: alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 699n, currency: 'EUR', nowMs: t }) },
        { payload: alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 700n, currency: 'USD', nowMs: t }) },
        { payload: alice.authorise({ merchantId: merchant, orderRef: 'nope', amount: 700n, currency: 'EUR', nowMs: t }) },
        { payload: alice.authorise({ merchantId: 'm-nobody', orderRef: 'o-1', amount: 700n, currency: 'EUR', nowMs: t }) },
        { payload: alice.authorise({ merchantId: 'm-usd', orderRef: 'u-1', amount: 700n, currency: 'USD', nowMs: t }) },
        { payload: alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 700n, currency: 'EUR', nowMs: t }) },
        { payload: bob.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 700n, currency: 'EUR', nowMs: t }) },
      ]);
      expect(outs.map((o) => `${result(o).status}:${result(o).reason ?? ''}`)).toEqual([
        'declined:amount_mismatch',
        'declined:currency_mismatch',
        'declined:unknown_order',
        'declined:unknown_merchant',
        'declined:currency_mismatch',
        'approved:',
        'declined:order_closed',
      ]);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(700n);
      expect(await bal(ledgerIds.user('bob'))).toBe(1_000n);
    });

    it('step-up: over the limit needs fingerprint+pin; insufficient funds declines and frees the order', async () => {
      const { center, alice, bob, merchant, authorise } = await world({ stepUpLimit: 5_000n });
      await center.createOrder({ merchantId: merchant, orderRef: 'big', amount: 6_000n, currency: 'EUR' });
      const t = clock.now();
      const [fp] = await authorise([
        { payload: alice.authorise({ merchantId: merchant, orderRef: 'big', amount: 6_000n, currency: 'EUR', nowMs: t }) },
      ]);
      expect(result(fp).reason).toBe('pin_required');
      const [poor] = await authorise([
        {
          payload: bob.authorise({
            merchantId: merchant,
            orderRef: 'big',
            amount: 6_000n,
            currency: 'EUR',
            nowMs: t,
            method: 'fingerprint+pin',
          }),
        },
      ]);
      expect(result(poor)).toMatchObject({ status: 'declined', reason: 'insufficient_funds', bookedAmount: 0n });
      expect((await center.registry.read.getOrder(merchant, 'big'))?.paymentId).toBeNull();
      const [pin] = await authorise([
        {
          payload: alice.authorise({
            merchantId: merchant,
            orderRef: 'big',
            amount: 6_000n,
            currency: 'EUR',
            nowMs: t,
            method: 'fingerprint+pin',
          }),
        },
      ]);
      expect(result(pin).status).toBe('approved');
      expect(await bal(ledgerIds.user('bob'))).toBe(1_000n);
    });

    it('every message delivered twice (also within one batch) books each payment once', async () => {
      const { center, alice, bob, merchant, authorise } = await world();
      const msgs = [];
      for (let i = 0; i < 20; i++) {
        await center.createOrder({ merchantId: merchant, orderRef: `o-${i}`, amount: 10n + BigInt(i), currency: 'EUR' });
        const h = i % 2 ? alice : bob;
        msgs.push({
          payload: h.authorise({
            merchantId: merchant,
            orderRef: `o-${i}`,
            amount: 10n + BigInt(i),
            currency: 'EUR',
            nowMs: clock.now(),
          }),
        });
      }
      const outs = await authorise([...msgs, ...msgs]);
      const first = outs.slice(0, 20).map((o) => result(o));
      const second = outs.slice(20).map((o) => result(o));
      expect(first.every((r) => r.status === 'approved')).toBe(true);
      expect(second).toEqual(first);
      if (direct) expect(outs.slice(20).every((o) => o.kind === 'result' && o.replayed)).toBe(true);
      const again = await authorise(msgs);
      expect(again.map((o) => result(o))).toEqual(first);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(20n * 10n + 190n);
    });

    it('a worker dying right after its ledger write: redelivery resumes and books once', async () => {
      const { center, alice, merchant, authorise, faults, stores } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 300n, currency: 'EUR' });
      const a = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 300n, currency: 'EUR', nowMs: clock.now() });
      // whichever worker gets the message: its first ledger write is its last word
      let fail = true;
      faults.createTransfers = async (ts, next) => {
        const r = await next(ts);
        if (fail) {
          fail = false;
          throw new Error('killed after commit');
        }
        return r;
      };
      await expect(authorise([{ payload: a }])).rejects.toThrow('killed after commit');
      // one transaction per batch (SQLite): all of the batch rolled back, nothing booked;
      // step by step (PostgreSQL): claimed and booked, its finalise never ran
      const oneTx = stores.unitOfWork !== undefined;
      expect((await center.registry.read.getPayment(a.paymentId))?.status).toBe(oneTx ? undefined : 'processing');
      expect(await bal(ledgerIds.merchant(merchant))).toBe(oneTx ? 0n : 300n);
      clock.advance(600_000); // redelivered long after the authorisation's time window
      const [o] = await authorise([{ payload: a }]);
      if (oneTx) {
        // nothing was recorded, so the late copy is a new authorisation: too old
        expect(result(o)).toMatchObject({ status: 'declined', reason: 'expired', bookedAmount: 0n });
        expect(await bal(ledgerIds.merchant(merchant))).toBe(0n);
      } else {
        expect(result(o)).toMatchObject({ status: 'approved', bookedAmount: 300n });
        expect(await bal(ledgerIds.merchant(merchant))).toBe(300n);
      }
      faults.createTransfers = undefined;
    });

    it('a registry behind its ledger (restored from an older backup): the ledger decides, nothing doubles', async () => {
      const { center, alice, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 300n, currency: 'EUR' });
      const a = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 300n, currency: 'EUR', nowMs: clock.now() });
      expect(result((await authorise([{ payload: a }]))[0]).status).toBe('approved');
      // a brand-new, empty registry over the same ledger: everything the registry knew is gone
      const { SqlRegistry } = await import('../../src/cloud/registry/index');
      const { SqliteClient } = await import('../../src/cloud/sql/client');
      const { CloudCenter } = await import('../../src/cloud/center');
      const { SeedVault } = await import('../../src/cloud/registry/vault');
      const lost = new SqlRegistry(new SqliteClient(':memory:'));
      await lost.init();
      const c2 = new CloudCenter({ registry: lost, ledger: center.ledger, vault: new SeedVault(new Uint8Array(32)), clock });
      await c2.createUser({ account: 'alice', currency: 'EUR' });
      await c2.createMerchant({ merchantId: merchant, currency: 'EUR' });
      expect((await c2.register(alice.registrationRequest(clock.now()))).status).toBe('registered');
      await c2.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 300n, currency: 'EUR' });
      clock.advance(600_000); // the redelivered authorisation is now far outside its time window
      const [o] = await c2.authorise([{ payload: a }]);
      expect(result(o)).toMatchObject({ status: 'approved', bookedAmount: 300n });
      expect(await bal(ledgerIds.merchant(merchant))).toBe(300n);
      await lost.close();
    });

    it('show-to-pay: a pay code is consumed exactly once, expires, and charges replay', async () => {
      const { alice, merchant, charge } = await world();
      const code = alice.paycode(clock.now());
      const ch = (paymentId: string, c = code, amount = 420n, orderRef = 'p-1') => ({
        payload: {
          v: 1 as const,
          type: 'merchant.charge' as const,
          paymentId,
          merchantId: merchant,
          orderRef,
          code: c,
          amount,
          currency: 'EUR',
          ts: clock.now(),
        },
        topicMerchantId: merchant,
      });
      const id1 = alice.newPaymentId(clock.now());
      const [o1] = await charge([ch(id1)]);
      expect(result(o1)).toMatchObject({ status: 'approved', flow: 'paycode', deviceId: 'hs-alice', bookedAmount: 420n });
      const [o1b] = await charge([ch(id1)]);
      expect(result(o1b)).toEqual(result(o1));
      const [o2] = await charge([ch(alice.newPaymentId(clock.now()), code, 420n, 'p-2')]);
      expect(result(o2).reason).toBe('paycode_used');
      clock.advance(20_000);
      const fresh = alice.paycode(clock.now());
      clock.advance(61_000);
      const [o3] = await charge([ch(alice.newPaymentId(clock.now()), fresh, 10n, 'p-3')]);
      expect(result(o3).reason).toBe('paycode_invalid');
      const bad = `${code.slice(0, 18)}${(Number(code[18]) + 1) % 10}${code[19]}`;
      const [o4] = await charge([ch(alice.newPaymentId(clock.now()), bad, 10n, 'p-4')]);
      expect(result(o4).reason).toBe('paycode_invalid');
      const [o5] = await charge([{ ...ch(alice.newPaymentId(clock.now())), topicMerchantId: 'm-other' }]);
      expect(o5?.kind === 'rejected' && o5.code).toBe('MERCHANT_MISMATCH');
      const other = alice.paycode(clock.now());
      const [o6] = await charge([ch(alice.newPaymentId(clock.now()), other, 5_001n, 'p-6')]);
      expect(result(o6).reason).toBe('limit_exceeded');
      expect(await bal(ledgerIds.merchant(merchant))).toBe(420n);
    });

    it('manual capture, partial capture, void, and refunds (partial, idempotent, never more than captured)', async () => {
      const { center, alice, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'm-1', amount: 1_000n, currency: 'EUR', capture: 'manual' });
      await center.createOrder({ merchantId: merchant, orderRef: 'm-2', amount: 800n, currency: 'EUR', capture: 'manual' });
      const t = clock.now();
      const a1 = alice.authorise({ merchantId: merchant, orderRef: 'm-1', amount: 1_000n, currency: 'EUR', nowMs: t });
      const a2 = alice.authorise({ merchantId: merchant, orderRef: 'm-2', amount: 800n, currency: 'EUR', nowMs: t });
      const outs = await authorise([{ payload: a1 }, { payload: a2 }]);
      expect(outs.map((o) => result(o).ledgerTransferId)).toEqual([`pa-${a1.paymentId}`, `pa-${a2.paymentId}`]);
      const [acct] = await center.ledger.lookupAccounts([ledgerIds.user('alice')]);
      expect(acct?.debitsPending).toBe(1_800n);
      const cap = await center.capture(a1.paymentId, 900n);
      expect(cap).toMatchObject({ settlement: 'captured', captured: 900n });
      expect(await center.capture(a1.paymentId, 900n)).toMatchObject({ captured: 900n });
      await expect(center.capture(a1.paymentId, 950n)).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', status: 409 });
      const v = await center.voidPayment(a2.paymentId);
      expect(v.settlement).toBe('voided');
      expect((await center.registry.read.getOrder(merchant, 'm-2'))?.status).toBe('open');
      await expect(center.voidPayment(a1.paymentId)).rejects.toMatchObject({ code: 'NOT_VOIDABLE' });
      expect(await bal(ledgerIds.user('alice'))).toBe(100_000n - 900n);
      const r1 = await center.refund(a1.paymentId, 400n, 'rf-a');
      expect(r1).toMatchObject({ status: 'succeeded', amount: 400n });
      expect(await center.refund(a1.paymentId, 400n, 'rf-a')).toEqual(r1);
      await expect(center.refund(a1.paymentId, 401n, 'rf-a')).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
      await expect(center.refund(a1.paymentId, 501n, 'rf-b')).rejects.toMatchObject({
        code: 'REFUND_EXCEEDS_CAPTURED',
        status: 422,
      });
      expect(await center.refund(a1.paymentId, 500n, 'rf-b')).toMatchObject({ status: 'succeeded' });
      await expect(center.refund(a1.paymentId, 1n, 'rf-c')).rejects.toMatchObject({ code: 'REFUND_EXCEEDS_CAPTURED' });
      await expect(center.refund(a2.paymentId, 1n, 'rf-d')).rejects.toMatchObject({ code: 'NOT_REFUNDABLE' });
      expect(await bal(ledgerIds.user('alice'))).toBe(100_000n);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(0n);
      const [acct2] = await center.ledger.lookupAccounts([ledgerIds.user('alice')]);
      expect(acct2?.debitsPending).toBe(0n);
    });

    it('concurrent refunds with different keys never exceed the captured amount', async () => {
      const { center, alice, merchant, authorise } = await world();
      await center.createOrder({ merchantId: merchant, orderRef: 'o-1', amount: 1_000n, currency: 'EUR' });
      const a = alice.authorise({ merchantId: merchant, orderRef: 'o-1', amount: 1_000n, currency: 'EUR', nowMs: clock.now() });
      await authorise([{ payload: a }]);
      const tries = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => center.refund(a.paymentId, 300n, `k-${i}`)));
      expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(3);
      expect(await bal(ledgerIds.merchant(merchant))).toBe(100n);
    });
  });
}
