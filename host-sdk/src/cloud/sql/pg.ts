/** PostgreSQL plumbing shared by the PostgreSQL stores: pool, schema, retried transactions. */
import { HandsetError, ValidationError } from '@handset/device-drivers/core';
import pg from 'pg';

export interface PgConnectOptions {
  /** e.g. `postgres://postgres@127.0.0.1:5432/test`. Ignored when `pool` is given. */
  connectionString?: string;
  /** Share one pool between stores; the store then does not end it on close(). */
  pool?: pg.Pool;
  /** Schema holding the tables (created if missing). Default `handset`. */
  schema?: string;
  /** Pool size when the store creates the pool. Default 8. */
  max?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new ValidationError(`bad PostgreSQL schema name '${schema}'`, { device: 'cloud' });
  return schema;
}

export function makePool(o: PgConnectOptions): { pool: pg.Pool; owned: boolean } {
  if (o.pool) return { pool: o.pool, owned: false };
  const pool = new pg.Pool({
    connectionString: o.connectionString ?? 'postgres://postgres@127.0.0.1:5432/test',
    max: o.max ?? 8,
  });
  pool.on('error', () => {
    /* idle client errors (server restart) surface on the next query */
  });
  return { pool, owned: true };
}

/** SQLSTATEs after which the whole transaction is safely retried. */
const RETRYABLE = new Set(['40001', '40P01', '23505']);

/**
 * Runs `fn` in one transaction (READ COMMITTED; row locks taken by `fn`), retrying on
 * serialization failures, deadlocks and unique violations (a concurrent writer inserted
 * the same id: the retry then sees it and replays the first outcome).
 */
export function pgTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>, attempts = 8): Promise<T> {
  return retried(pool, attempts, async (c) => {
    await c.query('BEGIN');
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  });
}

/**
 * One pooled connection per attempt: `attempt` runs a whole transaction (BEGIN .. COMMIT)
 * on it; an error rolls back, and the SQLSTATEs in RETRYABLE start a fresh attempt. Other
 * errors surface as typed STORE errors.
 */
async function retried<T>(pool: pg.Pool, attempts: number, attempt: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    const c = await pool.connect();
    try {
      const out = await attempt(c);
      c.release();
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      c.release();
      const code = (err as { code?: string }).code;
      if (i < attempts && code && RETRYABLE.has(code)) continue;
      if (err instanceof HandsetError) throw err;
      throw new HandsetError('STORE', `PostgreSQL: ${(err as Error).message}`, {
        device: 'cloud',
        cause: err,
        details: { code },
      });
    }
  }
}

/** Inlines a value as an SQL literal for the simple-query protocol (text escaped by node-pg). */
export function sqlLiteral(v: string | number | bigint | null): string {
  if (v === null) return 'NULL';
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new ValidationError(`not an integer: ${v}`, { device: 'cloud' });
  // parenthesised when negative: `::` binds tighter than unary minus
  if (typeof v === 'bigint' || typeof v === 'number') return v < 0 ? `(${v})` : String(v);
  return pg.escapeLiteral(v);
}

/** An SQL text array literal: `ARRAY['a','b']::text[]`. */
export const sqlTextArray = (xs: readonly string[]): string => `ARRAY[${xs.map(sqlLiteral).join(',')}]::text[]`;

/**
 * One transaction in two round trips, for the hot path: `BEGIN; <read>` in one
 * simple-query message (the locking reads), then `decide` runs on the client with the
 * locks held and returns the statements to write; they go out with `COMMIT` in the
 * second message. Values are inlined with `sqlLiteral` (the simple protocol takes no
 * parameters). An error anywhere rolls back; the same SQLSTATEs as `pgTransaction`
 * retry the whole transaction (a retry reads again and `decide` decides again).
 */
export function pgTwoStep<T>(
  pool: pg.Pool,
  read: string,
  decide: (results: pg.QueryResult[], c: pg.PoolClient) => { write: string; value: T } | Promise<{ write: string; value: T }>,
  attempts = 8,
): Promise<T> {
  return retried(pool, attempts, async (c) => {
    const r = (await c.query(`BEGIN;${read}`)) as unknown as pg.QueryResult | pg.QueryResult[];
    const results = Array.isArray(r) ? r.slice(1) : [];
    const { write, value } = await decide(results, c);
    await c.query(write ? `${write};COMMIT` : 'COMMIT');
    return value;
  });
}

export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${checkSchemaName(schema)}" CASCADE`);
}
