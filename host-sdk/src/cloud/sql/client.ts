/**
 * A tiny SQL seam for the registry: one interface, two drivers (SQLite via
 * better-sqlite3, PostgreSQL via pg). Statements are written once with `?` placeholders
 * in the common dialect (both support ON CONFLICT, RETURNING); the pg driver renumbers
 * them to `$n`. `forUpdate` is ' FOR UPDATE' on PostgreSQL and '' on SQLite (where a
 * `BEGIN IMMEDIATE` transaction already holds the write lock).
 */
import { HandsetError } from '@handset/device-drivers/core';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { makePool, type PgConnectOptions, pgTransaction } from './pg';

export type SqlValue = string | number | bigint | null | Uint8Array;
export type Row = Record<string, unknown>;

export interface SqlQuery {
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  one<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a write; resolves to the number of rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  readonly forUpdate: string;
  readonly dialect: 'sqlite' | 'postgres';
}

export interface SqlClient extends SqlQuery {
  /** Runs `fn` in one durable transaction (retried on PostgreSQL serialization/unique conflicts). */
  tx<T>(fn: (q: SqlQuery) => Promise<T>): Promise<T>;
  /** Runs DDL (several statements). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

function storeError(err: unknown): HandsetError {
  if (err instanceof HandsetError) return err;
  return new HandsetError('STORE', `SQLite: ${(err as Error).message}`, { device: 'cloud', cause: err });
}

/** SQLite driver: WAL, synchronous FULL (or NORMAL), integers read back as bigint. Transactions are serialised by a mutex. */
export class SqliteClient implements SqlClient {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  readonly db: Database.Database;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly cache = new Map<string, Database.Statement>();

  /**
   * `synchronous`: FULL (default) fsyncs every commit; NORMAL survives a process crash
   * (WAL) but may lose the last commits on power loss / OS crash.
   */
  constructor(path: string, options: { synchronous?: 'FULL' | 'NORMAL' } = {}) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 10000');
    this.db.defaultSafeIntegers(true);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  private readonly direct: SqlQuery = {
    dialect: 'sqlite',
    forUpdate: '',
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => {
      try {
        return this.stmt(sql).all(...params) as T[];
      } catch (err) {
        throw storeError(err);
      }
    },
    one: async <T>(sql: string, params: readonly SqlValue[] = []) => {
      try {
        return this.stmt(sql).get(...params) as T | undefined;
      } catch (err) {
        throw storeError(err);
      }
    },
    run: async (sql: string, params: readonly SqlValue[] = []) => {
      try {
        return this.stmt(sql).run(...params).changes;
      } catch (err) {
        throw storeError(err);
      }
    },
  };

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.serial(() => this.direct.all<T>(sql, params));
  }
  one<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.serial(() => this.direct.one<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.serial(() => this.direct.run(sql, params));
  }

  tx<T>(fn: (q: SqlQuery) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.direct);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async exec(sql: string): Promise<void> {
    await this.serial(async () => this.db.exec(sql));
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      if (this.db.open) this.db.close();
    });
  }
}

const renumber = (sql: string): string => {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
};

const pgParams = (params: readonly SqlValue[]): unknown[] =>
  params.map((p) => (typeof p === 'bigint' ? p.toString() : p instanceof Uint8Array ? Buffer.from(p) : p));

function pgQuery(c: pg.Pool | pg.PoolClient): SqlQuery {
  return {
    dialect: 'postgres',
    forUpdate: ' FOR UPDATE',
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => (await c.query(renumber(sql), pgParams(params))).rows as T[],
    one: async <T>(sql: string, params: readonly SqlValue[] = []) =>
      (await c.query(renumber(sql), pgParams(params))).rows[0] as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) => (await c.query(renumber(sql), pgParams(params))).rowCount ?? 0,
  };
}

/** PostgreSQL driver; every table lives in `schema` (set as the search_path of each connection). */
export class PgClient implements SqlClient {
  readonly dialect = 'postgres' as const;
  readonly forUpdate = ' FOR UPDATE';
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly owned: boolean;
  private readonly q: SqlQuery;

  constructor(options: PgConnectOptions & { schema: string }) {
    const { pool, owned } = makePool(options);
    this.pool = pool;
    this.owned = owned;
    this.schema = options.schema;
    this.q = pgQuery(pool);
  }

  private wrap<T>(p: Promise<T>): Promise<T> {
    return p.catch((err) => {
      if (err instanceof HandsetError) throw err;
      throw new HandsetError('STORE', `PostgreSQL: ${(err as Error).message}`, { device: 'cloud', cause: err });
    });
  }

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.wrap(this.q.all<T>(sql, params));
  }
  one<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.wrap(this.q.one<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.wrap(this.q.run(sql, params));
  }
  tx<T>(fn: (q: SqlQuery) => Promise<T>): Promise<T> {
    return pgTransaction(this.pool, (c) => fn(pgQuery(c)));
  }
  async exec(sql: string): Promise<void> {
    await this.wrap(this.pool.query(sql));
  }
  async close(): Promise<void> {
    if (this.owned) await this.pool.end();
  }
}
