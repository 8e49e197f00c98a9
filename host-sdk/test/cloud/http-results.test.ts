/**
 * Payments decided over HTTP reach the MQTT result topics like MQTT ones: a merchant
 * terminal that charges a pay code over `POST /v1/merchants/:id/charges` (HttpCloudClient)
 * ends the handset's show-to-pay session with a receipt on `handset/v1/{id}/result`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttPeer } from '../../src/cloud/mqtt/sim-client';
import { type RunningCloud, startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import { encodeMessageText } from '../../src/protocol/index';
import { TEST_KEY } from './fixtures';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP decisions are published to MQTT (aedes + SQLite in memory)', () => {
  let cloud: RunningCloud;
  const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
  const peers: MqttPeer[] = [];
  let usedCode = '';

  async function http(method: string, path: string, body?: unknown) {
    const res = await fetch(cloud.httpUrl + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function peer(id: string) {
    const p = await new MqttPeer(id, { url: cloud.brokerUrl }).connect();
    peers.push(p);
    return p;
  }

  beforeAll(async () => {
    cloud = await startCloud({ store: 'sqlite::memory:', broker: 'embedded', brokerPort: 0, httpPort: 0, seedKey: TEST_KEY });
    await http('POST', '/v1/users', { account: 'alice', currency: 'EUR' });
    await http('POST', '/v1/users/alice/deposits', { amount: '50000', key: 'init' });
    await http('POST', '/v1/merchants', { merchantId: 'm-shop', currency: 'EUR' });
    const r = await http(
      'POST',
      '/v1/registrations',
      JSON.parse(encodeMessageText('registration.request', alice.registrationRequest(Date.now()))),
    );
    expect(r.body.status).toBe('registered');
    alice.accept(r.body as never);
  });

  afterAll(async () => {
    for (const p of peers) await p.close();
    expect((await cloud.center.checkInvariants()).violations).toEqual([]);
    await cloud.stop();
  });

  it('a pay-code charge over HTTP: the handset and the merchant each receive the result once', async () => {
    const hs = await peer('hs-alice');
    const shop = await peer('m-shop');
    const paymentId = alice.newPaymentId(Date.now());
    usedCode = alice.paycode(Date.now());
    const res = await http('POST', '/v1/merchants/m-shop/charges', {
      paymentId,
      orderRef: 'http-pc-1',
      code: usedCode,
      amount: '420',
      currency: 'EUR',
    });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({ paymentId, status: 'approved', flow: 'paycode', deviceId: 'hs-alice' });
    const [h, m] = await Promise.all([hs.waitFor(paymentId), shop.waitFor(paymentId)]);
    expect(h).toMatchObject({ paymentId, status: 'approved', bookedAmount: 420n, merchantId: 'm-shop', orderRef: 'http-pc-1' });
    expect(m).toEqual(h);
    await settle(200);
    expect(hs.received.filter((r) => r.paymentId === paymentId)).toHaveLength(1);
    expect(shop.received.filter((r) => r.paymentId === paymentId)).toHaveLength(1);
  });

  it('a declined HTTP charge (code reused) is published too; a rejected request publishes nothing', async () => {
    const hs = await peer('hs-alice');
    const id = alice.newPaymentId(Date.now());
    const res = await http('POST', '/v1/merchants/m-shop/charges', {
      paymentId: id,
      orderRef: 'http-pc-2',
      code: usedCode,
      amount: '100',
      currency: 'EUR',
    });
    expect(res.body.result).toMatchObject({ status: 'declined', reason: 'paycode_used' });
    const declined = await hs.waitFor(id);
    expect(declined).toMatchObject({ status: 'declined', reason: 'paycode_used' });
    const before = hs.received.length;
    const bad = await http('POST', '/v1/merchants/m-shop/charges', { paymentId: 'nope', code: '1', amount: '1' });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    await settle(200);
    expect(hs.received.length).toBe(before);
  });
});
