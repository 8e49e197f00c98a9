/**
 * What the cloud remembers besides money: users, merchants, devices (public key,
 * counter, status), fingerprint enrolment records (slot ids and template SHA-256
 * digests only - never a template), pay-code seeds (AES-256-GCM encrypted at rest),
 * orders, payments (the idempotency record of every decided payment id), consumed
 * pay-code steps and refunds.
 *
 * `RegistryStore` has one SQL implementation (`SqlRegistry`) over two drivers (SQLite,
 * PostgreSQL), both run by `describeRegistryContract`.
 */
import type { DeclineReason } from '../../protocol/index';

export type DeviceStatus = 'active' | 'locked' | 'revoked';

export interface UserRecord {
  /** Protocol `account` id; its ledger account is `u-{account}`. */
  account: string;
  name: string;
  currency: string;
  createdAt: number;
}

export interface MerchantRecord {
  merchantId: string;
  name: string;
  currency: string;
  createdAt: number;
}

export interface EnrolmentRecord {
  slot: number;
  templateSha256: string;
}

export interface DeviceRecord {
  deviceId: string;
  account: string;
  /** Ed25519 public key, base64url. */
  publicKey: string;
  /** Highest authorisation counter accepted so far (0 = none). */
  lastCounter: number;
  status: DeviceStatus;
  /** Consecutive security failures (bad signature, stale counter); reset on success. */
  failures: number;
  /** Why it is locked, when it is ('pin_lockout', 'too_many_failures', 'operator'). */
  lockReason: string | null;
  /** 10-digit routing index carried in every pay code. */
  paycodeIndex: string;
  /** AES-256-GCM sealed seed (see SeedVault); never the clear seed. */
  seedSealed: string;
  stepSeconds: number;
  /** requestId of the registration that created it (idempotent replay). */
  registrationId: string;
  registeredAt: number;
  /** Loaded by getDevice(id, lock, true), listDevices and insertDevice; omitted on hot-path reads. */
  enrolments?: EnrolmentRecord[];
}

export type OrderStatus = 'open' | 'paid' | 'cancelled';

export interface OrderRecord {
  merchantId: string;
  orderRef: string;
  amount: bigint;
  currency: string;
  status: OrderStatus;
  /** The payment that claimed the order (at most one). */
  paymentId: string | null;
  /** 'auto': pending + post at once; 'manual': pending until captured or voided. */
  capture: 'auto' | 'manual';
  createdAt: number;
  expiresAt: number;
}

export type PaymentStatus = 'processing' | 'approved' | 'declined';
export type SettlementState = 'pending' | 'captured' | 'voided' | 'expired';

export interface PaymentRecord {
  paymentId: string;
  flow: 'scan' | 'paycode';
  deviceId: string;
  account: string;
  merchantId: string;
  orderRef: string;
  amount: bigint;
  currency: string;
  method: string | null;
  counter: number | null;
  /** SHA-256 of the canonical request: a retry must match it. */
  requestHash: string;
  status: PaymentStatus;
  reason: DeclineReason | null;
  /** Extra words for logs (never secrets), e.g. 'order already paid'. */
  detail: string | null;
  receivedAt: number;
  decidedAt: number | null;
  ledgerTransferId: string | null;
  settlement: SettlementState | null;
  captured: bigint;
  refunded: bigint;
  capture: 'auto' | 'manual';
}

export interface RefundRecord {
  refundId: string;
  paymentId: string;
  key: string;
  amount: bigint;
  status: 'processing' | 'succeeded' | 'failed';
  reason: string | null;
  transferId: string;
  createdAt: number;
}

/** Operations inside one transaction (or, on `RegistryStore.read`, outside any). */
export interface RegistryTx {
  insertUser(u: UserRecord): Promise<boolean>;
  getUser(account: string): Promise<UserRecord | undefined>;
  insertMerchant(m: MerchantRecord): Promise<boolean>;
  getMerchant(merchantId: string): Promise<MerchantRecord | undefined>;
  listMerchants(): Promise<MerchantRecord[]>;

  /** Inserts device + enrolments; false if the device id or pay-code index exists. */
  insertDevice(d: DeviceRecord): Promise<boolean>;
  /** `lock`: hold the row for the rest of the transaction (PostgreSQL FOR UPDATE); `enrolments`: load them too. */
  getDevice(deviceId: string, lock?: boolean, enrolments?: boolean): Promise<DeviceRecord | undefined>;
  getDeviceByPaycodeIndex(index: string): Promise<DeviceRecord | undefined>;
  listDevices(filter?: { account?: string }): Promise<DeviceRecord[]>;
  updateDevice(
    deviceId: string,
    patch: Partial<Pick<DeviceRecord, 'lastCounter' | 'status' | 'failures' | 'lockReason'>>,
  ): Promise<boolean>;

  insertOrder(o: OrderRecord): Promise<boolean>;
  getOrder(merchantId: string, orderRef: string, lock?: boolean): Promise<OrderRecord | undefined>;
  listOrders(merchantId: string, limit?: number): Promise<OrderRecord[]>;
  updateOrder(merchantId: string, orderRef: string, patch: Partial<Pick<OrderRecord, 'status' | 'paymentId'>>): Promise<boolean>;

  insertPayment(p: PaymentRecord): Promise<boolean>;
  getPayment(paymentId: string, lock?: boolean): Promise<PaymentRecord | undefined>;
  listPayments(filter?: {
    merchantId?: string;
    deviceId?: string;
    status?: PaymentStatus;
    limit?: number;
  }): Promise<PaymentRecord[]>;
  updatePayment(
    paymentId: string,
    patch: Partial<
      Pick<
        PaymentRecord,
        'status' | 'reason' | 'detail' | 'decidedAt' | 'ledgerTransferId' | 'settlement' | 'captured' | 'refunded'
      >
    >,
  ): Promise<boolean>;

  /**
   * Many rows in one statement each, in key order (`lock`: all of them held, PostgreSQL
   * FOR UPDATE): what a payment batch's claim and finalise read up front instead of one
   * round trip per payment. Devices come without enrolments.
   */
  getDevices(deviceIds: readonly string[], lock?: boolean): Promise<DeviceRecord[]>;
  getPayments(paymentIds: readonly string[], lock?: boolean): Promise<PaymentRecord[]>;
  getOrders(keys: ReadonlyArray<{ merchantId: string; orderRef: string }>, lock?: boolean): Promise<OrderRecord[]>;

  /** Marks a pay-code time step of a device used; false if it already was (by anyone). */
  consumePaycodeStep(deviceId: string, step: number, paymentId: string, at: number): Promise<boolean>;
  /** Highest consumed pay-code step of a device (-1 = none): steps <= it are used. */
  lastPaycodeStep(deviceId: string): Promise<number>;

  insertRefund(r: RefundRecord): Promise<boolean>;
  getRefund(paymentId: string, key: string, lock?: boolean): Promise<RefundRecord | undefined>;
  listRefunds(paymentId: string): Promise<RefundRecord[]>;
  updateRefund(refundId: string, patch: Partial<Pick<RefundRecord, 'status' | 'reason'>>): Promise<boolean>;
}

export interface RegistryStore {
  readonly kind: string;
  /** Creates tables if missing. */
  init(): Promise<void>;
  /** One durable transaction. */
  tx<T>(fn: (r: RegistryTx) => Promise<T>): Promise<T>;
  /** Reads (and single writes) outside a transaction. */
  readonly read: RegistryTx;
  close(): Promise<void>;
}
