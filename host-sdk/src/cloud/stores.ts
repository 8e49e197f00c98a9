import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Clock, systemClock, ValidationError } from '@handset/device-drivers/core';
import { GroupCommitLedger, type LedgerStore, PgLedgerStore, SqliteLedgerStore } from './ledger/index';
import { type RegistryStore, SqlRegistry } from './registry/index';
import { PgClient, SqliteClient } from './sql/client';
import { makePool } from './sql/pg';

export interface StoreSpecOptions {
  /**
   * `sqlite:PATH` (a directory: `ledger.db` and `registry.db` inside it; `sqlite::memory:`
   * for throwaway runs) or a `postgres://...` URL. Default `sqlite:.handset/cloud`.
   */
  store?: string;
  /** PostgreSQL schema (tests use a random one). Default `handset`. */
  schema?: string;
  clock?: Clock;
  /** Group commit in front of the ledger (default true). */
  groupCommit?: boolean;
  /**
   * SQLite registry durability. The ledger is always FULL and is the source of truth
   * for money; 'NORMAL' saves the registry's two fsyncs per batch and, after a power
   * loss, the center re-derives an approval from the ledger (`payment.reconciled`).
   * A declined payment or a device counter of the last moments before the power loss
   * may be forgotten. Default 'FULL'.
   */
  registrySync?: 'FULL' | 'NORMAL';
}

export interface OpenStores {
  ledger: LedgerStore;
  registry: RegistryStore;
  kind: 'sqlite' | 'postgres';
  close(): Promise<void>;
}

/** Opens the ledger and registry named by a store spec, creating tables as needed. */
export async function openStores(o: StoreSpecOptions = {}): Promise<OpenStores> {
  const spec = o.store ?? 'sqlite:.handset/cloud';
  const clock = o.clock ?? systemClock;
  const group = o.groupCommit ?? true;
  let ledger: LedgerStore;
  let registry: RegistryStore;
  let kind: 'sqlite' | 'postgres';
  let extra = async () => {};
  if (spec.startsWith('sqlite:')) {
    kind = 'sqlite';
    const dir = spec.slice('sqlite:'.length);
    const memory = dir === ':memory:';
    if (!memory) mkdirSync(dir, { recursive: true });
    const file = (name: string) => (memory ? ':memory:' : join(dir, name));
    if (!memory) mkdirSync(dirname(file('x')), { recursive: true });
    ledger = new SqliteLedgerStore({ path: file('ledger.db'), clock });
    registry = new SqlRegistry(new SqliteClient(file('registry.db'), { synchronous: o.registrySync ?? 'FULL' }));
  } else if (/^postgres(ql)?:\/\//.test(spec)) {
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
  await registry.init();
  if (group) ledger = new GroupCommitLedger(ledger);
  return {
    ledger,
    registry,
    kind,
    async close() {
      await ledger.close();
      await registry.close();
      await extra();
    },
  };
}
