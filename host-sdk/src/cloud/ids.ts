import { createHash } from 'node:crypto';

/**
 * Ledger ids, all DERIVED from business keys so that any retry, redelivery or restart
 * computes the same ids and the ledger's idempotency does the rest:
 *
 * | what                        | id                                   |
 * | --------------------------- | ------------------------------------ |
 * | consumer account            | `u:{account}`                        |
 * | merchant account            | `m:{merchantId}`                     |
 * | issuer (money source) / cur | `issuer:{currency}`                  |
 * | payment reservation         | `pa-{paymentId}` (pending)           |
 * | payment capture             | `pc-{paymentId}` (posts `pa-`)       |
 * | payment void                | `pv-{paymentId}` (voids `pa-`)       |
 * | refund                      | `rf-{sha256(paymentId, key)[0..40]}` |
 * | deposit (top-up)            | `dp-{sha256(account, key)[0..40]}`   |
 */
export const ledgerIds = {
  user: (account: string) => `u:${account}`,
  merchant: (merchantId: string) => `m:${merchantId}`,
  issuer: (currency: string) => `issuer:${currency}`,
  pending: (paymentId: string) => `pa-${paymentId}`,
  capture: (paymentId: string) => `pc-${paymentId}`,
  void: (paymentId: string) => `pv-${paymentId}`,
  refund: (paymentId: string, key: string) => `rf-${digest(paymentId, key)}`,
  deposit: (account: string, key: string) => `dp-${digest(account, key)}`,
};

/** Transfer codes (TigerBeetle `code`). */
export const TRANSFER_CODE = { payment: 1, refund: 2, deposit: 3 } as const;
/** Account codes. */
export const ACCOUNT_CODE = { consumer: 1, merchant: 2, issuer: 9 } as const;

function digest(a: string, b: string): string {
  return createHash('sha256').update(a).update('\n').update(b).digest('hex').slice(0, 40);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
