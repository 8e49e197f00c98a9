/** Row <-> model mapping shared by the SQL ledger stores (same column names in both). */
import type { Account, PendingStatus, Transfer, TransferResultCode } from './types';

export interface AccountRow {
  id: string;
  currency: string;
  code: number | bigint;
  flags: number | bigint;
  debits_pending: bigint | string | number;
  debits_posted: bigint | string | number;
  credits_pending: bigint | string | number;
  credits_posted: bigint | string | number;
  timestamp: bigint | string | number;
}

export interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: bigint | string | number;
  currency: string;
  code: number | bigint;
  flags: number | bigint;
  pending_id: string | null;
  timeout_s: number | bigint;
  user_data: string | null;
  timestamp: bigint | string | number;
  result: string;
  pending_status: string | null;
  body: string;
}

export const accountFlagBits = (a: Account): number =>
  (a.flags.debitsMustNotExceedCredits ? 1 : 0) | (a.flags.creditsMustNotExceedDebits ? 2 : 0);
export const transferFlagBits = (t: Transfer): number =>
  (t.flags.pending ? 1 : 0) | (t.flags.postPending ? 2 : 0) | (t.flags.voidPending ? 4 : 0);

export function accountFromRow(r: AccountRow): Account {
  const flags = Number(r.flags);
  return {
    id: r.id,
    currency: r.currency,
    code: Number(r.code),
    flags: { debitsMustNotExceedCredits: (flags & 1) !== 0, creditsMustNotExceedDebits: (flags & 2) !== 0 },
    debitsPending: BigInt(r.debits_pending),
    debitsPosted: BigInt(r.debits_posted),
    creditsPending: BigInt(r.credits_pending),
    creditsPosted: BigInt(r.credits_posted),
    timestamp: Number(r.timestamp),
  };
}

export function transferFromRow(r: TransferRow): Transfer {
  const flags = Number(r.flags);
  return {
    id: r.id,
    debitAccountId: r.debit_account_id,
    creditAccountId: r.credit_account_id,
    amount: BigInt(r.amount),
    currency: r.currency,
    code: Number(r.code),
    flags: { pending: (flags & 1) !== 0, postPending: (flags & 2) !== 0, voidPending: (flags & 4) !== 0 },
    pendingId: r.pending_id,
    timeoutSeconds: Number(r.timeout_s),
    userData: r.user_data,
    timestamp: Number(r.timestamp),
    result: r.result as TransferResultCode,
    pendingStatus: r.pending_status as PendingStatus | null,
    bodyKey: r.body,
  };
}

/** Deep copy so a failed transaction leaves no trace in caller-visible objects. */
export const cloneAccount = (a: Account): Account => ({ ...a, flags: { ...a.flags } });
