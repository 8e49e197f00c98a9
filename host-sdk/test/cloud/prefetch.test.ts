/**
 * The prefetching view of a registry transaction (what a payment batch's claim reads
 * through): rows read up front answer later reads, writes reach the store and the held
 * copies alike, keys found absent stay absent, anything else falls through. On SQLite
 * and on the real PostgreSQL.
 */
import { systemClock } from '@handset/device-drivers/core';
import { afterAll, describe, expect, it } from 'vitest';
import { prefetched } from '../../src/cloud/registry/prefetch';
import type { DeviceRecord, OrderRecord, PaymentRecord } from '../../src/cloud/registry/types';
import { freshStores } from './fixtures';

const device = (id: string): DeviceRecord => ({
  deviceId: id,
  account: 'alice',
  publicKey: 'pk',
  lastCounter: 0,
  status: 'active',
  failures: 0,
  lockReason: null,
  paycodeIndex: `idx-${id}`,
  seedSealed: 'v1.a.b.c',
  stepSeconds: 30,
  registrationId: `reg-${id}`,
  registeredAt: 1,
  enrolments: [{ slot: 1, templateSha256: 'a'.repeat(64) }],
});
const order = (ref: string): OrderRecord => ({
  merchantId: 'm-shop',
  orderRef: ref,
  amount: 100n,
  currency: 'EUR',
  status: 'open',
  paymentId: null,
  capture: 'auto',
  createdAt: 1,
  expiresAt: 10_000_000_000_000,
});
const payment = (id: string, orderRef: string): PaymentRecord => ({
  paymentId: id,
  flow: 'scan',
  deviceId: 'hs-1',
  account: 'alice',
  merchantId: 'm-shop',
  orderRef,
  amount: 100n,
  currency: 'EUR',
  method: 'fingerprint',
  counter: 1,
  requestHash: 'h',
  status: 'processing',
  reason: null,
  detail: null,
  receivedAt: 1,
  decidedAt: null,
  ledgerTransferId: null,
  settlement: null,
  captured: 0n,
  refunded: 0n,
  capture: 'auto',
});

describe.each(['sqlite', 'postgres'] as const)('prefetched registry view (%s)', (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('serves held rows, keeps them in step with writes, and reads found-absent keys as absent', async () => {
    const { stores, cleanup } = await freshStores(kind, systemClock);
    cleanups.push(cleanup);
    await stores.registry.tx(async (r) => {
      await r.insertDevice(device('hs-1'));
      await r.insertDevice(device('hs-2'));
      await r.insertOrder(order('o-1'));
      await r.insertOrder(order('o-2'));
      await r.insertPayment(payment('p-old', 'o-2'));
    });
    await stores.registry.tx(async (tx) => {
      const r = await prefetched(tx, {
        devices: ['hs-2', 'hs-1', 'hs-1', 'hs-nope'],
        payments: ['p-new', 'p-old'],
        orders: [
          { merchantId: 'm-shop', orderRef: 'o-1' },
          { merchantId: 'm-shop', orderRef: 'o-2' },
          { merchantId: 'm-shop', orderRef: 'o-gone' },
        ],
      });
      expect((await r.getDevice('hs-1', true))?.lastCounter).toBe(0);
      await r.updateDevice('hs-1', { lastCounter: 7, failures: undefined });
      expect(await r.getDevice('hs-1', true)).toMatchObject({ lastCounter: 7, failures: 0 });
      // asked with enrolments: the held copy has none, so it falls through
      expect((await r.getDevice('hs-1', true, true))?.enrolments).toHaveLength(1);
      expect(await r.getDevice('hs-nope', true)).toBeUndefined();
      expect(await r.getPayment('p-new', true)).toBeUndefined();
      expect(await r.getPayment('p-old', true)).toMatchObject({ status: 'processing' });
      expect(await r.insertPayment(payment('p-new', 'o-1'))).toBe(true);
      expect(await r.getPayment('p-new', true)).toMatchObject({ orderRef: 'o-1' });
      await r.updatePayment('p-new', { status: 'approved', decidedAt: 5 });
      expect(await r.getPayment('p-new', true)).toMatchObject({ status: 'approved', decidedAt: 5 });
      await r.updateOrder('m-shop', 'o-1', { paymentId: 'p-new' });
      expect((await r.getOrder('m-shop', 'o-1', true))?.paymentId).toBe('p-new');
      expect(await r.getOrder('m-shop', 'o-gone', true)).toBeUndefined();
      // a held copy handed out is a copy: changing it changes nothing
      const held = (await r.getOrder('m-shop', 'o-2', true))!;
      held.status = 'paid';
      expect((await r.getOrder('m-shop', 'o-2', true))?.status).toBe('open');
    });
    // and everything written went to the store
    expect((await stores.registry.read.getDevice('hs-1'))?.lastCounter).toBe(7);
    expect((await stores.registry.read.getPayment('p-new'))?.status).toBe('approved');
    expect((await stores.registry.read.getOrder('m-shop', 'o-1'))?.paymentId).toBe('p-new');
    expect(await stores.registry.read.getDevices(['hs-2', 'hs-1'])).toMatchObject([{ deviceId: 'hs-1' }, { deviceId: 'hs-2' }]);
  });
});
