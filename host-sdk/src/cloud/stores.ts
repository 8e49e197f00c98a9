import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, systemClock, ValidationError } from '@handset/device-drivers/core';
import Database from 'better-sqlite3';
import { GroupCommitLedger, type LedgerStore, PgLedgerStore, SqliteLedgerStore } from './ledger/index';
import { type RegistryStore, SqlRegistry } from './registry/index';
import { PgClient, SqliteClient } from './sql/client';
import { makePool } from './sql/pg';
import { SqliteFile } from './sql/sqlite-file';

/** The stores as one unit of work sees them: every call joins the enclosing transaction. */
export interface StoreScope {
  registry: RegistryStore;
  ledger: LedgerStore;
}

/**
 * Runs `fn` as ONE transaction over both stores (committed if it resolves, rolled back
 * if it throws): the embedded SQLite file decides a whole payment batch with one commit
 * and one fsync. Stores that cannot share a transaction (PostgreSQL: the ledger and the
 * registry use separate connections) have none, and callers run step by step.
 */
export type UnitOfWork = <T>(fn: (scope: StoreScope) => Promise<T>) => Promise<T>;

export interface StoreSpecOptions {
  /**
   * `sqlite:DIR` (a directory: the ledger and the registry in one file, `DIR/cloud.db`;
   * `sqlite::memory:` for throwaway runs) or a `postgres://...` URL. Default
   * `sqlite:.handset/cloud`. A directory from before the one-file layout (`ledger.db`,
   * `registry.db`) is copied into `cloud.db` once and the old files are renamed `*.migrated`.
   */
  store?: string;
  /** PostgreSQL schema (tests use a random one). Default `handset`. */
  schema?: string;
  clock?: Clock;
  /** Group commit in front of the ledger (default true). */
  groupCommit?: boolean;
}

export interface OpenStores {
  ledger: LedgerStore;
  registry: RegistryStore;
  kind: 'sqlite' | 'postgres';
  /** Both stores in one transaction, where the store can (SQLite). */
  unitOfWork?: UnitOfWork;
  close(): Promise<void>;
}

/**
 * What a store spec names: a SQLite file (`sqlite:DIR`), SQLite in memory
 * (`sqlite::memory:`), PostgreSQL (`postgres://...`), or nothing valid (`undefined`).
 */
export function storeKindOf(spec: string): 'sqlite-file' | 'sqlite-memory' | 'postgres' | undefined {
  if (spec === 'sqlite::memory:') return 'sqlite-memory';
  if (spec.startsWith('sqlite:')) return 'sqlite-file';
  return /^postgres(ql)?:\/\//.test(spec) ? 'postgres' : undefined;
}

/** Opens the ledger and registry named by a store spec, creating tables as needed. */
export async function openStores(o: StoreSpecOptions = {}): Promise<OpenStores> {
  const spec = o.store ?? 'sqlite:.handset/cloud';
  const clock = o.clock ?? systemClock;
  const group = o.groupCommit ?? true;
  let ledger: LedgerStore;
  let registry: RegistryStore;
  let kind: 'sqlite' | 'postgres';
  let unitOfWork: UnitOfWork | undefined;
  let extra = async () => {};
  const named = storeKindOf(spec);
  if (named === 'sqlite-file' || named === 'sqlite-memory') {
    kind = 'sqlite';
    const dir = spec.slice('sqlite:'.length);
    const memory = dir === ':memory:';
    if (!memory) mkdirSync(dir, { recursive: true });
    const file = new SqliteFile(memory ? ':memory:' : join(dir, 'cloud.db'));
    const sqliteLedger = new SqliteLedgerStore({ path: file, clock });
    const client = new SqliteClient(file);
    ledger = sqliteLedger;
    registry = new SqlRegistry(client);
    await registry.init();
    if (!memory) migrateTwoFileLayout(dir, file);
    const scope: StoreScope = { registry: new SqlRegistry(client.joined()), ledger: sqliteLedger.joined() };
    unitOfWork = (fn) => file.transaction(() => fn(scope));
    extra = () => file.close();
  } else if (named === 'postgres') {
    kind = 'postgres';
    const { pool } = makePool({ connectionString: spec, max: 10 });
    const schema = o.schema ?? 'handset';
    ledger = new PgLedgerStore({ pool, schema, clock });
    registry = new SqlRegistry(new PgClient({ pool, schema }));
    await (ledger as PgLedgerStore).init();
    extra = () => pool.end();
  } else {
    throw new ValidationError(`store must be sqlite:PATH or postgres://..., got ${JSON.stringify(spec)}`, {
      code: 'BAD_STORE',
      device: 'cloud',
    });
  }
  if (kind === 'postgres') await registry.init();
  if (group) ledger = new GroupCommitLedger(ledger);
  return {
    ledger,
    registry,
    kind,
    unitOfWork,
    async close() {
      await ledger.close();
      await registry.close();
      await extra();
    },
  };
}

/**
 * Folds a directory of the two-file layout (`ledger.db` + `registry.db`, before the
 * stores shared one file) into `cloud.db`: each old file's WAL is checkpointed, every
 * row of every table the new file also has is copied (`INSERT OR IGNORE`, so a copy cut
 * short by a crash is simply done again), and the old file is renamed `*.migrated`.
 */
function migrateTwoFileLayout(dir: string, file: SqliteFile): void {
  for (const name of ['ledger.db', 'registry.db']) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const old = new Database(path);
    old.pragma('wal_checkpoint(TRUNCATE)');
    old.close();
    const db = file.db;
    db.prepare('ATTACH DATABASE ? AS legacy').run(path);
    try {
      const tables = db.prepare("SELECT name FROM legacy.sqlite_master WHERE type = 'table'").pluck().all() as string[];
      db.transaction(() => {
        for (const t of tables) {
          const cols = (db.prepare(`PRAGMA main.table_info("${t}")`).all() as Array<{ name: string }>).map((c) => c.name);
          if (!cols.length) continue;
          const have = new Set(
            (db.prepare(`PRAGMA legacy.table_info("${t}")`).all() as Array<{ name: string }>).map((c) => c.name),
          );
          const common = cols
            .filter((c) => have.has(c))
            .map((c) => `"${c}"`)
            .join(', ');
          db.exec(`INSERT OR IGNORE INTO main."${t}" (${common}) SELECT ${common} FROM legacy."${t}"`);
        }
      })();
    } finally {
      db.exec('DETACH DATABASE legacy');
    }
    renameSync(path, `${path}.migrated`);
  }
}
