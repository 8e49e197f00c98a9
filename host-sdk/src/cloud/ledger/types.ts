/**
 * Double-entry ledger model (after TigerBeetle's accounts and transfers).
 *
 * - Every transfer debits one account and credits another of the same currency, so the
 *   sum over all accounts of (credits - debits) is always zero: money is moved, never
 *   made or lost.
 * - Ids are chosen by the caller and are the idempotency key. Payment transfers derive
 *   theirs from the handset's payment id (see `transferIds`), so a redelivered or retried
 *   authorisation can never book twice.
 * - A retry with the same id and the same body returns the FIRST outcome (success or
 *   failure, `replayed: true`); the same id with a different body returns
 *   `exists_with_different_fields` and changes nothing. A failure is sticky: a retry can
 *   never turn a decline into a success (TigerBeetle `id_already_failed`).
 * - Two-phase transfers: a `pending` transfer reserves the amount in the `*Pending`
 *   balances; a later `postPending` (full or partial, remainder released) or
 *   `voidPending` resolves it exactly once. A pending transfer with a timeout expires
 *   (is released) at its deadline on the store's clock.
 * - Batches never throw for a per-transfer problem: each input gets `{index, result}`.
 *
 * Money is bigint minor units, stored as signed 64-bit integers (amounts must be
 * < 2^63).
 */

/** Account flags (balance limits are enforced inside the store's transaction). */
export interface AccountFlags {
  /** debitsPosted + debitsPending may never exceed creditsPosted (a consumer's funds). */
  debitsMustNotExceedCredits?: boolean;
  /** creditsPosted + creditsPending may never exceed debitsPosted. */
  creditsMustNotExceedDebits?: boolean;
}

export interface AccountInput {
  /** Caller-chosen id, e.g. `user:alice`, `merchant:m1`, `issuer:EUR`. */
  id: string;
  /** ISO 4217 alphabetic code; plays the role of TigerBeetle's `ledger`. */
  currency: string;
  /** Chart-of-accounts code (free for the application: 1 = consumer, 2 = merchant, ...). */
  code: number;
  flags?: AccountFlags;
}

export interface Account extends Required<AccountInput> {
  flags: Required<AccountFlags>;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  /** Store clock, ms since epoch. */
  timestamp: number;
}

export interface TransferFlags {
  /** Reserve only (two-phase). Resolved by a later postPending / voidPending transfer. */
  pending?: boolean;
  /** Post the pending transfer `pendingId` (amount omitted = the full pending amount). */
  postPending?: boolean;
  /** Void the pending transfer `pendingId`, releasing the reservation. */
  voidPending?: boolean;
}

export interface TransferInput {
  /** Caller-chosen id: the idempotency key. */
  id: string;
  /** Required except for post/void, where they default to the pending transfer's. */
  debitAccountId?: string;
  creditAccountId?: string;
  /** Minor units, > 0. For postPending: omitted = full pending amount. Ignored for void. */
  amount?: bigint;
  currency: string;
  /** Application code (1 = payment, 2 = refund, ...). */
  code: number;
  flags?: TransferFlags;
  /** For postPending / voidPending: the id of the pending transfer. */
  pendingId?: string;
  /** For pending: seconds until it expires (0/omitted = never). */
  timeoutSeconds?: number;
  /** Free reference, e.g. the payment id (indexed for lookups). */
  userData?: string;
}

/** Why a transfer was refused (or `ok`). Stable strings: programs switch on them. */
export type TransferResultCode =
  | 'ok'
  | 'exists_with_different_fields'
  | 'id_must_not_be_empty'
  | 'flags_are_mutually_exclusive'
  | 'amount_must_not_be_zero'
  | 'amount_must_not_be_negative'
  | 'accounts_must_be_different'
  | 'debit_account_not_found'
  | 'credit_account_not_found'
  | 'accounts_must_have_the_same_currency'
  | 'transfer_must_have_the_same_currency_as_accounts'
  | 'pending_id_required'
  | 'pending_id_must_be_different'
  | 'pending_transfer_not_found'
  | 'pending_transfer_not_pending'
  | 'pending_transfer_has_different_accounts'
  | 'pending_transfer_has_different_currency'
  | 'pending_transfer_already_posted'
  | 'pending_transfer_already_voided'
  | 'pending_transfer_expired'
  | 'exceeds_pending_transfer_amount'
  | 'exceeds_credits'
  | 'exceeds_debits';

export interface TransferResult {
  index: number;
  result: TransferResultCode;
  /** True when this id was already decided earlier: `result` is that first outcome. */
  replayed: boolean;
}

export type AccountResultCode = 'ok' | 'exists_with_different_fields' | 'id_must_not_be_empty' | 'currency_must_not_be_empty';

export interface AccountResult {
  index: number;
  result: AccountResultCode;
  replayed: boolean;
}

export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

/** A decided transfer as stored (booked ones have `result === 'ok'`). */
export interface Transfer {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  currency: string;
  code: number;
  flags: Required<TransferFlags>;
  pendingId: string | null;
  timeoutSeconds: number;
  userData: string | null;
  /** Store clock, ms since epoch. */
  timestamp: number;
  /** First outcome; failed ids are kept so a retry returns the same failure. */
  result: TransferResultCode;
  /** For booked pending transfers: what became of them. */
  pendingStatus: PendingStatus | null;
  /** Canonical body, compared on retries. */
  bodyKey: string;
}

/**
 * The one ledger store interface. Implementations: SQLite (`SqliteLedgerStore`, the
 * embedded default) and PostgreSQL (`PgLedgerStore`); both pass
 * `describeLedgerStoreContract`. Each call is one durable transaction: when it
 * resolves, its effects survive a crash (SQLite WAL + synchronous FULL; PostgreSQL
 * synchronous_commit on). Wrap a store in `GroupCommitLedger` to share one
 * transaction/fsync between many concurrent callers.
 */
export interface LedgerStore {
  readonly kind: string;
  /** Creates accounts; an existing id with the same fields is `ok` + `replayed`. */
  createAccounts(accounts: readonly AccountInput[]): Promise<AccountResult[]>;
  /**
   * Decides and books transfers in order, in ONE transaction. Later transfers see the
   * effects of earlier ones in the same batch. Never throws for a per-transfer problem;
   * throws only when the store itself fails (then nothing of the batch is applied).
   */
  createTransfers(transfers: readonly TransferInput[]): Promise<TransferResult[]>;
  /** Found accounts, in the order asked (missing ids are skipped). */
  lookupAccounts(ids: readonly string[]): Promise<Account[]>;
  /** Found transfers (booked or failed), in the order asked. */
  lookupTransfers(ids: readonly string[]): Promise<Transfer[]>;
  /** Booked transfers whose `userData` equals the given reference, oldest first. */
  transfersByUserData(userData: string): Promise<Transfer[]>;
  /** Releases every pending transfer whose deadline passed; returns how many. */
  expirePending(): Promise<number>;
  /** Every account and every decided transfer (for the invariant checker and audits). */
  dump(): Promise<{ accounts: Account[]; transfers: Transfer[] }>;
  close(): Promise<void>;
}
