import type { DeviceRecord, OrderRecord, PaymentRecord, RegistryTx } from './types';

export interface PrefetchKeys {
  devices?: readonly string[];
  payments?: readonly string[];
  orders?: ReadonlyArray<{ merchantId: string; orderRef: string }>;
}

const orderKey = (merchantId: string, orderRef: string) => `${merchantId}\u0000${orderRef}`;
const sortedUnique = (xs: readonly string[]) => [...new Set(xs)].sort();

/**
 * A transaction's view that reads a payment batch's devices, payments and orders up front
 * - one statement per table, each locked in key order (devices, then payments, then
 * orders: the same order in every worker) - and then answers `getDevice`, `getPayment`
 * and `getOrder` for those keys from memory. Writes go to the transaction at once and are
 * applied to the held copies too, so a later read in the same batch (a second payment of
 * one device) sees them. A key that was looked up and not found reads as absent, as a
 * locked read of it would have (an insert that races it still fails on its key). Anything
 * else falls through to the transaction.
 */
export async function prefetched(tx: RegistryTx, keys: PrefetchKeys): Promise<RegistryTx> {
  const devices = new Map<string, DeviceRecord>();
  const payments = new Map<string, PaymentRecord | undefined>();
  const orders = new Map<string, OrderRecord | undefined>();
  for (const d of await tx.getDevices(sortedUnique(keys.devices ?? []), true)) devices.set(d.deviceId, d);
  const pids = sortedUnique(keys.payments ?? []);
  for (const id of pids) payments.set(id, undefined);
  for (const p of await tx.getPayments(pids, true)) payments.set(p.paymentId, p);
  const oks = [...new Map((keys.orders ?? []).map((k) => [orderKey(k.merchantId, k.orderRef), k])).entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, k]) => k);
  for (const k of oks) orders.set(orderKey(k.merchantId, k.orderRef), undefined);
  for (const o of await tx.getOrders(oks, true)) orders.set(orderKey(o.merchantId, o.orderRef), o);
  const copy = <T>(x: T | undefined): T | undefined => (x === undefined ? undefined : { ...x });
  return {
    ...tx,
    async getDevice(id, lock, enrolments) {
      const d = devices.get(id);
      return d && !enrolments ? { ...d } : tx.getDevice(id, lock, enrolments);
    },
    async updateDevice(id, patch) {
      const changed = await tx.updateDevice(id, patch);
      const d = devices.get(id);
      if (changed && d) devices.set(id, { ...d, ...withoutUndefined(patch) });
      return changed;
    },
    async getPayment(id, lock) {
      return payments.has(id) ? copy(payments.get(id)) : tx.getPayment(id, lock);
    },
    async insertPayment(p) {
      const inserted = await tx.insertPayment(p);
      if (inserted && payments.has(p.paymentId)) payments.set(p.paymentId, { ...p });
      return inserted;
    },
    async updatePayment(id, patch) {
      const changed = await tx.updatePayment(id, patch);
      const p = payments.get(id);
      if (changed && p) payments.set(id, { ...p, ...withoutUndefined(patch) });
      return changed;
    },
    async getOrder(merchantId, orderRef, lock) {
      const k = orderKey(merchantId, orderRef);
      return orders.has(k) ? copy(orders.get(k)) : tx.getOrder(merchantId, orderRef, lock);
    },
    async insertOrder(o) {
      const inserted = await tx.insertOrder(o);
      const k = orderKey(o.merchantId, o.orderRef);
      if (inserted && orders.has(k)) orders.set(k, { ...o });
      return inserted;
    },
    async updateOrder(merchantId, orderRef, patch) {
      const changed = await tx.updateOrder(merchantId, orderRef, patch);
      const k = orderKey(merchantId, orderRef);
      const o = orders.get(k);
      if (changed && o) orders.set(k, { ...o, ...withoutUndefined(patch) });
      return changed;
    },
  };
}

/** A patch as the SQL update applies it: undefined fields are left alone. */
function withoutUndefined<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
