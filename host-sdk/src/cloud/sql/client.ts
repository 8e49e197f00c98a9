/**
 * A tiny SQL seam for the registry: one interface, two drivers (SQLite via
 * better-sqlite3, PostgreSQL via pg). Statements are written once with `?` placeholders
 * in the common dialect (both support ON CONFLICT, RETURNING); the pg driver renumbers
 * them to `$n`. `forUpdate` is ' FOR UPDATE' on PostgreSQL and '' on SQLite (where a
 * `BEGIN IMMEDIATE` transaction already holds the write lock).
 */
import { HandsetError } from '@handset/device-drivers/core';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { makePool, type PgConnectOptions, pgTransaction } from './pg';
import { SqliteFile, type SqliteFileOptions } from './sqlite-file';

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

/**
 * SQLite driver: WAL, synchronous FULL (or NORMAL), integers read back as bigint.
 * Transactions are serialised on the connection (`SqliteFile.serial`). Given a shared
 * `SqliteFile`, the client leaves closing it to its owner.
 */
export class SqliteClient implements SqlClient {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  readonly file: SqliteFile;
  private readonly owned: boolean;
  private readonly cache = new Map<string, Database.Statement>();
  private joinedView: SqlClient | undefined;

  /**
   * `synchronous` (only when opening a path): FULL (default) fsyncs every commit; NORMAL
   * survives a process crash (WAL) but may lose the last commits on power loss / OS crash.
   */
  constructor(file: string | SqliteFile, options: SqliteFileOptions = {}) {
    this.owned = typeof file === 'string';
    this.file = typeof file === 'string' ? new SqliteFile(file, options) : file;
  }

  get db(): Database.Database {
    return this.file.db;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql).safeIntegers(true);
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

  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.file.serial(() => this.direct.all<T>(sql, params));
  }
  one<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.file.serial(() => this.direct.one<T>(sql, params));
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.file.serial(() => this.direct.run(sql, params));
  }

  tx<T>(fn: (q: SqlQuery) => Promise<T>): Promise<T> {
    return this.file.transaction(() => fn(this.direct));
  }

  /**
   * The client for code that already holds the connection inside `file.transaction`:
   * statements run at once, and `tx` is a savepoint of the enclosing transaction.
   */
  joined(): SqlClient {
    this.joinedView ??= {
      ...this.direct,
      tx: async <T>(fn: (q: SqlQuery) => Promise<T>): Promise<T> => {
        if (!this.db.inTransaction)
          throw new HandsetError('STORE', 'joined SQLite client used outside a transaction', { device: 'cloud' });
        this.db.exec('SAVEPOINT registry');
        try {
          const out = await fn(this.direct);
          this.db.exec('RELEASE registry');
          return out;
        } catch (err) {
          this.db.exec('ROLLBACK TO registry');
          this.db.exec('RELEASE registry');
          throw err;
        }
      },
      exec: async (sql: string) => {
        this.db.exec(sql);
      },
      close: async () => undefined,
    };
    return this.joinedView;
  }

  async exec(sql: string): Promise<void> {
    await this.file.serial(() => this.db.exec(sql));
  }

  async close(): Promise<void> {
    if (this.owned) await this.file.close();
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
