/**
 * The terminal with the cloud on the machine's Mosquitto (MQTT 5, the cloud worker on a
 * `$share/cloud/...` shared subscription, a random topic root and merchant id so runs do
 * not meet): live results reach the comparison the same way as on the embedded broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MerchantWorld, merchantWorld, waitForOrder } from './world';

const eur = (minor: bigint) => ({ minor, currency: 'EUR' });
let w: MerchantWorld;

beforeAll(async () => {
  w = await merchantWorld({ mosquitto: true });
});

afterAll(async () => {
  const rep = await w?.cloud.center.checkInvariants();
  await w?.close();
  expect(rep?.violations).toEqual([]);
});

describe('merchant terminal with the cloud on Mosquitto (MQTT 5)', () => {
  it('scan to pay -> PAID; a forged result in another currency on the same topic -> REJECTED', async () => {
    const v = await w.terminal.createOrder({ amount: eur(1250n) });
    const r = await w.payQr(v.qrPayload);
    expect(r.status).toBe('approved');
    const paid = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state !== 'awaiting_payment');
    expect(paid.order.state).toBe('paid');
    expect(paid.comparison).toMatchObject({ verdict: 'PAID', booked: eur(1250n) });

    const v2 = await w.terminal.createOrder({ amount: eur(1250n) });
    await w.forgeResult({
      paymentId: '01900000-0000-7000-8000-0000000000c1',
      flow: 'scan',
      deviceId: w.alice.deviceId,
      merchantId: w.merchant.id,
      orderRef: v2.order.reference,
      status: 'approved',
      currency: 'GBP',
      authorisedAmount: '1250',
      bookedAmount: '1250',
      ledgerTransferId: 'pc-forged',
      receivedAt: Date.now(),
      decidedAt: Date.now(),
    });
    const rejected = await waitForOrder(w.terminal, v2.order.reference, (x) => x.order.state !== 'awaiting_payment');
    expect(rejected.order.state).toBe('rejected');
    expect(rejected.comparison?.reasons.map((x) => x.code)).toEqual(['WRONG_CURRENCY', 'WRONG_CURRENCY']);
  });

  it('a pay code charged over HTTP settles the order while the results stream runs on Mosquitto', async () => {
    const v = await w.terminal.createOrder({ amount: eur(75n) });
    const paid = await w.terminal.chargePayCode(v.order.reference, w.alice.paycode(Date.now()));
    expect(paid.order.state).toBe('paid');
  });
});
