/**
 * Payment scenarios, written once against a `Target` (sim or rig). Each returns what it
 * observed and throws `ScenarioError` when the system did something it must not. The
 * vitest suite (hil-tests/test/payments.test.ts) and `handset demo` run the same list.
 *
 * After every scenario `checkInvariants()` asserts DESIGN §9 on the real cloud: money
 * conserved (the consumer + merchant balances sum to what was deposited, and the
 * ledger's per-currency totals are zero) and no payment booked twice.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { type PaymentOutcome, SIM_DEMO_PIN } from '@handset/firmware';
import { ledgerIds } from '@handset/host-sdk/cloud';
import { type OrderView, protocolMpmEncoder } from '@handset/host-sdk/merchant';
import { encodeMessageText, newPaymentId } from '@handset/host-sdk/protocol';
import { DEMO_ACCOUNTS, DEMO_CURRENCY, DEMO_DEPOSIT, eur, type Target } from '../target';

export * from '../target';

export class ScenarioError extends Error {
  constructor(
    readonly scenario: string,
    message: string,
  ) {
    super(`${scenario}: ${message}`);
    this.name = 'ScenarioError';
  }
}

export type Log = (line: string) => void;

export interface Scenario {
  name: string;
  title: string;
  run(t: Target, log: Log): Promise<Record<string, unknown>>;
}

function check(scenario: string, cond: unknown, message: string): asserts cond {
  if (!cond) throw new ScenarioError(scenario, message);
}

/** Resolves with the order once `pred` holds (terminal events), or rejects after `timeoutMs`. */
export function waitForOrder(t: Target, ref: string, pred: (v: OrderView) => boolean, timeoutMs = 10_000): Promise<OrderView> {
  return new Promise((resolve, reject) => {
    const now = t.merchant.get(ref);
    if (pred(now)) return resolve(now);
    const timer = setTimeout(() => {
      t.merchant.off('update', on);
      const v = t.merchant.get(ref);
      reject(new Error(`order ${ref} is ${v.order.state} (${v.comparison?.verdict ?? 'no comparison'}) after ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (v: OrderView) => {
      if (v.order.reference !== ref || !pred(v)) return;
      clearTimeout(timer);
      t.merchant.off('update', on);
      resolve(v);
    };
    t.merchant.on('update', on);
  });
}

async function ensureRegistered(t: Target, log: Log): Promise<void> {
  if (t.handset.keystore.paycode) return;
  t.holder.use(t.account);
  await t.chain.register({ account: t.account });
  log(`registered ${t.handset.config.deviceId} for ${t.account}`);
}

/** Merchant order -> QR in front of the camera -> holder's finger -> scan to pay. */
async function payByScan(t: Target, amountMinor: bigint, log: Log, qrAmount = amountMinor) {
  const order = await t.merchant.createOrder({ amount: eur(amountMinor) });
  const ref = order.order.reference;
  const qr =
    qrAmount === amountMinor
      ? order.qrPayload
      : protocolMpmEncoder.encodeDynamic({ merchant: t.merchant.merchant, amount: eur(qrAmount), reference: ref });
  log(`merchant order ${ref}: ${amountMinor} EUR minor units; QR ${qr.length} chars in front of the camera`);
  await t.presentMerchantQr(qr);
  const outcome = await t.chain.scanToPay();
  log(`handset outcome: ${describe(outcome)}`);
  return { ref, outcome };
}

const describe = (o: PaymentOutcome) =>
  o.status === 'declined' ? `declined (${o.reason}${o.detail ? `: ${o.detail}` : ''})` : o.status;

export const registration: Scenario = {
  name: 'registration',
  title: 'Registration: enrol a finger, register key + template digest, receive the sealed pay-code seed',
  async run(t, log) {
    const S = 'registration';
    await ensureRegistered(t, log);
    const ks = t.handset.keystore;
    const dev = await t.cloud.center.registry.read.getDevice(t.handset.config.deviceId, false, true);
    check(S, dev, 'the cloud has no device record');
    check(S, dev.publicKey === ks.publicKey, 'the cloud holds another public key');
    check(S, ks.enrolments.length >= 1, 'no enrolment in the keystore');
    const sim = t.kind === 'sim' ? t.handset.platform.sim.r307 : undefined;
    for (const e of ks.enrolments) {
      const onCloud = dev.enrolments?.find((x) => x.slot === e.slot);
      check(S, onCloud?.templateSha256 === e.templateSha256, `slot ${e.slot}: digest differs in the cloud`);
      const tpl = sim?.template(e.slot);
      if (tpl) {
        const digest = createHash('sha256').update(tpl).digest('hex');
        check(S, digest === e.templateSha256, `slot ${e.slot}: digest is not SHA-256 of the stored template`);
      }
    }
    check(S, ks.paycode?.index === dev.paycodeIndex, 'pay-code index differs from the cloud');
    const file = (t.handset.stores.keystore as { location?: string }).location;
    const details: Record<string, unknown> = {
      deviceId: dev.deviceId,
      slots: ks.enrolments.map((e) => e.slot),
      index: ks.paycode?.index,
    };
    if (file && file !== 'memory') {
      const mode = statSync(file).mode & 0o777;
      check(S, mode === 0o600, `keystore file mode is ${mode.toString(8)}, not 600`);
      details.keystoreMode = '0600';
    }
    log(`cloud device ${dev.deviceId}: key and ${ks.enrolments.length} template digest(s) match; keystore 0600`);
    return details;
  },
};

export const scanToPayPaid: Scenario = {
  name: 'scan-to-pay',
  title: 'Scan to pay: merchant QR -> confirm -> fingerprint -> signed authorisation -> PAID on both sides',
  async run(t, log) {
    const S = 'scan-to-pay';
    await ensureRegistered(t, log);
    const user = ledgerIds.user(t.account);
    const shop = ledgerIds.merchant(t.merchant.merchant.id);
    const [u0, m0] = [await t.balance(user), await t.balance(shop)];
    t.holder.use(t.account);
    const { ref, outcome } = await payByScan(t, 1250n, log);
    check(S, outcome.status === 'paid', `handset says ${describe(outcome)}`);
    const v = await waitForOrder(t, ref, (x) => x.comparison !== null);
    check(S, v.comparison?.verdict === 'PAID', `merchant comparison ${v.comparison?.verdict}`);
    check(S, (await t.balance(user)) === u0 - 1250n, 'consumer not debited exactly once');
    check(S, (await t.balance(shop)) === m0 + 1250n, 'merchant not credited exactly once');
    log(`merchant: ${v.comparison?.verdict}; ${t.account} -12.50, merchant +12.50`);
    return { ref, paymentId: outcome.status === 'paid' ? outcome.paymentId : undefined, merchant: v.comparison?.verdict };
  },
};

export const wrongFinger: Scenario = {
  name: 'wrong-finger',
  title: "Scan to pay with a stranger's finger x3 -> PIN asked, the stranger cancels -> declined, nothing sent",
  async run(t, log) {
    const S = 'wrong-finger';
    await ensureRegistered(t, log);
    const before = await t.moneyInAccounts();
    const sent = (await t.handset.uplink.outbox.all()).length;
    const presses = t.holder.presses.length;
    const prompts = t.holder.pinPrompts.length;
    t.holder.script(['stranger', 'stranger', 'stranger']);
    t.holder.typePins(['cancel']);
    const { ref, outcome } = await payByScan(t, 990n, log);
    check(S, outcome.status === 'declined' && outcome.reason === 'PIN_ABORTED', `expected PIN_ABORTED, got ${describe(outcome)}`);
    check(S, t.holder.presses.length - presses === 3, `expected 3 presses, saw ${t.holder.presses.length - presses}`);
    check(S, t.holder.pinPrompts.length - prompts === 1, 'the PIN was not asked once after 3 misses');
    check(S, t.chain.state === 'declined', `handset state ${t.chain.state}, expected declined`);
    check(S, (await t.handset.uplink.outbox.all()).length === sent, 'something was sent to the cloud');
    check(S, t.merchant.get(ref).order.state === 'awaiting_payment', 'the order changed state');
    await t.merchant.cancel(ref);
    check(S, (await t.moneyInAccounts()) === before, 'balances moved');
    log('3 misses -> PIN step-up asked -> canceled on the pad -> declined PIN_ABORTED, nothing sent');
    return { ref, reason: outcome.status === 'declined' ? outcome.reason : undefined };
  },
};

/** The method the handset signed for a payment (from its outbox entry). */
async function signedMethod(t: Target, paymentId: string): Promise<string | undefined> {
  const entry = await t.handset.uplink.outbox.get(paymentId);
  return entry ? (JSON.parse(entry.payload) as { method?: string }).method : undefined;
}

export const stepUpPin: Scenario = {
  name: 'step-up-pin',
  title: 'Over the step-up limit: fingerprint + right PIN on the PIN pad -> PAID (method fingerprint+pin)',
  async run(t, log) {
    const S = 'step-up-pin';
    await ensureRegistered(t, log);
    const user = ledgerIds.user(t.account);
    const shop = ledgerIds.merchant(t.merchant.merchant.id);
    const [u0, m0] = [await t.balance(user), await t.balance(shop)];
    const amount = BigInt(t.handset.config.stepUpLimit) + 2500n;
    const prompts = t.holder.pinPrompts.length;
    t.holder.use(t.account);
    t.holder.typePins([SIM_DEMO_PIN]);
    const { ref, outcome } = await payByScan(t, amount, log);
    check(S, outcome.status === 'paid', `handset says ${describe(outcome)}`);
    check(S, t.holder.pinPrompts.length - prompts === 1, 'the PIN was not asked exactly once');
    const method = await signedMethod(t, outcome.paymentId);
    check(S, method === 'fingerprint+pin', `signed method ${method}, expected fingerprint+pin`);
    const v = await waitForOrder(t, ref, (x) => x.comparison !== null);
    check(S, v.comparison?.verdict === 'PAID', `merchant comparison ${v.comparison?.verdict}`);
    check(S, (await t.balance(user)) === u0 - amount, 'consumer not debited exactly once');
    check(S, (await t.balance(shop)) === m0 + amount, 'merchant not credited exactly once');
    log(`finger + PIN -> PAID ${amount} (method ${method}); merchant ${v.comparison?.verdict}`);

    // the cloud enforces the step-up: a fingerprint-only authorisation over the limit is declined
    let cloudSays: string | undefined;
    if (t.kind === 'sim') {
      const order = await t.merchant.createOrder({ amount: eur(amount) });
      const ks = t.handset.keystore;
      const now = Date.now();
      const slot = ks.enrolments[0]?.slot ?? 0;
      const auth = ks.signAuthorisation(ks.unlock({ slot, score: 100 }), {
        paymentId: newPaymentId((n) => ks.crypto.randomBytes(n), now),
        account: t.account,
        merchantId: t.merchant.merchant.id,
        orderRef: order.order.reference,
        amount,
        currency: DEMO_CURRENCY,
        counter: ks.reserveCounter(),
        ts: now,
      });
      await t.handset.uplink.sendAuthorisation(auth, encodeMessageText('authorisation', auth));
      const r = await t.handset.uplink.resultOf(auth.paymentId, 10_000);
      cloudSays = r?.reason;
      check(
        S,
        r?.status === 'declined' && r.reason === 'pin_required',
        `fingerprint-only over the limit: cloud said ${r?.status}/${r?.reason}`,
      );
      await t.merchant.cancel(order.order.reference).catch(() => undefined);
      check(S, (await t.balance(user)) === u0 - amount, 'the fingerprint-only authorisation moved money');
      log('a fingerprint-only authorisation for the same amount: cloud declines pin_required');
    }
    return { ref, method, amount: String(amount), cloudWithoutPin: cloudSays };
  },
};

export const pinLockout: Scenario = {
  name: 'pin-lockout',
  title: '3 wrong PINs -> declined PIN_LOCKED, payments locked until a host unlocks; nothing booked',
  async run(t, log) {
    const S = 'pin-lockout';
    await ensureRegistered(t, log);
    const before = await t.moneyInAccounts();
    const user = ledgerIds.user(t.account);
    const u0 = await t.balance(user);
    const auths = async () => (await t.handset.uplink.outbox.all()).filter((e) => e.kind === 'auth').length;
    const sent = await auths();
    const prompts = t.holder.pinPrompts.length;
    const amount = BigInt(t.handset.config.stepUpLimit) + 1000n;
    t.holder.use(t.account);
    t.holder.typePins(['1111', '2222', '3333']);
    const { ref, outcome } = await payByScan(t, amount, log);
    check(S, outcome.status === 'declined' && outcome.reason === 'PIN_LOCKED', `expected PIN_LOCKED, got ${describe(outcome)}`);
    check(S, t.holder.pinPrompts.length - prompts === 3, `expected 3 PIN prompts, saw ${t.holder.pinPrompts.length - prompts}`);
    check(S, t.chain.state === 'locked', `handset state ${t.chain.state}, expected locked`);
    check(S, t.handset.keystore.locked?.reason === 'pin_locked', 'the keystore is not locked');
    const status = await t.handset.password?.status();
    check(S, status?.locked === true, 'the password module is not locked');
    check(S, (await auths()) === sent, 'an authorisation was sent');
    check(S, t.merchant.get(ref).order.state === 'awaiting_payment', 'the order changed state');

    // locked: even the right finger for a small amount is refused, nothing is asked
    const small = await payByScan(t, 200n, log);
    check(
      S,
      small.outcome.status === 'declined' && small.outcome.reason === 'HANDSET_LOCKED',
      `locked handset said ${describe(small.outcome)}`,
    );
    check(S, t.holder.pinPrompts.length - prompts === 3, 'a locked handset asked for a PIN');
    await t.merchant.cancel(small.ref).catch(() => undefined);
    check(S, (await t.balance(user)) === u0 && (await t.moneyInAccounts()) === before, 'balances moved while locked');
    log('3 wrong PINs -> PIN_LOCKED, handset locked (keystore + password store), nothing sent');

    // a host unlocks; the same order is then paid with the right PIN
    await t.chain.unlock();
    check(S, (await t.handset.password?.status())?.failures === 0, 'host unlock left PIN failures');
    check(S, (t.chain.state as string) === 'idle', `after unlock the handset is ${t.chain.state}`);
    t.holder.typePins([SIM_DEMO_PIN]);
    await t.presentMerchantQr(t.merchant.get(ref).qrPayload);
    const paid = await t.chain.scanToPay();
    check(S, paid.status === 'paid', `after unlock: ${describe(paid)}`);
    check(S, (await t.balance(user)) === u0 - amount, 'consumer not debited exactly once after unlock');
    log(`host unlocked; the same order paid with finger + right PIN`);
    return { ref, reason: outcome.status === 'declined' ? outcome.reason : undefined, afterUnlock: paid.status };
  },
};

export const showToPayPaid: Scenario = {
  name: 'show-to-pay',
  title: 'Show to pay: finger -> one-time pay code on the e-ink -> merchant scans and charges -> PAID',
  async run(t, log) {
    const S = 'show-to-pay';
    await ensureRegistered(t, log);
    const user = ledgerIds.user(t.account);
    const u0 = await t.balance(user);
    t.holder.use(t.account);
    let shown: string | undefined;
    t.chain.once('paycode', (p) => {
      shown = p.code;
    });
    const session = t.chain.showToPay();
    const code = await t.readHandsetQr(8_000);
    check(S, code === shown, `panel shows ${code}, the handset made ${shown}`);
    log(`merchant scanner read pay code ${code} from the handset's panel`);
    const order = await t.merchant.createOrder({ amount: eur(800n) });
    const view = await t.merchant.chargePayCode(order.order.reference, code);
    check(S, view.comparison?.verdict === 'PAID', `merchant comparison ${view.comparison?.verdict}`);
    const outcome = await session;
    check(S, outcome.status === 'paid' || outcome.status === 'expired', `session ended ${describe(outcome)}`);
    check(S, (await t.balance(user)) === u0 - 800n, 'consumer not debited exactly once');
    // the same code a second time is refused (single use)
    const order2 = await t.merchant.createOrder({ amount: eur(800n) });
    const second = await t.merchant.chargePayCode(order2.order.reference, code);
    check(S, second.comparison?.verdict !== 'PAID', 'a used pay code was accepted again');
    await t.merchant.cancel(order2.order.reference).catch(() => undefined);
    check(S, (await t.balance(user)) === u0 - 800n, 'the reused code moved money');
    log(`merchant: PAID; handset session ended ${outcome.status}; reused code refused`);
    return { code, handset: outcome.status, reuse: second.comparison?.reasons.map((r) => r.code) };
  },
};

export const duplicateDelivery: Scenario = {
  name: 'duplicate-delivery',
  title: 'Every MQTT message delivered twice, and a resend from the outbox after a crash -> booked once',
  async run(t, log) {
    const S = 'duplicate-delivery';
    await ensureRegistered(t, log);
    const user = ledgerIds.user(t.account);
    const u0 = await t.balance(user);
    t.holder.use(t.account);

    // 1. the broker delivers every message twice (auth to the cloud, results to both sides)
    let duplicates = 0;
    const onResult = (_r: unknown, first: boolean) => {
      if (!first) duplicates++;
    };
    t.chain.on('result', onResult);
    t.duplicateDelivery(true);
    let first: Awaited<ReturnType<typeof payByScan>>;
    try {
      first = await payByScan(t, 300n, log);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      t.duplicateDelivery(false);
      t.chain.off('result', onResult);
    }
    check(S, first.outcome.status === 'paid', `duplicated delivery: ${describe(first.outcome)}`);
    check(S, duplicates >= 1, 'the handset never saw the duplicate result');
    check(S, (await t.balance(user)) === u0 - 300n, 'duplicated delivery moved money twice');
    log(`duplicated delivery: paid once, ${duplicates} duplicate result(s) ignored`);

    // 2. crash right after the durable outbox write, before the publish; restart resends
    await t.crashAfterNextOutboxWrite();
    const order = await t.merchant.createOrder({ amount: eur(450n) });
    const ref = order.order.reference;
    await t.presentMerchantQr(order.qrPayload);
    const crashed = await t.chain.scanToPay().catch((e: Error) => e);
    log(`handset crashed mid-payment (${crashed instanceof Error ? crashed.message : describe(crashed)})`);
    const [pending] = await t.handset.stores.outbox.unanswered();
    check(S, pending?.kind === 'auth', 'the authorisation is not in the outbox');
    check(S, t.merchant.get(ref).order.state === 'awaiting_payment', 'paid before the resend');
    const h = await t.restartHandset();
    const text = await h.uplink.waitFor(pending.id, 10_000);
    check(S, text !== undefined, 'no result after the restart');
    const v = await waitForOrder(t, ref, (x) => x.comparison !== null);
    check(S, v.comparison?.verdict === 'PAID', `merchant comparison ${v.comparison?.verdict}`);
    log(`restart resent ${pending.id} from the outbox -> PAID`);

    // 3. the same authorisation published again: the cloud replays, the first outcome stands
    await h.uplink.link.publish(pending.topic, pending.payload);
    await new Promise((r) => setTimeout(r, 300));
    const entry = await h.uplink.outbox.get(pending.id);
    check(S, entry?.result === text, 'a replay changed the recorded outcome');
    check(S, (await t.balance(user)) === u0 - 750n, 'the resend booked twice');
    return { duplicates, resent: pending.id, ref };
  },
};

export const amountTampering: Scenario = {
  name: 'amount-tampering',
  title: 'Amount tampering: a forged QR with a lower amount -> cloud declines, merchant comparison REJECTED',
  async run(t, log) {
    const S = 'amount-tampering';
    await ensureRegistered(t, log);
    const before = await t.moneyInAccounts();
    const u0 = await t.balance(ledgerIds.user(t.account));
    t.holder.use(t.account);
    const { ref, outcome } = await payByScan(t, 4200n, log, 420n);
    check(S, outcome.status === 'declined', `forged amount: ${describe(outcome)}`);
    const v = await waitForOrder(t, ref, (x) => x.comparison !== null);
    check(S, v.comparison?.verdict === 'REJECTED' && v.comparison.flagged, `merchant comparison ${v.comparison?.verdict}`);
    check(S, (await t.balance(ledgerIds.user(t.account))) === u0, 'the forged payment moved money');
    check(S, (await t.moneyInAccounts()) === before, 'balances moved');
    await t.merchant.cancel(ref).catch(() => undefined);
    const reasons = v.comparison?.reasons.map((r) => r.code) ?? [];
    log(`cloud: ${outcome.status === 'declined' ? outcome.reason : ''}; merchant REJECTED (${reasons.join(', ')})`);
    return { ref, cloud: outcome.status === 'declined' ? outcome.reason : undefined, merchant: reasons };
  },
};

/** In the order the demo runs them. */
export const SCENARIOS: Scenario[] = [
  registration,
  scanToPayPaid,
  wrongFinger,
  stepUpPin,
  pinLockout,
  showToPayPaid,
  duplicateDelivery,
  amountTampering,
];

/** DESIGN §9 after a scenario: money conserved, nothing booked twice, registry = ledger. */
export async function checkInvariants(t: Target, scenario: string): Promise<{ money: bigint }> {
  const rep = await t.checkInvariants();
  if (!rep.ok) throw new ScenarioError(scenario, `invariants violated: ${rep.violations.join('; ')}`);
  const money = await t.moneyInAccounts();
  const deposited = DEMO_DEPOSIT * BigInt(DEMO_ACCOUNTS.length);
  if (money !== deposited) throw new ScenarioError(scenario, `money in accounts ${money} != deposited ${deposited}`);
  return { money };
}

/** Runs scenarios in order with the invariant check after each; stops at the first failure. */
export async function runScenarios(
  t: Target,
  list: Scenario[] = SCENARIOS,
  log: Log = () => undefined,
): Promise<{ name: string; ms: number; details: Record<string, unknown> }[]> {
  const out: { name: string; ms: number; details: Record<string, unknown> }[] = [];
  for (const s of list) {
    const start = performance.now();
    log(`== ${s.name}: ${s.title}`);
    const details = await s.run(t, log);
    await checkInvariants(t, s.name);
    const ms = Math.round(performance.now() - start);
    log(`   ok (${ms} ms; invariants hold)`);
    out.push({ name: s.name, ms, details });
  }
  return out;
}
