import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '@handset/device-drivers/core';
import pg from 'pg';
import { CloudCenter, type CloudPolicy } from '../../src/cloud/center';
import type { CloudLogger } from '../../src/cloud/log';
import { SeedVault } from '../../src/cloud/registry/vault';
import { SimHandset } from '../../src/cloud/sim';
import { dropSchema } from '../../src/cloud/sql/pg';
import { type OpenStores, openStores } from '../../src/cloud/stores';

export const PG_URL = process.env.HANDSET_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const STORE_KINDS = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Fresh stores of a kind: a temp SQLite directory, or a random PostgreSQL schema; `cleanup` removes them. */
export async function freshStores(
  kind: StoreKind,
  clock: Clock,
  groupCommit = true,
): Promise<{ stores: OpenStores; spec: string; schema?: string; cleanup: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'cloud-'));
    const spec = `sqlite:${dir}`;
    const stores = await openStores({ store: spec, clock, groupCommit });
    return {
      stores,
      spec,
      cleanup: async () => {
        await stores.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_cloud_${randomBytes(6).toString('hex')}`;
  const stores = await openStores({ store: PG_URL, schema, clock, groupCommit });
  return {
    stores,
    spec: PG_URL,
    schema,
    cleanup: async () => {
      await stores.close();
      const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
      await dropSchema(pool, schema);
      await pool.end();
    },
  };
}

export const TEST_KEY = new Uint8Array(32).fill(7);

export interface World {
  center: CloudCenter;
  alice: SimHandset;
  bob: SimHandset;
  merchant: string;
  cleanup: () => Promise<void>;
}

/** A center with two registered handsets (alice 1,000.00 EUR, bob 10.00 EUR) and merchant m-shop. */
export async function makeWorld(
  kind: StoreKind,
  clock: Clock,
  o: { logger?: CloudLogger; policy?: Partial<CloudPolicy>; stores?: OpenStores } = {},
): Promise<World & { stores: OpenStores }> {
  const fresh = o.stores ? undefined : await freshStores(kind, clock);
  const stores = o.stores ?? fresh!.stores;
  const center = new CloudCenter({
    registry: stores.registry,
    ledger: stores.ledger,
    vault: new SeedVault(TEST_KEY),
    clock,
    logger: o.logger,
    policy: o.policy,
  });
  await center.createUser({ account: 'alice', currency: 'EUR' });
  await center.createUser({ account: 'bob', currency: 'EUR' });
  await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR', name: 'Corner Shop' });
  await center.deposit('alice', 100_000n, 'initial');
  await center.deposit('bob', 1_000n, 'initial');
  const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
  const bob = new SimHandset({ deviceId: 'hs-bob', account: 'bob' });
  for (const h of [alice, bob]) h.accept(await center.register(h.registrationRequest(clock.now())));
  return { center, alice, bob, merchant: 'm-shop', stores, cleanup: async () => fresh?.cleanup() };
}

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}
