import type { DeclineReason } from '../../protocol/index';
import { PgClient, type Row, type SqlClient, type SqlQuery, type SqlValue } from '../sql/client';
import type {
  DeviceRecord,
  DeviceStatus,
  EnrolmentRecord,
  MerchantRecord,
  OrderRecord,
  OrderStatus,
  PaymentRecord,
  PaymentStatus,
  RefundRecord,
  RegistryStore,
  RegistryTx,
  SettlementState,
  UserRecord,
} from './types';

const TABLES = ['users', 'merchants', 'devices', 'enrolments', 'orders', 'payments', 'paycode_steps', 'refunds'] as const;
type Table = (typeof TABLES)[number];

function ddl(t: (n: Table) => string, big: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${t('users')} (account TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL, created_at ${big} NOT NULL);
CREATE TABLE IF NOT EXISTS ${t('merchants')} (merchant_id TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL, created_at ${big} NOT NULL);
CREATE TABLE IF NOT EXISTS ${t('devices')} (
  device_id TEXT PRIMARY KEY, account TEXT NOT NULL, public_key TEXT NOT NULL, last_counter ${big} NOT NULL,
  status TEXT NOT NULL, failures INTEGER NOT NULL, lock_reason TEXT, paycode_index TEXT NOT NULL UNIQUE,
  seed_sealed TEXT NOT NULL, step_seconds INTEGER NOT NULL, registration_id TEXT NOT NULL, registered_at ${big} NOT NULL);
CREATE TABLE IF NOT EXISTS ${t('enrolments')} (device_id TEXT NOT NULL, slot INTEGER NOT NULL, template_sha256 TEXT NOT NULL, PRIMARY KEY (device_id, slot));
CREATE TABLE IF NOT EXISTS ${t('orders')} (
  merchant_id TEXT NOT NULL, order_ref TEXT NOT NULL, amount ${big} NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,
  payment_id TEXT, capture TEXT NOT NULL, created_at ${big} NOT NULL, expires_at ${big} NOT NULL, PRIMARY KEY (merchant_id, order_ref));
CREATE TABLE IF NOT EXISTS ${t('payments')} (
  payment_id TEXT PRIMARY KEY, flow TEXT NOT NULL, device_id TEXT NOT NULL, account TEXT NOT NULL, merchant_id TEXT NOT NULL,
  order_ref TEXT NOT NULL, amount ${big} NOT NULL, currency TEXT NOT NULL, method TEXT, counter ${big}, request_hash TEXT NOT NULL,
  status TEXT NOT NULL, reason TEXT, detail TEXT, received_at ${big} NOT NULL, decided_at ${big}, ledger_transfer_id TEXT,
  settlement TEXT, captured ${big} NOT NULL, refunded ${big} NOT NULL, capture TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS payments_merchant ON ${t('payments')} (merchant_id, received_at);
CREATE INDEX IF NOT EXISTS payments_device ON ${t('payments')} (device_id, received_at);
CREATE TABLE IF NOT EXISTS ${t('paycode_steps')} (device_id TEXT NOT NULL, step ${big} NOT NULL, payment_id TEXT NOT NULL, used_at ${big} NOT NULL, PRIMARY KEY (device_id, step));
CREATE TABLE IF NOT EXISTS ${t('refunds')} (
  refund_id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, idem_key TEXT NOT NULL, amount ${big} NOT NULL, status TEXT NOT NULL,
  reason TEXT, transfer_id TEXT NOT NULL, created_at ${big} NOT NULL, UNIQUE (payment_id, idem_key));
`;
}

const n = (v: unknown): number => Number(v);
const b = (v: unknown): bigint => BigInt(v as string | number | bigint);
const s = (v: unknown): string => String(v);
const sn = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

const userRow = (r: Row): UserRecord => ({
  account: s(r.account),
  name: s(r.name),
  currency: s(r.currency),
  createdAt: n(r.created_at),
});
const merchantRow = (r: Row): MerchantRecord => ({
  merchantId: s(r.merchant_id),
  name: s(r.name),
  currency: s(r.currency),
  createdAt: n(r.created_at),
});
const orderRow = (r: Row): OrderRecord => ({
  merchantId: s(r.merchant_id),
  orderRef: s(r.order_ref),
  amount: b(r.amount),
  currency: s(r.currency),
  status: s(r.status) as OrderStatus,
  paymentId: sn(r.payment_id),
  capture: s(r.capture) as 'auto' | 'manual',
  createdAt: n(r.created_at),
  expiresAt: n(r.expires_at),
});
const paymentRow = (r: Row): PaymentRecord => ({
  paymentId: s(r.payment_id),
  flow: s(r.flow) as 'scan' | 'paycode',
  deviceId: s(r.device_id),
  account: s(r.account),
  merchantId: s(r.merchant_id),
  orderRef: s(r.order_ref),
  amount: b(r.amount),
  currency: s(r.currency),
  method: sn(r.method),
  counter: r.counter === null || r.counter === undefined ? null : n(r.counter),
  requestHash: s(r.request_hash),
  status: s(r.status) as PaymentStatus,
  reason: sn(r.reason) as DeclineReason | null,
  detail: sn(r.detail),
  receivedAt: n(r.received_at),
  decidedAt: r.decided_at === null || r.decided_at === undefined ? null : n(r.decided_at),
  ledgerTransferId: sn(r.ledger_transfer_id),
  settlement: sn(r.settlement) as SettlementState | null,
  captured: b(r.captured),
  refunded: b(r.refunded),
  capture: s(r.capture) as 'auto' | 'manual',
});
const refundRow = (r: Row): RefundRecord => ({
  refundId: s(r.refund_id),
  paymentId: s(r.payment_id),
  key: s(r.idem_key),
  amount: b(r.amount),
  status: s(r.status) as RefundRecord['status'],
  reason: sn(r.reason),
  transferId: s(r.transfer_id),
  createdAt: n(r.created_at),
});

const COLUMNS: Record<string, string> = {
  lastCounter: 'last_counter',
  status: 'status',
  failures: 'failures',
  lockReason: 'lock_reason',
  paymentId: 'payment_id',
  reason: 'reason',
  detail: 'detail',
  decidedAt: 'decided_at',
  ledgerTransferId: 'ledger_transfer_id',
  settlement: 'settlement',
  captured: 'captured',
  refunded: 'refunded',
};

function setClause(patch: Record<string, unknown>): { sql: string; params: SqlValue[] } {
  const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
  return {
    sql: keys.map((k) => `${COLUMNS[k] ?? k} = ?`).join(', '),
    params: keys.map((k) => patch[k] as SqlValue),
  };
}

function repo(q: SqlQuery, t: (n: Table) => string): RegistryTx {
  const lock = (l?: boolean) => (l ? q.forUpdate : '');
  const patchRow = async (table: Table, where: string, whereParams: SqlValue[], patch: Record<string, unknown>) => {
    const c = setClause(patch);
    if (!c.params.length) return false;
    return (await q.run(`UPDATE ${t(table)} SET ${c.sql} WHERE ${where}`, [...c.params, ...whereParams])) > 0;
  };
  const enrolmentsOf = async (deviceId: string): Promise<EnrolmentRecord[]> =>
    (await q.all(`SELECT slot, template_sha256 FROM ${t('enrolments')} WHERE device_id = ? ORDER BY slot`, [deviceId])).map(
      (r) => ({
        slot: n(r.slot),
        templateSha256: s(r.template_sha256),
      }),
    );
  const deviceRow = async (r: Row | undefined, withEnrolments = true): Promise<DeviceRecord | undefined> =>
    r && {
      deviceId: s(r.device_id),
      account: s(r.account),
      publicKey: s(r.public_key),
      lastCounter: n(r.last_counter),
      status: s(r.status) as DeviceStatus,
      failures: n(r.failures),
      lockReason: sn(r.lock_reason),
      paycodeIndex: s(r.paycode_index),
      seedSealed: s(r.seed_sealed),
      stepSeconds: n(r.step_seconds),
      registrationId: s(r.registration_id),
      registeredAt: n(r.registered_at),
      ...(withEnrolments ? { enrolments: await enrolmentsOf(s(r.device_id)) } : {}),
    };
  return {
    async insertUser(u) {
      return (
        (await q.run(`INSERT INTO ${t('users')} VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
          u.account,
          u.name,
          u.currency,
          u.createdAt,
        ])) > 0
      );
    },
    async getUser(account) {
      const r = await q.one(`SELECT * FROM ${t('users')} WHERE account = ?`, [account]);
      return r && userRow(r);
    },
    async insertMerchant(m) {
      return (
        (await q.run(`INSERT INTO ${t('merchants')} VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
          m.merchantId,
          m.name,
          m.currency,
          m.createdAt,
        ])) > 0
      );
    },
    async getMerchant(id) {
      const r = await q.one(`SELECT * FROM ${t('merchants')} WHERE merchant_id = ?`, [id]);
      return r && merchantRow(r);
    },
    async listMerchants() {
      return (await q.all(`SELECT * FROM ${t('merchants')} ORDER BY merchant_id`)).map(merchantRow);
    },
    async insertDevice(d) {
      const ok =
        (await q.run(`INSERT INTO ${t('devices')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
          d.deviceId,
          d.account,
          d.publicKey,
          d.lastCounter,
          d.status,
          d.failures,
          d.lockReason,
          d.paycodeIndex,
          d.seedSealed,
          d.stepSeconds,
          d.registrationId,
          d.registeredAt,
        ])) > 0;
      if (!ok) return false;
      for (const e of d.enrolments ?? []) {
        await q.run(`INSERT INTO ${t('enrolments')} VALUES (?, ?, ?)`, [d.deviceId, e.slot, e.templateSha256]);
      }
      return true;
    },
    async getDevice(id, l, withEnrolments) {
      return deviceRow(await q.one(`SELECT * FROM ${t('devices')} WHERE device_id = ?${lock(l)}`, [id]), Boolean(withEnrolments));
    },
    async getDeviceByPaycodeIndex(index) {
      return deviceRow(await q.one(`SELECT * FROM ${t('devices')} WHERE paycode_index = ?`, [index]), false);
    },
    async listDevices(filter = {}) {
      const rows = filter.account
        ? await q.all(`SELECT * FROM ${t('devices')} WHERE account = ? ORDER BY device_id`, [filter.account])
        : await q.all(`SELECT * FROM ${t('devices')} ORDER BY device_id`);
      const out: DeviceRecord[] = [];
      for (const r of rows) out.push((await deviceRow(r))!);
      return out;
    },
    updateDevice(id, patch) {
      return patchRow('devices', 'device_id = ?', [id], patch);
    },
    async insertOrder(o) {
      return (
        (await q.run(`INSERT INTO ${t('orders')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
          o.merchantId,
          o.orderRef,
          o.amount,
          o.currency,
          o.status,
          o.paymentId,
          o.capture,
          o.createdAt,
          o.expiresAt,
        ])) > 0
      );
    },
    async getOrder(m, ref, l) {
      const r = await q.one(`SELECT * FROM ${t('orders')} WHERE merchant_id = ? AND order_ref = ?${lock(l)}`, [m, ref]);
      return r && orderRow(r);
    },
    async listOrders(m, limit = 100) {
      return (
        await q.all(`SELECT * FROM ${t('orders')} WHERE merchant_id = ? ORDER BY created_at DESC, order_ref LIMIT ?`, [m, limit])
      ).map(orderRow);
    },
    updateOrder(m, ref, patch) {
      return patchRow('orders', 'merchant_id = ? AND order_ref = ?', [m, ref], patch);
    },
    async insertPayment(p) {
      return (
        (await q.run(
          `INSERT INTO ${t('payments')} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          [
            p.paymentId,
            p.flow,
            p.deviceId,
            p.account,
            p.merchantId,
            p.orderRef,
            p.amount,
            p.currency,
            p.method,
            p.counter,
            p.requestHash,
            p.status,
            p.reason,
            p.detail,
            p.receivedAt,
            p.decidedAt,
            p.ledgerTransferId,
            p.settlement,
            p.captured,
            p.refunded,
            p.capture,
          ],
        )) > 0
      );
    },
    async getDevices(ids, l) {
      if (!ids.length) return [];
      const rows = await q.all(
        `SELECT * FROM ${t('devices')} WHERE device_id IN (${ids.map(() => '?').join(',')}) ORDER BY device_id${lock(l)}`,
        [...ids],
      );
      return Promise.all(rows.map(async (r) => (await deviceRow(r, false))!));
    },
    async getPayments(ids, l) {
      if (!ids.length) return [];
      return (
        await q.all(
          `SELECT * FROM ${t('payments')} WHERE payment_id IN (${ids.map(() => '?').join(',')}) ORDER BY payment_id${lock(l)}`,
          [...ids],
        )
      ).map(paymentRow);
    },
    async getOrders(keys, l) {
      if (!keys.length) return [];
      return (
        await q.all(
          `SELECT * FROM ${t('orders')} WHERE (merchant_id, order_ref) IN (VALUES ${keys.map(() => '(?, ?)').join(',')}) ORDER BY merchant_id, order_ref${lock(l)}`,
          keys.flatMap((k) => [k.merchantId, k.orderRef]),
        )
      ).map(orderRow);
    },
    async getPayment(id, l) {
      const r = await q.one(`SELECT * FROM ${t('payments')} WHERE payment_id = ?${lock(l)}`, [id]);
      return r && paymentRow(r);
    },
    async listPayments(f = {}) {
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (f.merchantId) where.push('merchant_id = ?') && params.push(f.merchantId);
      if (f.deviceId) where.push('device_id = ?') && params.push(f.deviceId);
      if (f.status) where.push('status = ?') && params.push(f.status);
      params.push(f.limit ?? 100);
      return (
        await q.all(
          `SELECT * FROM ${t('payments')}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, payment_id LIMIT ?`,
          params,
        )
      ).map(paymentRow);
    },
    updatePayment(id, patch) {
      return patchRow('payments', 'payment_id = ?', [id], patch);
    },
    async consumePaycodeStep(deviceId, step, paymentId, at) {
      return (
        (await q.run(`INSERT INTO ${t('paycode_steps')} VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
          deviceId,
          step,
          paymentId,
          at,
        ])) > 0
      );
    },
    async lastPaycodeStep(deviceId) {
      const r = await q.one(`SELECT MAX(step) AS m FROM ${t('paycode_steps')} WHERE device_id = ?`, [deviceId]);
      return r?.m === null || r?.m === undefined ? -1 : n(r.m);
    },
    async insertRefund(r) {
      return (
        (await q.run(`INSERT INTO ${t('refunds')} VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
          r.refundId,
          r.paymentId,
          r.key,
          r.amount,
          r.status,
          r.reason,
          r.transferId,
          r.createdAt,
        ])) > 0
      );
    },
    async getRefund(paymentId, key, l) {
      const r = await q.one(`SELECT * FROM ${t('refunds')} WHERE payment_id = ? AND idem_key = ?${lock(l)}`, [paymentId, key]);
      return r && refundRow(r);
    },
    async listRefunds(paymentId) {
      return (await q.all(`SELECT * FROM ${t('refunds')} WHERE payment_id = ? ORDER BY created_at, refund_id`, [paymentId])).map(
        refundRow,
      );
    },
    updateRefund(id, patch) {
      return patchRow('refunds', 'refund_id = ?', [id], patch);
    },
  };
}

/** The registry over an `SqlClient` (SQLite or PostgreSQL; see sql/client.ts). */
export class SqlRegistry implements RegistryStore {
  readonly kind: string;
  readonly read: RegistryTx;
  private readonly t: (n: Table) => string;

  constructor(readonly client: SqlClient) {
    this.kind = client.dialect;
    this.t = client instanceof PgClient ? (name) => `"${client.schema}".${name}` : (name) => name;
    this.read = repo(client, this.t);
  }

  async init(): Promise<void> {
    if (this.client instanceof PgClient) {
      await this.client.exec(`CREATE SCHEMA IF NOT EXISTS "${this.client.schema}"`).catch(() => undefined);
    }
    await this.client.exec(ddl(this.t, this.client.dialect === 'postgres' ? 'BIGINT' : 'INTEGER'));
  }

  tx<T>(fn: (r: RegistryTx) => Promise<T>): Promise<T> {
    return this.client.tx((q) => fn(repo(q, this.t)));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
