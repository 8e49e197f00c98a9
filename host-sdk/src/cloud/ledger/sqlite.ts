import { type Clock, systemClock } from '@handset/device-drivers/core';
import type Database from 'better-sqlite3';
import { SqliteFile } from '../sql/sqlite-file';
import {
  accountIdsToLoad,
  accountOutcome,
  applyTransfers,
  type BatchEffects,
  emptyEffects,
  expireInSnapshot,
  type LedgerSnapshot,
  normalizeAccount,
  transferIdsToLoad,
} from './engine';
import { type AccountRow, accountFlagBits, accountFromRow, type TransferRow, transferFlagBits, transferFromRow } from './rows';
import type { Account, AccountInput, AccountResult, LedgerStore, Transfer, TransferInput, TransferResult } from './types';

export interface SqliteLedgerOptions {
  /**
   * File path, or ':memory:' (tests only: not durable); or a `SqliteFile` shared with
   * other stores (the embedded cloud's one file), which the store then uses under its
   * lock and does not close.
   */
  path: string | SqliteFile;
  /** Store clock for timestamps and pending-transfer expiry. */
  clock?: Clock;
  /** Default 'FULL' (a resolved commit survives power loss). 'NORMAL' only for comparison benches. */
  synchronous?: 'FULL' | 'NORMAL';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger_accounts (
  id TEXT PRIMARY KEY, currency TEXT NOT NULL, code INTEGER NOT NULL, flags INTEGER NOT NULL,
  debits_pending INTEGER NOT NULL, debits_posted INTEGER NOT NULL,
  credits_pending INTEGER NOT NULL, credits_posted INTEGER NOT NULL, timestamp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_transfers (
  id TEXT PRIMARY KEY, debit_account_id TEXT NOT NULL, credit_account_id TEXT NOT NULL,
  amount INTEGER NOT NULL, currency TEXT NOT NULL, code INTEGER NOT NULL, flags INTEGER NOT NULL,
  pending_id TEXT, timeout_s INTEGER NOT NULL, user_data TEXT, timestamp INTEGER NOT NULL,
  result TEXT NOT NULL, pending_status TEXT, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_transfers_user_data ON ledger_transfers(user_data);
CREATE INDEX IF NOT EXISTS ledger_transfers_open ON ledger_transfers(pending_status) WHERE pending_status = 'pending';
`;

/**
 * The embedded ledger store: one SQLite file, WAL, synchronous FULL. Every call is one
 * `BEGIN IMMEDIATE` transaction (the write lock is taken before reading, so two
 * processes on the same file cannot decide from stale rows).
 */
export class SqliteLedgerStore implements LedgerStore {
  readonly kind = 'sqlite';
  readonly file: SqliteFile;
  private readonly owned: boolean;
  private readonly clock: Clock;
  private readonly st;
  private joinedView: LedgerStore | undefined;

  constructor(options: SqliteLedgerOptions) {
    this.clock = options.clock ?? systemClock;
    this.owned = typeof options.path === 'string';
    this.file =
      typeof options.path === 'string' ? new SqliteFile(options.path, { synchronous: options.synchronous }) : options.path;
    this.db.exec(SCHEMA);
    const p = (sql: string) => this.db.prepare(sql).safeIntegers(true);
    this.st = {
      accounts: p('SELECT * FROM ledger_accounts WHERE id IN (SELECT value FROM json_each(?))'),
      transfers: p('SELECT * FROM ledger_transfers WHERE id IN (SELECT value FROM json_each(?))'),
      byUserData: p("SELECT * FROM ledger_transfers WHERE user_data = ? AND result = 'ok' ORDER BY timestamp, rowid"),
      expired: p(
        "SELECT * FROM ledger_transfers WHERE pending_status = 'pending' AND timeout_s > 0 AND timestamp + timeout_s * 1000 <= ?",
      ),
      insertAccount: p(
        'INSERT INTO ledger_accounts VALUES (@id, @currency, @code, @flags, @debits_pending, @debits_posted, @credits_pending, @credits_posted, @timestamp)',
      ),
      updateAccount: p(
        'UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, credits_posted = ? WHERE id = ?',
      ),
      insertTransfer: p(
        'INSERT INTO ledger_transfers VALUES (@id, @debit_account_id, @credit_account_id, @amount, @currency, @code, @flags, @pending_id, @timeout_s, @user_data, @timestamp, @result, @pending_status, @body)',
      ),
      setPending: p('UPDATE ledger_transfers SET pending_status = ? WHERE id = ?'),
      allAccounts: p('SELECT * FROM ledger_accounts ORDER BY id'),
      allTransfers: p('SELECT * FROM ledger_transfers ORDER BY timestamp, rowid'),
    };
  }

  get db(): Database.Database {
    return this.file.db;
  }

  /**
   * The store for code that already holds the shared connection inside
   * `file.transaction`: calls run at once, and each write is a savepoint of the
   * enclosing transaction (one commit, one fsync for the whole unit of work).
   */
  joined(): LedgerStore {
    this.joinedView ??= {
      kind: this.kind,
      createAccounts: async (a) => this.createAccountsNow(a),
      createTransfers: async (t) => this.createTransfersNow(t),
      lookupAccounts: async (ids) => this.lookupAccountsNow(ids),
      lookupTransfers: async (ids) => this.lookupTransfersNow(ids),
      transfersByUserData: async (u) => this.transfersByUserDataNow(u),
      expirePending: async () => this.expirePendingNow(),
      dump: async () => this.dumpNow(),
      close: async () => undefined,
    };
    return this.joinedView;
  }

  private loadAccounts(ids: readonly string[]): Map<string, Account> {
    const m = new Map<string, Account>();
    if (!ids.length) return m;
    for (const r of this.st.accounts.all(JSON.stringify(ids)) as AccountRow[]) m.set(r.id, accountFromRow(r));
    return m;
  }

  private loadTransfers(ids: readonly string[]): Map<string, Transfer> {
    const m = new Map<string, Transfer>();
    if (!ids.length) return m;
    for (const r of this.st.transfers.all(JSON.stringify(ids)) as TransferRow[]) m.set(r.id, transferFromRow(r));
    return m;
  }

  private write(s: LedgerSnapshot, fx: BatchEffects): void {
    for (const t of fx.inserts) {
      this.st.insertTransfer.run({
        id: t.id,
        debit_account_id: t.debitAccountId,
        credit_account_id: t.creditAccountId,
        amount: t.amount,
        currency: t.currency,
        code: t.code,
        flags: transferFlagBits(t),
        pending_id: t.pendingId,
        timeout_s: t.timeoutSeconds,
        user_data: t.userData,
        timestamp: t.timestamp,
        result: t.result,
        pending_status: t.pendingStatus,
        body: t.bodyKey,
      });
    }
    for (const [id, status] of fx.pendingStatus) this.st.setPending.run(status, id);
    for (const id of fx.accounts) {
      const a = s.accounts.get(id);
      if (a) this.st.updateAccount.run(a.debitsPending, a.debitsPosted, a.creditsPending, a.creditsPosted, id);
    }
  }

  private createAccountsNow(accounts: readonly AccountInput[]): AccountResult[] {
    const now = this.clock.now();
    return this.db
      .transaction(() => {
        const existing = this.loadAccounts(accounts.map((a) => a.id));
        return accounts.map((a, index): AccountResult => {
          const outcome = accountOutcome(a, existing.get(a.id));
          if (outcome) return { index, result: outcome, replayed: outcome === 'ok' };
          const n = normalizeAccount(a, now);
          existing.set(n.id, n);
          this.st.insertAccount.run({
            id: n.id,
            currency: n.currency,
            code: n.code,
            flags: accountFlagBits(n),
            debits_pending: 0n,
            debits_posted: 0n,
            credits_pending: 0n,
            credits_posted: 0n,
            timestamp: now,
          });
          return { index, result: 'ok', replayed: false };
        });
      })
      .immediate();
  }

  private createTransfersNow(transfers: readonly TransferInput[]): TransferResult[] {
    if (!transfers.length) return [];
    const now = this.clock.now();
    return this.db
      .transaction(() => {
        const loaded = this.loadTransfers(transferIdsToLoad(transfers));
        const s: LedgerSnapshot = { transfers: loaded, accounts: this.loadAccounts(accountIdsToLoad(transfers, loaded)) };
        const fx = applyTransfers(s, transfers, now);
        this.write(s, fx);
        return fx.results;
      })
      .immediate();
  }

  private lookupAccountsNow(ids: readonly string[]): Account[] {
    const m = this.loadAccounts(ids);
    return ids.flatMap((id) => m.get(id) ?? []);
  }

  private lookupTransfersNow(ids: readonly string[]): Transfer[] {
    const m = this.loadTransfers(ids);
    return ids.flatMap((id) => m.get(id) ?? []);
  }

  private transfersByUserDataNow(userData: string): Transfer[] {
    return (this.st.byUserData.all(userData) as TransferRow[]).map(transferFromRow);
  }

  private expirePendingNow(): number {
    const now = this.clock.now();
    return this.db
      .transaction(() => {
        const due = (this.st.expired.all(now) as TransferRow[]).map(transferFromRow);
        if (!due.length) return 0;
        const ids = new Set<string>();
        for (const p of due) ids.add(p.debitAccountId).add(p.creditAccountId);
        const s: LedgerSnapshot = { transfers: new Map(due.map((p) => [p.id, p])), accounts: this.loadAccounts([...ids]) };
        const fx = emptyEffects();
        for (const p of due) expireInSnapshot(s, p, fx);
        this.write(s, fx);
        return due.length;
      })
      .immediate();
  }

  private dumpNow(): { accounts: Account[]; transfers: Transfer[] } {
    return {
      accounts: (this.st.allAccounts.all() as AccountRow[]).map(accountFromRow),
      transfers: (this.st.allTransfers.all() as TransferRow[]).map(transferFromRow),
    };
  }

  createAccounts(accounts: readonly AccountInput[]): Promise<AccountResult[]> {
    return this.file.serial(() => this.createAccountsNow(accounts));
  }
  createTransfers(transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    return this.file.serial(() => this.createTransfersNow(transfers));
  }
  lookupAccounts(ids: readonly string[]): Promise<Account[]> {
    return this.file.serial(() => this.lookupAccountsNow(ids));
  }
  lookupTransfers(ids: readonly string[]): Promise<Transfer[]> {
    return this.file.serial(() => this.lookupTransfersNow(ids));
  }
  transfersByUserData(userData: string): Promise<Transfer[]> {
    return this.file.serial(() => this.transfersByUserDataNow(userData));
  }
  expirePending(): Promise<number> {
    return this.file.serial(() => this.expirePendingNow());
  }
  dump(): Promise<{ accounts: Account[]; transfers: Transfer[] }> {
    return this.file.serial(() => this.dumpNow());
  }

  async close(): Promise<void> {
    if (this.owned) await this.file.close();
  }
}
