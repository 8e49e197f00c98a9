import { type Clock, systemClock } from '@handset/device-drivers/core';
import type pg from 'pg';
import { checkSchemaName, makePool, type PgConnectOptions, pgTransaction } from '../sql/pg';
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

export interface PgLedgerOptions extends PgConnectOptions {
  clock?: Clock;
}

/**
 * The scaled ledger store: PostgreSQL with synchronous_commit on (the server default).
 * Each call is one transaction: the batch's transfer rows and then its accounts are
 * locked `FOR UPDATE` in id order (so concurrent workers cannot deadlock or decide from
 * stale balances), the shared engine decides, and the rows are written with `unnest`
 * bulk statements - a handful of round trips per batch, whatever its size.
 */
export class PgLedgerStore implements LedgerStore {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly owned: boolean;
  private readonly clock: Clock;
  private ready: Promise<void> | undefined;

  constructor(options: PgLedgerOptions = {}) {
    const { pool, owned } = makePool(options);
    this.pool = pool;
    this.owned = owned;
    this.schema = checkSchemaName(options.schema ?? 'handset');
    this.clock = options.clock ?? systemClock;
  }

  private get a() {
    return `"${this.schema}".ledger_accounts`;
  }
  private get t() {
    return `"${this.schema}".ledger_transfers`;
  }

  /** Creates the schema and tables if missing (called lazily by every operation). */
  init(): Promise<void> {
    this.ready ??= (async () => {
      await this.pool.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`).catch(async (err) => {
        if ((err as { code?: string }).code !== '23505') throw err;
      });
      await this.pool.query(`
        CREATE TABLE IF NOT EXISTS ${this.a} (
          id TEXT PRIMARY KEY, currency TEXT NOT NULL, code INTEGER NOT NULL, flags INTEGER NOT NULL,
          debits_pending BIGINT NOT NULL, debits_posted BIGINT NOT NULL,
          credits_pending BIGINT NOT NULL, credits_posted BIGINT NOT NULL, timestamp BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS ${this.t} (
          id TEXT PRIMARY KEY, debit_account_id TEXT NOT NULL, credit_account_id TEXT NOT NULL,
          amount BIGINT NOT NULL, currency TEXT NOT NULL, code INTEGER NOT NULL, flags INTEGER NOT NULL,
          pending_id TEXT, timeout_s INTEGER NOT NULL, user_data TEXT, timestamp BIGINT NOT NULL,
          result TEXT NOT NULL, pending_status TEXT, body TEXT NOT NULL, seq BIGSERIAL);
        CREATE INDEX IF NOT EXISTS ledger_transfers_user_data ON ${this.t}(user_data);
        CREATE INDEX IF NOT EXISTS ledger_transfers_open ON ${this.t}(pending_status) WHERE pending_status = 'pending';`);
    })().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async loadTransfers(c: pg.PoolClient | pg.Pool, ids: readonly string[], lock: boolean): Promise<Map<string, Transfer>> {
    const m = new Map<string, Transfer>();
    if (!ids.length) return m;
    const r = await c.query<TransferRow>(
      `SELECT * FROM ${this.t} WHERE id = ANY($1::text[]) ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
      [ids],
    );
    for (const row of r.rows) m.set(row.id, transferFromRow(row));
    return m;
  }

  private async loadAccounts(c: pg.PoolClient | pg.Pool, ids: readonly string[], lock: boolean): Promise<Map<string, Account>> {
    const m = new Map<string, Account>();
    if (!ids.length) return m;
    const r = await c.query<AccountRow>(
      `SELECT * FROM ${this.a} WHERE id = ANY($1::text[]) ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
      [ids],
    );
    for (const row of r.rows) m.set(row.id, accountFromRow(row));
    return m;
  }

  private async write(c: pg.PoolClient, s: LedgerSnapshot, fx: BatchEffects): Promise<void> {
    if (fx.inserts.length) {
      const col = <T>(f: (t: Transfer) => T) => fx.inserts.map(f);
      await c.query(
        `INSERT INTO ${this.t} (id, debit_account_id, credit_account_id, amount, currency, code, flags, pending_id, timeout_s, user_data, timestamp, result, pending_status, body)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::int[], $8::text[], $9::int[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[])`,
        [
          col((t) => t.id),
          col((t) => t.debitAccountId),
          col((t) => t.creditAccountId),
          col((t) => t.amount.toString()),
          col((t) => t.currency),
          col((t) => t.code),
          col(transferFlagBits),
          col((t) => t.pendingId),
          col((t) => t.timeoutSeconds),
          col((t) => t.userData),
          col((t) => String(t.timestamp)),
          col((t) => t.result),
          col((t) => t.pendingStatus),
          col((t) => t.bodyKey),
        ],
      );
    }
    if (fx.pendingStatus.size) {
      await c.query(
        `UPDATE ${this.t} t SET pending_status = u.s FROM unnest($1::text[], $2::text[]) AS u(id, s) WHERE t.id = u.id`,
        [[...fx.pendingStatus.keys()], [...fx.pendingStatus.values()]],
      );
    }
    const accts = [...fx.accounts].flatMap((id) => s.accounts.get(id) ?? []);
    if (accts.length) {
      await c.query(
        `UPDATE ${this.a} a SET debits_pending = u.dp, debits_posted = u.dq, credits_pending = u.cp, credits_posted = u.cq
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(id, dp, dq, cp, cq) WHERE a.id = u.id`,
        [
          accts.map((a) => a.id),
          accts.map((a) => a.debitsPending.toString()),
          accts.map((a) => a.debitsPosted.toString()),
          accts.map((a) => a.creditsPending.toString()),
          accts.map((a) => a.creditsPosted.toString()),
        ],
      );
    }
  }

  async createAccounts(accounts: readonly AccountInput[]): Promise<AccountResult[]> {
    await this.init();
    return pgTransaction(this.pool, async (c) => {
      const now = this.clock.now();
      const existing = await this.loadAccounts(
        c,
        accounts.map((a) => a.id),
        true,
      );
      const results: AccountResult[] = [];
      for (const [index, a] of accounts.entries()) {
        const outcome = accountOutcome(a, existing.get(a.id));
        if (outcome) {
          results.push({ index, result: outcome, replayed: outcome === 'ok' });
          continue;
        }
        const n = normalizeAccount(a, now);
        existing.set(n.id, n);
        await c.query(`INSERT INTO ${this.a} VALUES ($1, $2, $3, $4, 0, 0, 0, 0, $5)`, [
          n.id,
          n.currency,
          n.code,
          accountFlagBits(n),
          String(now),
        ]);
        results.push({ index, result: 'ok', replayed: false });
      }
      return results;
    });
  }

  async createTransfers(transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    if (!transfers.length) return [];
    await this.init();
    return pgTransaction(this.pool, async (c) => {
      const now = this.clock.now();
      const loaded = await this.loadTransfers(c, transferIdsToLoad(transfers), true);
      const s: LedgerSnapshot = {
        transfers: loaded,
        accounts: await this.loadAccounts(c, accountIdsToLoad(transfers, loaded), true),
      };
      const fx = applyTransfers(s, transfers, now);
      await this.write(c, s, fx);
      return fx.results;
    });
  }

  async lookupAccounts(ids: readonly string[]): Promise<Account[]> {
    await this.init();
    const m = await this.loadAccounts(this.pool, ids, false);
    return ids.flatMap((id) => m.get(id) ?? []);
  }

  async lookupTransfers(ids: readonly string[]): Promise<Transfer[]> {
    await this.init();
    const m = await this.loadTransfers(this.pool, ids, false);
    return ids.flatMap((id) => m.get(id) ?? []);
  }

  async transfersByUserData(userData: string): Promise<Transfer[]> {
    await this.init();
    const r = await this.pool.query<TransferRow>(
      `SELECT * FROM ${this.t} WHERE user_data = $1 AND result = 'ok' ORDER BY timestamp, seq`,
      [userData],
    );
    return r.rows.map(transferFromRow);
  }

  async expirePending(): Promise<number> {
    await this.init();
    return pgTransaction(this.pool, async (c) => {
      const now = this.clock.now();
      const r = await c.query<TransferRow>(
        `SELECT * FROM ${this.t} WHERE pending_status = 'pending' AND timeout_s > 0 AND timestamp + timeout_s * 1000 <= $1 ORDER BY id FOR UPDATE`,
        [String(now)],
      );
      const due = r.rows.map(transferFromRow);
      if (!due.length) return 0;
      const ids = new Set<string>();
      for (const p of due) ids.add(p.debitAccountId).add(p.creditAccountId);
      const s: LedgerSnapshot = {
        transfers: new Map(due.map((p) => [p.id, p])),
        accounts: await this.loadAccounts(c, [...ids].sort(), true),
      };
      const fx = emptyEffects();
      for (const p of due) expireInSnapshot(s, p, fx);
      await this.write(c, s, fx);
      return due.length;
    });
  }

  async dump(): Promise<{ accounts: Account[]; transfers: Transfer[] }> {
    await this.init();
    const a = await this.pool.query<AccountRow>(`SELECT * FROM ${this.a} ORDER BY id`);
    const t = await this.pool.query<TransferRow>(`SELECT * FROM ${this.t} ORDER BY timestamp, seq`);
    return { accounts: a.rows.map(accountFromRow), transfers: t.rows.map(transferFromRow) };
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end();
  }
}
