/**
 * The whole service on its embedded defaults (SQLite + aedes) over real MQTT and HTTP:
 * handsets pay, merchants see the same result, the per-device ACL refuses spoofing.
 * The same suite runs with MQTT payments decided on the event loop and on the decision
 * thread (its own SQLite connection; its log events reach the same logger).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerIds } from '../../src/cloud/ids';
import { memoryLogger } from '../../src/cloud/log';
import { MqttPeer } from '../../src/cloud/mqtt/sim-client';
import { type RunningCloud, startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import { encodeMessageText } from '../../src/protocol/index';
import { TEST_KEY } from './fixtures';

// Twice: deciding on the event loop (the default) and on the decision thread (`--decision-thread`).
describe.each([false, true])('cloud on embedded aedes + SQLite (decision thread: %s)', (decisionThread) => {
  let cloud: RunningCloud;
  let dir: string;
  const log = memoryLogger();
  const peers: MqttPeer[] = [];
  const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
  const bob = new SimHandset({ deviceId: 'hs-bob', account: 'bob' });

  async function http(method: string, path: string, body?: unknown) {
    const res = await fetch(cloud.httpUrl + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloud-e2e-'));
    cloud = await startCloud({ store: `sqlite:${dir}`, broker: 'embedded', seedKey: TEST_KEY, logger: log, decisionThread });
    expect((await http('GET', '/health')).body.decisionThread).toBe(decisionThread);
    for (const u of ['alice', 'bob']) expect((await http('POST', '/v1/users', { account: u, currency: 'EUR' })).status).toBe(201);
    await http('POST', '/v1/users/alice/deposits', { amount: '50000', key: 'init' });
    await http('POST', '/v1/merchants', { merchantId: 'm-shop', currency: 'EUR' });
    for (const h of [alice, bob]) {
      const r = await http(
        'POST',
        '/v1/registrations',
        JSON.parse(encodeMessageText('registration.request', h.registrationRequest(Date.now()))),
      );
      expect(r.body.status).toBe('registered');
      h.accept(r.body as never);
    }
  });

  afterAll(async () => {
    for (const p of peers) await p.close();
    const rep = await cloud.center.checkInvariants();
    expect(rep.violations).toEqual([]);
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function peer(id: string) {
    const had = peers.find((p) => p.id === id && p.client?.connected);
    if (had) return had;
    const p = await new MqttPeer(id, { url: cloud.brokerUrl }).connect();
    peers.push(p);
    return p;
  }

  it('pays over MQTT; handset and merchant get the same result; a duplicate gets the first outcome', async () => {
    const hs = await peer('hs-alice');
    const shop = await peer('m-shop');
    expect((await http('POST', '/v1/merchants/m-shop/orders', { orderRef: 'o-1', amount: '1999', currency: 'EUR' })).status).toBe(
      201,
    );
    const auth = alice.authorise({ merchantId: 'm-shop', orderRef: 'o-1', amount: 1999n, currency: 'EUR', nowMs: Date.now() });
    const [r, m] = await Promise.all([hs.pay(auth), shop.waitFor(auth.paymentId)]);
    expect(r).toMatchObject({ status: 'approved', bookedAmount: 1999n, authorisedAmount: 1999n });
    expect(m).toEqual(r);
    const again = await hs.pay(auth);
    expect(again).toEqual(r);
    const order = await http('GET', '/v1/merchants/m-shop/orders/o-1');
    expect(order.body).toMatchObject({ status: 'paid', amount: '1999', payment: { status: 'approved' } });
    const bal = await http('GET', `/v1/accounts/${encodeURIComponent(ledgerIds.merchant('m-shop'))}`);
    expect(bal.body).toMatchObject({ posted: '1999' });
  });

  it('the broker ACL refuses a device publishing under another device id; nothing booked', async () => {
    const evil = await peer('hs-bob');
    await http('POST', '/v1/merchants/m-shop/orders', { orderRef: 'o-acl', amount: '100', currency: 'EUR' });
    const forged = alice.authorise({ merchantId: 'm-shop', orderRef: 'o-acl', amount: 100n, currency: 'EUR', nowMs: Date.now() });
    const before = cloud.ingest!.stats.received;
    void evil.publishRaw(evil.topics.auth('hs-alice'), encodeMessageText('authorisation', forged)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    await evil.close();
    expect(cloud.ingest!.stats.received).toBe(before);
    expect(log.entries.some((e) => e.event === 'broker.publish_refused' && e.fields.clientId === 'hs-bob')).toBe(true);
    expect((await http('GET', `/v1/payments/${forged.paymentId}`)).status).toBe(404);
    // and cannot read someone else's results
    const sneaky = await peer('hs-bob');
    await expect(sneaky.client!.subscribeAsync('handset/v1/+/result', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    expect(log.entries.some((e) => e.event === 'broker.subscribe_refused')).toBe(true);
  });

  it('malformed and oversized MQTT messages are rejected with a typed code and nothing is booked', async () => {
    const hs = await peer('hs-bob');
    const rejected = cloud.ingest!.stats.rejected;
    await hs.publishRaw(hs.topics.auth('hs-bob'), '{"v":1,"type":"authorisation"');
    await hs.publishRaw(hs.topics.auth('hs-bob'), 'x'.repeat(100_000));
    const deadline = Date.now() + 3000;
    while (cloud.ingest!.stats.rejected < rejected + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(cloud.ingest!.stats.rejected).toBe(rejected + 2);
    const codes = log.entries.filter((e) => e.event === 'auth.rejected').map((e) => e.fields.code);
    expect(codes).toContain('MESSAGE_NOT_JSON');
    expect(codes).toContain('MESSAGE_TOO_LARGE');
  });

  it('show-to-pay over MQTT: the merchant charges a pay code once; a reuse is refused', async () => {
    const shop = await peer('m-shop');
    const hs = await peer('hs-alice');
    const code = alice.paycode(Date.now());
    const ch = (ref: string) => ({
      v: 1 as const,
      type: 'merchant.charge' as const,
      paymentId: alice.newPaymentId(Date.now()),
      merchantId: 'm-shop',
      orderRef: ref,
      code,
      amount: 250n,
      currency: 'EUR',
      ts: Date.now(),
    });
    const first = ch('pc-1');
    const [r1, h1] = await Promise.all([shop.charge(first), hs.waitFor(first.paymentId)]);
    expect(r1).toMatchObject({ status: 'approved', flow: 'paycode', deviceId: 'hs-alice' });
    expect(h1).toEqual(r1);
    const r2 = await shop.charge(ch('pc-2'));
    expect(r2).toMatchObject({ status: 'declined', reason: 'paycode_used' });
  });

  it('HTTP: typed errors with status codes; refund and device lock round trip', async () => {
    expect((await http('GET', '/v1/payments/nope')).status).toBe(404);
    expect((await http('POST', '/v1/users', { account: 'x', currency: 'EURO' })).status).toBe(400);
    expect(
      (await http('POST', '/v1/merchants/m-shop/orders', { orderRef: 'o-1', amount: '5', currency: 'EUR' })).body.error?.code,
    ).toBe('IDEMPOTENCY_CONFLICT');
    expect((await http('POST', '/v1/merchants/m-shop/orders', { orderRef: 'o-x', amount: 5, currency: 'EUR' })).status).toBe(400);
    const big = await fetch(`${cloud.httpUrl}/v1/users`, { method: 'POST', body: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
    const list = await http('GET', '/v1/payments?merchantId=m-shop&status=approved');
    const paid = (list.body.payments as Array<{ paymentId: string; amount: string }>).find((p) => p.amount === '1999')!;
    const rf = await http('POST', `/v1/payments/${paid.paymentId}/refunds`, { amount: '999', key: 'k1' });
    expect(rf).toMatchObject({ status: 201, body: { status: 'succeeded', amount: '999' } });
    const over = await http('POST', `/v1/payments/${paid.paymentId}/refunds`, { amount: '1001', key: 'k2' });
    expect(over).toMatchObject({ status: 422, body: { error: { code: 'REFUND_EXCEEDS_CAPTURED' } } });
    const locked = await http('POST', '/v1/devices/hs-bob/lock', { reason: 'pin_lockout' });
    expect(locked.body).toMatchObject({ status: 'locked', lockReason: 'pin_lockout' });
    expect(locked.body).not.toHaveProperty('seedSealed');
    expect((await http('POST', '/v1/devices/hs-bob/unlock')).body).toMatchObject({ status: 'active' });
    expect((await http('GET', '/v1/invariants')).body).toMatchObject({ ok: true });
    void bob;
  });
});
