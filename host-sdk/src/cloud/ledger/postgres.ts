import { type Clock, systemClock } from '@handset/device-drivers/core';
import type pg from 'pg';
import { checkSchemaName, makePool, type PgConnectOptions, pgTransaction, pgTwoStep, sqlLiteral, sqlTextArray } from '../sql/pg';
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

  /** The batch's writes as one simple-query string (empty when nothing changes). */
  private writeSql(s: LedgerSnapshot, fx: BatchEffects): string {
    const L = sqlLiteral;
    const out: string[] = [];
    if (fx.inserts.length) {
      const rows = fx.inserts.map(
        (t) =>
          `(${L(t.id)},${L(t.debitAccountId)},${L(t.creditAccountId)},${L(t.amount)},${L(t.currency)},${L(t.code)},${L(transferFlagBits(t))},${L(t.pendingId)},${L(t.timeoutSeconds)},${L(t.userData)},${L(t.timestamp)},${L(t.result)},${L(t.pendingStatus)},${L(t.bodyKey)})`,
      );
      out.push(
        `INSERT INTO ${this.t} (id, debit_account_id, credit_account_id, amount, currency, code, flags, pending_id, timeout_s, user_data, timestamp, result, pending_status, body) VALUES ${rows.join(',')}`,
      );
    }
    if (fx.pendingStatus.size) {
      const rows = [...fx.pendingStatus].map(([id, st]) => `(${L(id)},${L(st)})`);
      out.push(`UPDATE ${this.t} t SET pending_status = u.s FROM (VALUES ${rows.join(',')}) AS u(id, s) WHERE t.id = u.id`);
    }
    const accts = [...fx.accounts].flatMap((id) => s.accounts.get(id) ?? []);
    if (accts.length) {
      const rows = accts.map(
        (a) => `(${L(a.id)},${L(a.debitsPending)},${L(a.debitsPosted)},${L(a.creditsPending)},${L(a.creditsPosted)})`,
      );
      out.push(
        `UPDATE ${this.a} a SET debits_pending = u.dp::int8, debits_posted = u.dq::int8, credits_pending = u.cp::int8, credits_posted = u.cq::int8
         FROM (VALUES ${rows.join(',')}) AS u(id, dp, dq, cp, cq) WHERE a.id = u.id`,
      );
    }
    return out.join(';');
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

  /**
   * Two round trips: `BEGIN` + lock the batch's transfer rows + lock its accounts (those
   * it names and those of the pending transfers it resolves, in id order), then the
   * writes the engine computed + `COMMIT`.
   */
  async createTransfers(transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    if (!transfers.length) return [];
    await this.init();
    const tids = transferIdsToLoad(transfers);
    const named = accountIdsToLoad(transfers, new Map());
    const pids = [...new Set(transfers.flatMap((t) => (t.pendingId ? [t.pendingId] : [])))];
    const ofPending = pids.length
      ? ` || ARRAY(SELECT x FROM ${this.t} p, LATERAL (VALUES (p.debit_account_id), (p.credit_account_id)) v(x) WHERE p.id = ANY(${sqlTextArray(pids)}))`
      : '';
    const read = [
      tids.length ? `SELECT * FROM ${this.t} WHERE id = ANY(${sqlTextArray(tids)}) ORDER BY id FOR UPDATE` : 'SELECT',
      `SELECT * FROM ${this.a} WHERE id = ANY(${sqlTextArray(named)}${ofPending}) ORDER BY id FOR UPDATE`,
    ].join(';');
    return pgTwoStep(this.pool, read, async ([tr, ar], c) => {
      const now = this.clock.now();
      const loaded = new Map<string, Transfer>();
      for (const row of (tr?.rows ?? []) as TransferRow[]) loaded.set(row.id, transferFromRow(row));
      const accounts = new Map<string, Account>();
      for (const row of (ar?.rows ?? []) as AccountRow[]) accounts.set(row.id, accountFromRow(row));
      // The read above locks what the engine asks for; should it ever ask for more, lock that too.
      const asked = new Set(named);
      for (const id of pids) {
        const p = loaded.get(id);
        if (p) asked.add(p.debitAccountId).add(p.creditAccountId);
      }
      const more = accountIdsToLoad(transfers, loaded).filter((id) => !asked.has(id));
      if (more.length) for (const [id, a] of await this.loadAccounts(c, more, true)) accounts.set(id, a);
      const s: LedgerSnapshot = { transfers: loaded, accounts };
      const fx = applyTransfers(s, transfers, now);
      return { write: this.writeSql(s, fx), value: fx.results };
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
      const sql = this.writeSql(s, fx);
      if (sql) await c.query(sql);
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
