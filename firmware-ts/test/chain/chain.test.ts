/**
 * The chain's branches beyond the HIL scenarios, on the sim platform against the real
 * cloud (SQLite in memory + embedded aedes): step-up over the limit (no PIN module ->
 * PIN_REQUIRED_UNAVAILABLE, nothing signed; with a PIN step-up -> fingerprint+pin,
 * approved), a QR that is not a merchant code, a slow cloud (pending, then the late
 * result lands and the outbox resend books it once), a pay-code result on the handset's
 * result topic ending the session with a receipt; the default PIN step-up (PasswordModule
 * on the simulated PIN pad): 3 wrong PINs lock keystore + PIN store, across a restart, until
 * `chain.unlock()`.
 */
import { MqttPeer, type RunningCloud, startCloud } from '@handset/host-sdk/cloud';
import { buildMpm, newPaymentId } from '@handset/host-sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDecoder, memoryStores, type PinStepUp, SIM_DEMO_PIN, type SimHandset, startSimHandset } from '../../src/index';

let cloud: RunningCloud;
const handsets: SimHandset[] = [];
const peers: MqttPeer[] = [];

beforeAll(async () => {
  cloud = await startCloud({ store: 'sqlite::memory:', broker: 'embedded' });
  await cloud.center.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
  for (const a of ['alice', 'bob']) {
    await cloud.center.createUser({ account: a, currency: 'EUR' });
    await cloud.center.deposit(a, 100_000n, 'setup');
  }
  await defaultDecoder(200);
}, 60_000);
afterAll(async () => {
  for (const p of peers) await p.close();
  for (const h of handsets) await h.stop();
  await cloud?.stop();
});

async function handset(account: string, n: number, pin?: PinStepUp | false, resendMs = 5_000) {
  const h = await startSimHandset({
    config: {
      deviceId: `hs-${account}-${n}`,
      brokerUrl: cloud.brokerUrl,
      resultTimeoutMs: 3_000,
      resendMs,
      paycodeShowMs: 20_000,
    },
    pin,
  });
  handsets.push(h);
  h.chain.on('finger', (e) => {
    if (e.kind === 'prompt') h.platform.sim.r307.placeFinger(account);
    if (e.kind === 'lift') h.platform.sim.r307.liftFinger();
  });
  await h.chain.register({ account });
  return h;
}

async function order(amount: bigint, ref: string) {
  await cloud.center.createOrder({ merchantId: 'm-shop', orderRef: ref, amount, currency: 'EUR' });
  return buildMpm({
    merchantName: 'SHOP',
    merchantCity: 'BERLIN',
    mcc: '5999',
    country: 'DE',
    currency: 'EUR',
    amount,
    merchantId: 'm-shop',
    reference: ref,
  });
}

describe('chain', () => {
  it('over the step-up limit without a PIN module: declined PIN_REQUIRED_UNAVAILABLE, nothing signed or sent', async () => {
    const h = await handset('alice', 1, false);
    h.platform.sim.camera.setCode({ kind: 'qr', payload: await order(7_500n, 'BIG-1') }, { scale: 3 });
    const counter = h.keystore.counter;
    const out = await h.chain.scanToPay();
    expect(out).toMatchObject({ status: 'declined', reason: 'PIN_REQUIRED_UNAVAILABLE' });
    expect(h.keystore.counter).toBe(counter);
    expect((await h.uplink.outbox.all()).filter((e) => e.kind === 'auth')).toEqual([]);
    expect(h.chain.state).toBe('declined');
    expect(h.keystore.locked).toBeUndefined();
  }, 30_000);

  it('over the limit with a PIN step-up: signed fingerprint+pin and approved by the cloud', async () => {
    const asked: string[] = [];
    const pin: PinStepUp = {
      async requestPin(o) {
        asked.push(o.reason);
        return { ok: true };
      },
    };
    const h = await handset('bob', 1, pin);
    h.platform.sim.camera.setCode({ kind: 'qr', payload: await order(7_500n, 'BIG-2') }, { scale: 3 });
    const out = await h.chain.scanToPay();
    expect(out.status).toBe('paid');
    expect(asked).toEqual(['step_up']);
    const [entry] = (await h.uplink.outbox.all()).filter((e) => e.kind === 'auth');
    expect(JSON.parse(entry!.payload)).toMatchObject({ method: 'fingerprint+pin', amount: '7500', counter: 1 });
  }, 30_000);

  it('a QR that is not a merchant code is refused before the fingerprint step', async () => {
    const h = handsets[0]!;
    h.platform.sim.camera.setCode({ kind: 'qr', payload: 'https://example.com/not-a-payment' }, { scale: 3 });
    const prompts: number[] = [];
    h.chain.on('finger', (e) => e.kind === 'prompt' && prompts.push(e.attempt));
    const out = await h.chain.scanToPay();
    expect(out).toMatchObject({ status: 'declined', reason: 'INVALID_QR' });
    expect(prompts).toEqual([]);
  }, 30_000);

  it('slow cloud: pending, the outbox resends, the late result lands on the screen; booked once', async () => {
    const h = await handset('alice', 2, undefined, 300);
    h.platform.sim.camera.setCode({ kind: 'qr', payload: await order(700n, 'SLOW-1') }, { scale: 3 });
    await cloud.ingest!.stop();
    const outcomes: string[] = [];
    h.chain.on('outcome', (o) => outcomes.push(o.status));
    const out = await h.chain.scanToPay();
    expect(out.status).toBe('pending');
    await cloud.ingest!.start();
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('no late receipt')), 10_000);
      h.chain.on('outcome', (o) => {
        if (o.status === 'paid') {
          clearTimeout(t);
          res();
        }
      });
    });
    expect(outcomes).toEqual(['pending', 'paid']);
    const [entry] = (await h.uplink.outbox.all()).filter((e) => e.kind === 'auth');
    expect(entry!.attempts).toBeGreaterThanOrEqual(2);
    const rep = await cloud.center.checkInvariants();
    expect(rep.violations).toEqual([]);
  }, 30_000);

  it('show to pay: a charge over MQTT puts the result on the handset topic and ends the session with a receipt', async () => {
    const h = handsets[0]!;
    await cloud.center.createOrder({ merchantId: 'm-shop', orderRef: 'PC-1', amount: 450n, currency: 'EUR' });
    const code = new Promise<string>((res) => h.chain.once('paycode', (p) => res(p.code)));
    const session = h.chain.showToPay();
    const peer = await new MqttPeer('m-shop', { url: cloud.brokerUrl }).connect();
    peers.push(peer);
    const c = await code;
    const r = await peer.charge({
      v: 1,
      type: 'merchant.charge',
      paymentId: newPaymentId((n) => crypto.getRandomValues(new Uint8Array(n)), Date.now()),
      merchantId: 'm-shop',
      orderRef: 'PC-1',
      code: c,
      amount: 450n,
      currency: 'EUR',
      ts: Date.now(),
    });
    expect(r.status).toBe('approved');
    const out = await session;
    expect(out).toMatchObject({ status: 'paid', flow: 'paycode', orderRef: 'PC-1' });
    expect(h.keystore.paycode!.lastUsedStep).toBeGreaterThan(0);
  }, 30_000);

  it('default PIN step-up: 3 wrong PINs lock keystore and PIN store across a restart until chain.unlock()', async () => {
    const stores = memoryStores();
    const boot = async () => {
      const h = await startSimHandset({
        config: { deviceId: 'hs-bob-7', brokerUrl: cloud.brokerUrl, resultTimeoutMs: 3_000 },
        stores,
      });
      h.chain.on('finger', (e) => {
        if (e.kind === 'prompt') h.platform.sim.r307.placeFinger('bob');
        if (e.kind === 'lift') h.platform.sim.r307.liftFinger();
      });
      h.chain.on('screen', (sc) => {
        if (sc.kind !== 'pin' || sc.entered !== 0) return;
        const pin = typed.shift();
        const pad = h.platform.sim.keypad;
        void (pin ? pad.type(pin).then(() => pad.enter()) : pad.cancel());
      });
      return h;
    };
    const typed: string[] = [];
    const h1 = await boot();
    await h1.chain.register({ account: 'bob' });
    expect(h1.password).toBeDefined();
    expect(await h1.password!.status()).toMatchObject({ pinSet: true, locked: false });
    typed.push('1111', '2222', '3333');
    h1.platform.sim.camera.setCode({ kind: 'qr', payload: await order(6_000n, 'LOCK-1') }, { scale: 3 });
    expect(await h1.chain.scanToPay()).toMatchObject({ status: 'declined', reason: 'PIN_LOCKED' });
    expect(h1.chain.state).toBe('locked');
    expect(h1.keystore.locked?.reason).toBe('pin_locked');
    expect((await h1.uplink.outbox.all()).filter((e) => e.kind === 'auth')).toEqual([]);
    await h1.crash();

    const h2 = await boot();
    handsets.push(h2);
    expect(h2.chain.state).toBe('locked');
    expect(await h2.password!.status()).toMatchObject({ locked: true, failures: 3 });
    expect(await h2.chain.scanToPay()).toMatchObject({ status: 'declined', reason: 'HANDSET_LOCKED' });
    await h2.chain.unlock();
    expect(h2.keystore.locked).toBeUndefined();
    expect(await h2.password!.status()).toMatchObject({ locked: false, failures: 0 });
    typed.push(SIM_DEMO_PIN);
    h2.platform.sim.camera.setCode({ kind: 'qr', payload: await order(6_000n, 'LOCK-2') }, { scale: 3 });
    const paid = await h2.chain.scanToPay();
    expect(paid.status).toBe('paid');
    const [entry] = (await h2.uplink.outbox.all()).filter((e) => e.kind === 'auth');
    expect(JSON.parse(entry!.payload)).toMatchObject({ method: 'fingerprint+pin', amount: '6000' });
  }, 30_000);
});
