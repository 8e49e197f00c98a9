import type { Account, LedgerStore, Transfer } from './types';

export interface InvariantOptions {
  /**
   * Transfer codes that may be booked at most once per `userData` (payment id), not
   * counting post/void resolutions. Default `[1]` (payments).
   */
  oncePerUserData?: number[];
}

export interface InvariantReport {
  ok: boolean;
  violations: string[];
  /** Per currency: sum of posted and pending (credits - debits) over all accounts; both must be 0. */
  totals: Record<string, { posted: bigint; pending: bigint }>;
  accounts: number;
  booked: number;
}

/**
 * The ledger's "what must never happen" list, checked from the stored rows:
 * 1. money conserved: per currency the balances sum to zero (posted and pending);
 * 2. every account's balances equal the sum of its booked transfers (nothing applied
 *    without a record, nothing recorded without being applied);
 * 3. no balance beyond its limit (flags);
 * 4. no payment booked twice (codes in `oncePerUserData`), no pending resolved twice.
 * Run after every scenario test and after crash/restart faults.
 */
export async function checkLedgerInvariants(store: LedgerStore, options: InvariantOptions = {}): Promise<InvariantReport> {
  const { accounts, transfers } = await store.dump();
  return checkDump(accounts, transfers, options);
}

export function checkDump(accounts: Account[], transfers: Transfer[], options: InvariantOptions = {}): InvariantReport {
  const once = new Set(options.oncePerUserData ?? [1]);
  const violations: string[] = [];
  const totals: InvariantReport['totals'] = {};
  const expect = new Map<string, { dp: bigint; dq: bigint; cp: bigint; cq: bigint }>();
  for (const a of accounts) {
    const t = totals[a.currency] ?? { posted: 0n, pending: 0n };
    totals[a.currency] = t;
    t.posted += a.creditsPosted - a.debitsPosted;
    t.pending += a.creditsPending - a.debitsPending;
    expect.set(a.id, { dp: 0n, dq: 0n, cp: 0n, cq: 0n });
    if (a.flags.debitsMustNotExceedCredits && a.debitsPosted + a.debitsPending > a.creditsPosted) {
      violations.push(`account ${a.id}: debits exceed credits`);
    }
    if (a.flags.creditsMustNotExceedDebits && a.creditsPosted + a.creditsPending > a.debitsPosted) {
      violations.push(`account ${a.id}: credits exceed debits`);
    }
    for (const v of [a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted]) {
      if (v < 0n) violations.push(`account ${a.id}: negative balance column`);
    }
  }
  for (const [cur, t] of Object.entries(totals)) {
    if (t.posted !== 0n) violations.push(`currency ${cur}: posted balances sum to ${t.posted}, not 0`);
    if (t.pending !== 0n) violations.push(`currency ${cur}: pending balances sum to ${t.pending}, not 0`);
  }
  const seen = new Map<string, string>();
  const resolved = new Map<string, string>();
  let booked = 0;
  for (const t of transfers) {
    if (t.result !== 'ok') continue;
    booked++;
    const d = expect.get(t.debitAccountId);
    const c = expect.get(t.creditAccountId);
    if (!d || !c) {
      violations.push(`transfer ${t.id}: booked against a missing account`);
      continue;
    }
    if (t.flags.pending) {
      if (t.pendingStatus === 'pending') {
        d.dp += t.amount;
        c.cp += t.amount;
      }
    } else if (!t.flags.voidPending) {
      d.dq += t.amount;
      c.cq += t.amount;
    }
    if (t.flags.postPending || t.flags.voidPending) {
      const key = t.pendingId ?? '';
      const prior = resolved.get(key);
      if (prior) violations.push(`pending ${key} resolved twice (${prior}, ${t.id})`);
      resolved.set(key, t.id);
    } else if (t.userData && once.has(t.code)) {
      const key = `${t.code}:${t.userData}`;
      const prior = seen.get(key);
      if (prior) violations.push(`payment ${t.userData} booked twice (${prior}, ${t.id})`);
      seen.set(key, t.id);
    }
  }
  for (const a of accounts) {
    const e = expect.get(a.id)!;
    if (e.dp !== a.debitsPending || e.dq !== a.debitsPosted || e.cp !== a.creditsPending || e.cq !== a.creditsPosted) {
      violations.push(`account ${a.id}: balances differ from its transfers`);
    }
  }
  return { ok: violations.length === 0, violations, totals, accounts: accounts.length, booked };
}
