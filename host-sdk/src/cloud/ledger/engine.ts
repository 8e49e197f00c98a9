/**
 * The ledger's decision logic as a pure function over a loaded snapshot, shared by the
 * SQLite and PostgreSQL stores: each store loads the accounts and transfers a batch
 * touches (inside its transaction, with the rows locked), calls `applyTransfers`, and
 * writes back what it reports. Both stores therefore cannot disagree on a rule.
 */
import type {
  Account,
  AccountInput,
  AccountResultCode,
  PendingStatus,
  Transfer,
  TransferInput,
  TransferResult,
  TransferResultCode,
} from './types';

/** Working state: the rows a batch may touch, mutated in place by `applyTransfers`. */
export interface LedgerSnapshot {
  accounts: Map<string, Account>;
  transfers: Map<string, Transfer>;
}

export interface BatchEffects {
  results: TransferResult[];
  /** Decided transfers to insert (booked and sticky failures). */
  inserts: Transfer[];
  /** Accounts whose balances changed. */
  accounts: Set<string>;
  /** Existing pending transfers whose status changed. */
  pendingStatus: Map<string, PendingStatus>;
}

/** Failures that follow from the body alone: not stored, a retry re-derives them. */
const VALIDATION: ReadonlySet<TransferResultCode> = new Set([
  'id_must_not_be_empty',
  'flags_are_mutually_exclusive',
  'amount_must_not_be_zero',
  'amount_must_not_be_negative',
  'accounts_must_be_different',
  'pending_id_required',
  'pending_id_must_be_different',
  'exists_with_different_fields',
]);

/** Canonical body of a transfer request: equal keys = the same request. */
export function transferBodyKey(t: TransferInput): string {
  const f = t.flags ?? {};
  return JSON.stringify([
    t.debitAccountId ?? '',
    t.creditAccountId ?? '',
    t.amount === undefined ? '' : t.amount.toString(),
    t.currency,
    t.code,
    (f.pending ? 1 : 0) | (f.postPending ? 2 : 0) | (f.voidPending ? 4 : 0),
    t.pendingId ?? '',
    t.timeoutSeconds ?? 0,
    t.userData ?? '',
  ]);
}

export function normalizeAccount(a: AccountInput, now: number): Account {
  return {
    id: a.id,
    currency: a.currency,
    code: a.code,
    flags: {
      debitsMustNotExceedCredits: Boolean(a.flags?.debitsMustNotExceedCredits),
      creditsMustNotExceedDebits: Boolean(a.flags?.creditsMustNotExceedDebits),
    },
    debitsPending: 0n,
    debitsPosted: 0n,
    creditsPending: 0n,
    creditsPosted: 0n,
    timestamp: now,
  };
}

/** Compares a create request with an existing account: ok (replay) or a conflict. */
export function accountOutcome(input: AccountInput, existing: Account | undefined): AccountResultCode | null {
  if (!input.id) return 'id_must_not_be_empty';
  if (!input.currency) return 'currency_must_not_be_empty';
  if (!existing) return null;
  const n = normalizeAccount(input, 0);
  const same =
    n.currency === existing.currency &&
    n.code === existing.code &&
    n.flags.debitsMustNotExceedCredits === existing.flags.debitsMustNotExceedCredits &&
    n.flags.creditsMustNotExceedDebits === existing.flags.creditsMustNotExceedDebits;
  return same ? 'ok' : 'exists_with_different_fields';
}

/** The ids a batch needs loaded before `applyTransfers`: its own ids and pending ids. */
export function transferIdsToLoad(inputs: readonly TransferInput[]): string[] {
  const ids = new Set<string>();
  for (const t of inputs) {
    if (t.id) ids.add(t.id);
    if (t.pendingId) ids.add(t.pendingId);
  }
  return [...ids];
}

/** Account ids to load (lock) given the inputs and the already loaded transfers. */
export function accountIdsToLoad(inputs: readonly TransferInput[], loaded: Map<string, Transfer>): string[] {
  const ids = new Set<string>();
  for (const t of inputs) {
    if (t.debitAccountId) ids.add(t.debitAccountId);
    if (t.creditAccountId) ids.add(t.creditAccountId);
    const p = t.pendingId ? loaded.get(t.pendingId) : undefined;
    if (p) {
      ids.add(p.debitAccountId);
      ids.add(p.creditAccountId);
    }
  }
  return [...ids].sort();
}

function isExpired(p: Transfer, now: number): boolean {
  return p.timeoutSeconds > 0 && now >= p.timestamp + p.timeoutSeconds * 1000;
}

function release(s: LedgerSnapshot, p: Transfer): void {
  const d = s.accounts.get(p.debitAccountId);
  const c = s.accounts.get(p.creditAccountId);
  if (d) d.debitsPending -= p.amount;
  if (c) c.creditsPending -= p.amount;
}

/** Releases a pending transfer whose deadline passed (used by the sweep and by post/void). */
export function expireInSnapshot(s: LedgerSnapshot, p: Transfer, fx: BatchEffects): void {
  release(s, p);
  p.pendingStatus = 'expired';
  fx.pendingStatus.set(p.id, 'expired');
  fx.accounts.add(p.debitAccountId);
  fx.accounts.add(p.creditAccountId);
}

export function emptyEffects(): BatchEffects {
  return { results: [], inserts: [], accounts: new Set(), pendingStatus: new Map() };
}

/**
 * Decides every transfer in order against the snapshot, mutating it, and returns the
 * per-index results plus the rows to write. Pure: no I/O, no clock (the store passes
 * `now`).
 */
export function applyTransfers(s: LedgerSnapshot, inputs: readonly TransferInput[], now: number): BatchEffects {
  const fx = emptyEffects();
  inputs.forEach((t, index) => {
    const bodyKey = transferBodyKey(t);
    const existing = t.id ? s.transfers.get(t.id) : undefined;
    if (existing) {
      fx.results.push(
        existing.bodyKey === bodyKey
          ? { index, result: existing.result, replayed: true }
          : { index, result: 'exists_with_different_fields', replayed: false },
      );
      return;
    }
    const decided = decide(s, t, now, fx);
    const result = decided.result;
    fx.results.push({ index, result, replayed: false });
    if (VALIDATION.has(result)) return;
    const f = t.flags ?? {};
    const row: Transfer = {
      id: t.id,
      debitAccountId: decided.debit ?? t.debitAccountId ?? '',
      creditAccountId: decided.credit ?? t.creditAccountId ?? '',
      amount: decided.amount ?? t.amount ?? 0n,
      currency: t.currency,
      code: t.code,
      flags: { pending: Boolean(f.pending), postPending: Boolean(f.postPending), voidPending: Boolean(f.voidPending) },
      pendingId: t.pendingId ?? null,
      timeoutSeconds: t.timeoutSeconds ?? 0,
      userData: t.userData ?? null,
      timestamp: now,
      result,
      pendingStatus: result === 'ok' && f.pending ? 'pending' : null,
      bodyKey,
    };
    s.transfers.set(row.id, row);
    fx.inserts.push(row);
  });
  return fx;
}

interface Decision {
  result: TransferResultCode;
  debit?: string;
  credit?: string;
  amount?: bigint;
}

function decide(s: LedgerSnapshot, t: TransferInput, now: number, fx: BatchEffects): Decision {
  if (!t.id) return { result: 'id_must_not_be_empty' };
  const f = t.flags ?? {};
  const nFlags = (f.pending ? 1 : 0) + (f.postPending ? 1 : 0) + (f.voidPending ? 1 : 0);
  if (nFlags > 1) return { result: 'flags_are_mutually_exclusive' };
  if (t.amount !== undefined && t.amount < 0n) return { result: 'amount_must_not_be_negative' };
  if (f.postPending || f.voidPending) return resolvePending(s, t, now, fx, Boolean(f.postPending));

  if (t.amount === undefined || t.amount === 0n) return { result: 'amount_must_not_be_zero' };
  if (t.pendingId) return { result: 'pending_id_must_be_different' };
  if (t.debitAccountId && t.debitAccountId === t.creditAccountId) return { result: 'accounts_must_be_different' };
  const d = t.debitAccountId ? s.accounts.get(t.debitAccountId) : undefined;
  if (!d) return { result: 'debit_account_not_found' };
  const c = t.creditAccountId ? s.accounts.get(t.creditAccountId) : undefined;
  if (!c) return { result: 'credit_account_not_found' };
  if (d.currency !== c.currency) return { result: 'accounts_must_have_the_same_currency' };
  if (t.currency !== d.currency) return { result: 'transfer_must_have_the_same_currency_as_accounts' };
  const a = t.amount;
  if (d.flags.debitsMustNotExceedCredits && d.debitsPosted + d.debitsPending + a > d.creditsPosted) {
    return { result: 'exceeds_credits' };
  }
  if (c.flags.creditsMustNotExceedDebits && c.creditsPosted + c.creditsPending + a > c.debitsPosted) {
    return { result: 'exceeds_debits' };
  }
  if (f.pending) {
    d.debitsPending += a;
    c.creditsPending += a;
  } else {
    d.debitsPosted += a;
    c.creditsPosted += a;
  }
  fx.accounts.add(d.id);
  fx.accounts.add(c.id);
  return { result: 'ok' };
}

function resolvePending(s: LedgerSnapshot, t: TransferInput, now: number, fx: BatchEffects, post: boolean): Decision {
  if (!t.pendingId) return { result: 'pending_id_required' };
  if (t.pendingId === t.id) return { result: 'pending_id_must_be_different' };
  const p = s.transfers.get(t.pendingId);
  if (p?.result !== 'ok') return { result: 'pending_transfer_not_found' };
  if (!p.flags.pending) return { result: 'pending_transfer_not_pending' };
  const ids = { debit: p.debitAccountId, credit: p.creditAccountId };
  if (
    (t.debitAccountId && t.debitAccountId !== p.debitAccountId) ||
    (t.creditAccountId && t.creditAccountId !== p.creditAccountId)
  ) {
    return { result: 'pending_transfer_has_different_accounts', ...ids };
  }
  if (t.currency !== p.currency) return { result: 'pending_transfer_has_different_currency', ...ids };
  if (p.pendingStatus === 'posted') return { result: 'pending_transfer_already_posted', ...ids };
  if (p.pendingStatus === 'voided') return { result: 'pending_transfer_already_voided', ...ids };
  if (p.pendingStatus === 'expired') return { result: 'pending_transfer_expired', ...ids };
  if (isExpired(p, now)) {
    expireInSnapshot(s, p, fx);
    return { result: 'pending_transfer_expired', ...ids };
  }
  if (!post) {
    release(s, p);
    p.pendingStatus = 'voided';
    fx.pendingStatus.set(p.id, 'voided');
    fx.accounts.add(p.debitAccountId);
    fx.accounts.add(p.creditAccountId);
    return { result: 'ok', ...ids, amount: p.amount };
  }
  const amount = t.amount ?? p.amount;
  if (amount === 0n) return { result: 'amount_must_not_be_zero', ...ids };
  if (amount > p.amount) return { result: 'exceeds_pending_transfer_amount', ...ids };
  const d = s.accounts.get(p.debitAccountId);
  const c = s.accounts.get(p.creditAccountId);
  if (!d) return { result: 'debit_account_not_found', ...ids };
  if (!c) return { result: 'credit_account_not_found', ...ids };
  release(s, p);
  d.debitsPosted += amount;
  c.creditsPosted += amount;
  p.pendingStatus = 'posted';
  fx.pendingStatus.set(p.id, 'posted');
  fx.accounts.add(d.id);
  fx.accounts.add(c.id);
  return { result: 'ok', ...ids, amount };
}
