/**
 * The terminal library against the real cloud (SQLite + embedded aedes + HTTP API):
 * scan-to-pay over MQTT, pay codes over HTTP, refunds, expiry, forged and duplicate
 * results, bad input. Every money movement is checked against the cloud's ledger.
 */
import { HandsetError, ValidationError } from '@handset/device-drivers/core';
import { SimHidDevice } from '@handset/device-drivers/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerIds } from '../../src/cloud/ids';
import {
  attachScanner,
  keyboardReportsFor,
  MerchantTerminal,
  renderReceiptText,
  scanLines,
  TerminalError,
} from '../../src/merchant';
import { HttpCloudClient } from '../../src/merchant/cloud-client';
import { protocolMpmEncoder } from '../../src/merchant/mpm';
import { parseMpm } from '../../src/protocol/emv/mpm';
import { MERCHANT, type MerchantWorld, merchantWorld, waitForOrder } from './world';

const eur = (minor: bigint) => ({ minor, currency: 'EUR' });
let w: MerchantWorld;

async function merchantPosted(): Promise<bigint> {
  const r = await w.http<{ posted: string }>('GET', `/v1/accounts/${encodeURIComponent(ledgerIds.merchant(MERCHANT.id))}`);
  return BigInt(r.body.posted);
}

beforeAll(async () => {
  w = await merchantWorld();
});

afterAll(async () => {
  const rep = await w.cloud.center.checkInvariants();
  await w.close();
  expect(rep.violations).toEqual([]);
});

describe('merchant terminal on the real cloud', () => {
  it('creates an order whose QR is a valid dynamic EMV MPM carrying the amount, merchant and reference', async () => {
    const v = await w.terminal.createOrder({ amount: eur(1234n), reference: 'qr-check' });
    expect(v.order.state).toBe('awaiting_payment');
    const p = parseMpm(v.qrPayload);
    expect(p.ok).toBe(true);
    expect(p.crcValid).toBe(true);
    expect(p.data).toMatchObject({
      initiation: 'dynamic',
      amount: { text: '12.34', minor: 1234n },
      currency: { numeric: '978', alpha: 'EUR' },
      merchantName: 'Corner Cafe',
      merchantCity: 'Berlin',
      countryCode: 'DE',
      handset: { merchantId: MERCHANT.id, orderRef: 'qr-check' },
    });
    expect(p.data.additionalData).toMatchObject({ '05': 'qr-check', '07': 'T1' });
    const cloudOrder = await w.http<{ amount: string; status: string }>('GET', `/v1/merchants/${MERCHANT.id}/orders/qr-check`);
    expect(cloudOrder.body).toMatchObject({ amount: '1234', currency: 'EUR', status: 'open' });
  });

  it('scan to pay: the handset pays the QR over MQTT, the result arrives live, due = authorised = booked -> PAID', async () => {
    const before = await merchantPosted();
    const v = await w.terminal.createOrder({ amount: eur(2599n) });
    const [result, paid] = await Promise.all([
      w.payQr(v.qrPayload),
      waitForOrder(w.terminal, v.order.reference, (x) => x.order.state !== 'awaiting_payment'),
    ]);
    expect(result.status).toBe('approved');
    expect(paid.order.state).toBe('paid');
    expect(paid.comparison).toMatchObject({
      verdict: 'PAID',
      flagged: false,
      due: eur(2599n),
      authorised: eur(2599n),
      booked: eur(2599n),
    });
    expect(await merchantPosted()).toBe(before + 2599n);
    const receipt = w.terminal.receipt(v.order.reference);
    expect(receipt.paid).toBe(true);
    expect(receipt.payment).toMatchObject({ paymentId: result.paymentId, flow: 'scan', deviceId: 'hs-alice' });
    const text = renderReceiptText(receipt);
    expect(text).toContain('*** PAID ***');
    expect(text).toContain('25.99 EUR');
  });

  it('a handset authorising another amount is declined by the cloud: shown DECLINED, never paid; a correct retry pays', async () => {
    const v = await w.terminal.createOrder({ amount: eur(1000n) });
    const declined = await w.payQr(v.qrPayload, { amount: 900n });
    expect(declined).toMatchObject({ status: 'declined', reason: 'amount_mismatch' });
    const d = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.payments.length === 1);
    expect(d.order.state).toBe('awaiting_payment');
    expect(d.comparison?.verdict).toBe('REJECTED');
    expect(d.comparison?.reasons.map((r) => r.code)).toEqual(['DECLINED', 'UNDERPAID', 'MISSING_BOOKED']);
    await w.payQr(v.qrPayload);
    expect((await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid')).comparison?.verdict).toBe('PAID');
  });

  it('a forged booked result with a smaller amount is REJECTED + flagged, the order never shows paid', async () => {
    const v = await w.terminal.createOrder({ amount: eur(5000n) });
    const flags = w.flagged.length;
    await w.forgeResult({
      paymentId: '01900000-0000-7000-8000-00000000f00d',
      flow: 'scan',
      deviceId: 'hs-alice',
      merchantId: MERCHANT.id,
      orderRef: v.order.reference,
      status: 'approved',
      currency: 'EUR',
      authorisedAmount: '5000',
      bookedAmount: '4999',
      ledgerTransferId: 'pc-forged',
      receivedAt: Date.now(),
      decidedAt: Date.now(),
    });
    const r = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state !== 'awaiting_payment');
    expect(r.order.state).toBe('rejected');
    expect(r.comparison).toMatchObject({ verdict: 'REJECTED', flagged: true });
    expect(r.comparison?.reasons.map((x) => [x.code, x.field])).toEqual([['UNDERPAID', 'booked']]);
    expect(w.flagged.length).toBe(flags + 1);
    expect(w.terminal.receipt(v.order.reference).paid).toBe(false);
    expect(renderReceiptText(w.terminal.receipt(v.order.reference))).toContain('*** NOT PAID ***');
  });

  it('a forged result in another currency is REJECTED (WRONG_CURRENCY); a schema-invalid one never reaches the order', async () => {
    const v = await w.terminal.createOrder({ amount: eur(700n) });
    await w.forgeResult({ orderRef: v.order.reference, merchantId: MERCHANT.id, bookedAmount: 700 });
    await w.forgeResult({
      paymentId: '01900000-0000-7000-8000-00000000beef',
      flow: 'scan',
      deviceId: 'hs-alice',
      merchantId: MERCHANT.id,
      orderRef: v.order.reference,
      status: 'approved',
      currency: 'USD',
      authorisedAmount: '700',
      bookedAmount: '700',
      ledgerTransferId: 'pc-forged2',
      receivedAt: Date.now(),
      decidedAt: Date.now(),
    });
    const r = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state !== 'awaiting_payment');
    expect(r.order.payments).toHaveLength(1);
    expect(r.order.state).toBe('rejected');
    expect(r.comparison?.reasons.map((x) => x.code)).toEqual(['WRONG_CURRENCY', 'WRONG_CURRENCY']);
  });

  it('a second payment for a paid order is declined by the cloud: recorded as a decline, not flagged; the order stays paid once', async () => {
    const v = await w.terminal.createOrder({ amount: eur(300n) });
    await w.payQr(v.qrPayload);
    await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid');
    const before = await merchantPosted();
    const flags = w.flagged.length;
    const second = await w.payQr(v.qrPayload);
    expect(second).toMatchObject({ status: 'declined', reason: 'order_closed' });
    const r = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.payments.length === 2);
    expect(r.order.state).toBe('paid');
    expect(r.comparison?.verdict).toBe('PAID');
    expect(r.order.payments[1]?.comparison.reasons.map((x) => x.code)).toContain('DECLINED');
    expect(r.order.payments[1]?.comparison.reasons[0]?.message).toMatch(/order already paid/);
    expect(w.flagged.length).toBe(flags);
    expect(await merchantPosted()).toBe(before);
  });

  it('show to pay: a pay code (typed with spaces) is charged through the cloud and PAID; the same code again is declined', async () => {
    const code = w.alice.paycode(Date.now());
    const v = await w.terminal.createOrder({ amount: eur(450n) });
    const paid = await w.terminal.chargePayCode(v.order.reference, `${code.slice(0, 10)} ${code.slice(10)}`);
    expect(paid.order.state).toBe('paid');
    expect(paid.comparison?.verdict).toBe('PAID');
    expect(paid.order.payments[0]?.result.flow).toBe('paycode');
    const v2 = await w.terminal.createOrder({ amount: eur(450n) });
    const again = await w.terminal.chargePayCode(v2.order.reference, code);
    expect(again.order.state).toBe('awaiting_payment');
    expect(again.order.payments[0]?.result).toMatchObject({ status: 'declined', declineReason: 'paycode_used' });
    await w.terminal.cancel(v2.order.reference);
  });

  it('a pay code from a HID barcode scanner in keyboard mode pays the order', async () => {
    const scanner = new SimHidDevice({ product: 'Sim 2D scanner (keyboard mode)' });
    const v = await w.terminal.createOrder({ amount: eur(199n) });
    const lines = scanLines(scanner);
    const next = lines.next();
    await new Promise((r) => setTimeout(r, 5));
    for (const report of keyboardReportsFor(w.alice.paycode(Date.now(), Math.floor(Date.now() / 15000) + 1)))
      scanner.sendReport(report);
    const line = await next;
    const paid = await w.terminal.chargePayCode(v.order.reference, line.value as string);
    expect(paid.order.state).toBe('paid');
    await scanner.close();
  });

  it('a scanner attached to the terminal charges the open order; scans with no open order or a bad code are reported', async () => {
    const scanner = new SimHidDevice({ product: 'Sim scanner on hidraw' });
    const errors: HandsetError[] = [];
    const charged: string[] = [];
    const attached = attachScanner(w.terminal, scanner, {
      onError: (e) => errors.push(e),
      onCharge: (v) => charged.push(v.order.reference),
    });
    await new Promise((r) => setTimeout(r, 10));
    for (const o of w.terminal.list()) if (o.order.state === 'awaiting_payment') await w.terminal.cancel(o.order.reference);
    const type = async (text: string) => {
      for (const report of keyboardReportsFor(text)) scanner.sendReport(report);
      await new Promise((r) => setTimeout(r, 50));
    };
    await type('91234567890123456789');
    expect(errors.map((e) => e.code)).toEqual(['NO_OPEN_ORDER']);
    const v = await w.terminal.createOrder({ amount: eur(420n) });
    await type('12345');
    expect(errors.map((e) => e.code)).toEqual(['NO_OPEN_ORDER', 'BAD_PAY_CODE']);
    const carol = await w.newHandset('carol');
    for (const report of keyboardReportsFor(carol.paycode(Date.now()))) scanner.sendReport(report);
    const paid = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid');
    expect(paid.comparison?.verdict).toBe('PAID');
    for (let i = 0; i < 100 && charged.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(charged).toEqual([v.order.reference]);
    scanner.unplug();
    expect(await attached.done).toMatchObject({ code: 'DISCONNECTED' });
    await attached.stop();
  });

  it('bad pay codes are typed errors before the cloud sees them', async () => {
    const v = await w.terminal.createOrder({ amount: eur(100n) });
    const code = w.alice.paycode(Date.now());
    const typo = code.slice(0, 5) + ((Number(code[5]) + 1) % 10) + code.slice(6);
    await expect(w.terminal.chargePayCode(v.order.reference, typo)).rejects.toMatchObject({ code: 'PAYCODE_CHECK_DIGIT' });
    await expect(w.terminal.chargePayCode(v.order.reference, '12345')).rejects.toBeInstanceOf(ValidationError);
    await expect(w.terminal.chargePayCode('no-such-order', code)).rejects.toBeInstanceOf(TerminalError);
    expect(w.terminal.get(v.order.reference).order.payments).toHaveLength(0);
    await w.terminal.cancel(v.order.reference);
  });

  it('refunds: partial, then the rest; over-refunding is refused; the ledger moves back exactly', async () => {
    const v = await w.terminal.createOrder({ amount: eur(1500n) });
    await w.payQr(v.qrPayload);
    const paid = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid');
    const pid = paid.order.settledBy!;
    const before = await merchantPosted();
    const part = await w.terminal.refund(v.order.reference, pid, eur(500n));
    expect(part.order.state).toBe('partially_refunded');
    await expect(w.terminal.refund(v.order.reference, pid, eur(1001n))).rejects.toBeInstanceOf(HandsetError);
    const all = await w.terminal.refund(v.order.reference, pid);
    expect(all.order.state).toBe('refunded');
    expect(all.refunds.map((r) => r.amount.minor)).toEqual([500n, 1000n]);
    expect(await merchantPosted()).toBe(before - 1500n);
    await expect(w.terminal.refund(v.order.reference, pid, eur(1n))).rejects.toMatchObject({ code: 'NOTHING_TO_REFUND' });
    expect(renderReceiptText(w.terminal.receipt(v.order.reference))).toContain('REFUND');
  });

  it('void of an auto-captured payment is refused by the cloud with a typed error; nothing changes', async () => {
    const v = await w.terminal.createOrder({ amount: eur(250n) });
    await w.payQr(v.qrPayload);
    const paid = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid');
    await expect(w.terminal.voidPayment(v.order.reference, paid.order.settledBy!)).rejects.toMatchObject({
      code: 'NOT_VOIDABLE',
    });
    expect(w.terminal.get(v.order.reference).order.state).toBe('paid');
  });

  it('manual capture: the payment is a reservation; void releases it, nothing reaches the merchant', async () => {
    const before = await merchantPosted();
    const alice0 = await w.http<{ balance: { available: string } }>('GET', '/v1/users/alice');
    const v = await w.terminal.createOrder({ amount: eur(640n), capture: 'manual' });
    await w.payQr(v.qrPayload);
    const paid = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid');
    expect(paid).toMatchObject({ capture: 'manual', captured: [] });
    const pid = paid.order.settledBy!;
    await expect(w.terminal.refund(v.order.reference, pid)).rejects.toMatchObject({ code: 'NOT_CAPTURED' });
    const held = await w.http<{ balance: { available: string } }>('GET', '/v1/users/alice');
    expect(BigInt(held.body.balance.available)).toBe(BigInt(alice0.body.balance.available) - 640n);
    const voided = await w.terminal.voidPayment(v.order.reference, pid);
    expect(voided.order.state).toBe('voided');
    expect(voided.refunds[0]).toMatchObject({ status: 'voided', amount: eur(640n) });
    const after = await w.http<{ balance: { available: string } }>('GET', '/v1/users/alice');
    expect(after.body.balance.available).toBe(alice0.body.balance.available);
    expect(await merchantPosted()).toBe(before);
  });

  it('manual capture: capture posts the money; then it refunds like any payment and can no longer be voided', async () => {
    const before = await merchantPosted();
    const v = await w.terminal.createOrder({ amount: eur(910n), capture: 'manual' });
    await w.payQr(v.qrPayload);
    const pid = (await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'paid')).order.settledBy!;
    expect(await merchantPosted()).toBe(before);
    const captured = await w.terminal.capture(v.order.reference, pid);
    expect(captured.captured).toEqual([pid]);
    expect(await merchantPosted()).toBe(before + 910n);
    await expect(w.terminal.voidPayment(v.order.reference, pid)).rejects.toMatchObject({ code: 'NOT_VOIDABLE' });
    expect((await w.terminal.refund(v.order.reference, pid, eur(10n))).order.state).toBe('partially_refunded');
    expect(await merchantPosted()).toBe(before + 900n);
  });

  it('an expired order refuses payment: the cloud declines, the terminal shows expired and records the decline', async () => {
    const v = await w.terminal.createOrder({ amount: eur(120n), ttlMs: 1000 });
    await waitForOrder(w.terminal, v.order.reference, (x) => x.order.state === 'expired', 3000);
    const r = await w.payQr(v.qrPayload);
    expect(r).toMatchObject({ status: 'declined', reason: 'expired' });
    const late = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.payments.length === 1);
    expect(late.order.state).toBe('expired');
    expect(late.order.payments[0]?.comparison.reasons[0]).toMatchObject({ code: 'DECLINED', message: /order already expired/ });
  });

  it('a payment after the cashier cancelled is booked by the cloud (no cancel endpoint yet): LATE_RESULT, flagged, refundable', async () => {
    const v = await w.terminal.createOrder({ amount: eur(800n) });
    expect((await w.terminal.cancel(v.order.reference)).order.state).toBe('cancelled');
    const r = await w.payQr(v.qrPayload);
    expect(r.status).toBe('approved');
    const late = await waitForOrder(w.terminal, v.order.reference, (x) => x.order.payments.length === 1);
    expect(late.order.state).toBe('cancelled');
    expect(late.comparison).toMatchObject({ verdict: 'REJECTED', flagged: true });
    expect(late.comparison?.reasons[0]?.code).toBe('LATE_RESULT');
    const refunded = await w.terminal.refund(v.order.reference, r.paymentId);
    expect(refunded.order.payments[0]?.refundedMinor).toBe(800n);
  });

  it('a result for an order this terminal never made is flagged UNKNOWN_ORDER', async () => {
    const unknown = new Promise((resolve) => w.terminal.once('unknown', (c) => resolve(c)));
    await w.http('POST', `/v1/merchants/${MERCHANT.id}/orders`, { orderRef: 'made-elsewhere', amount: '60', currency: 'EUR' });
    await w.handset.pay(
      w.alice.authorise({ merchantId: MERCHANT.id, orderRef: 'made-elsewhere', amount: 60n, currency: 'EUR', nowMs: Date.now() }),
    );
    expect(await unknown).toMatchObject({ verdict: 'REJECTED', reasons: [{ code: 'UNKNOWN_ORDER' }] });
  });

  it('a result naming another merchant is flagged and changes nothing; a redelivered unknown result is kept once', async () => {
    const v = await w.terminal.createOrder({ amount: eur(55n) });
    const flags = w.flagged.length;
    const r = {
      paymentId: '01900000-0000-7000-8000-0000000000d1',
      merchantId: 'm-someone-else',
      orderReference: v.order.reference,
      status: 'booked' as const,
      authorised: eur(55n),
      booked: eur(55n),
      at: Date.now(),
    };
    w.terminal.handleResult(r);
    expect(w.terminal.get(v.order.reference).order).toMatchObject({ state: 'awaiting_payment', payments: [] });
    expect(w.flagged.at(-1)?.comparison.reasons[0]?.code).toBe('WRONG_MERCHANT');
    expect(w.flagged.length).toBe(flags + 1);
    const unknownBefore = w.terminal.unknown().length;
    const stray = {
      ...r,
      merchantId: MERCHANT.id,
      orderReference: 'never-made',
      paymentId: '01900000-0000-7000-8000-0000000000d2',
    };
    w.terminal.handleResult(stray);
    w.terminal.handleResult(stray);
    expect(w.terminal.unknown().length).toBe(unknownBefore + 1);
    await w.terminal.cancel(v.order.reference);
  });

  it('reconcile picks up a result missed while the terminal was not subscribed', async () => {
    const v = await w.terminal.createOrder({ amount: eur(333n) });
    await w.terminal.stop();
    try {
      await w.payQr(v.qrPayload);
      expect(w.terminal.get(v.order.reference).order.state).toBe('awaiting_payment');
      expect((await w.terminal.reconcile(v.order.reference)).order.state).toBe('paid');
    } finally {
      await w.terminal.start();
    }
  });

  it('bad order input is a typed error; a cloud that cannot be reached leaves no order behind', async () => {
    await expect(w.terminal.createOrder({ amount: eur(0n) })).rejects.toBeInstanceOf(ValidationError);
    await expect(w.terminal.createOrder({ amount: eur(1n), reference: 'bad ref!' })).rejects.toMatchObject({
      code: 'BAD_REFERENCE',
    });
    await expect(w.terminal.createOrder({ amount: eur(1n), reference: 'qr-check' })).rejects.toMatchObject({
      code: 'DUPLICATE_REFERENCE',
    });
    await expect(w.terminal.createOrder({ amount: { minor: 100n, currency: 'USD' } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      status: 400,
    });
    const offline = new MerchantTerminal({
      merchant: MERCHANT,
      cloud: new HttpCloudClient({ httpUrl: 'http://127.0.0.1:9', timeoutMs: 2000 }),
      mpm: protocolMpmEncoder,
    });
    await expect(offline.createOrder({ amount: eur(100n), reference: 'offline-1' })).rejects.toMatchObject({
      code: 'CLOUD_UNREACHABLE',
    });
    expect(offline.list()).toHaveLength(0);
    await expect(offline.start()).rejects.toMatchObject({ code: 'NO_BROKER' });
  });
});
