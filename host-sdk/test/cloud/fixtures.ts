import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '@handset/device-drivers/core';
import pg from 'pg';
import { type AuthInput, type ChargeInput, CloudCenter, type CloudPolicy } from '../../src/cloud/center';
import type { LedgerStore, TransferInput, TransferResult } from '../../src/cloud/ledger/index';
import { type CloudLogger, silentLogger } from '../../src/cloud/log';
import { SeedVault } from '../../src/cloud/registry/vault';
import { SimHandset } from '../../src/cloud/sim';
import { dropSchema } from '../../src/cloud/sql/pg';
import { type OpenStores, openStores } from '../../src/cloud/stores';

export { freePort } from '../../src/cloud/mqtt/mosquitto';

import { MosquittoDeployment, type SeenOutcome } from './mosquitto-deployment';

export { MosquittoDeployment, type SeenOutcome } from './mosquitto-deployment';

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

export interface LedgerFaults {
  createTransfers?: (
    ts: readonly TransferInput[],
    next: (ts: readonly TransferInput[]) => Promise<TransferResult[]>,
  ) => Promise<TransferResult[]>;
}

/**
 * How the World's handset and merchant messages reach the cloud: `direct` calls one
 * CloudCenter in-process; `mosquitto-2-workers` runs two CloudCenter workers, each with
 * its own store connections to the SAME store and its own MQTT ingest on the real
 * Mosquitto with `$share` subscriptions, and publishes every input on its topic.
 */
export const DEPLOYMENTS = ['direct', 'mosquitto-2-workers'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

export interface World {
  via: Deployment;
  /** Worker 1's center: registration, setup and operator actions (lock, orders, capture, refund). */
  center: CloudCenter;
  /** Every worker's center (one on the direct path). */
  centers: readonly CloudCenter[];
  alice: SimHandset;
  bob: SimHandset;
  merchant: string;
  /** Scan-to-pay authorisations, one outcome per input, in input order (over MQTT: published on `handset/v1/{id}/auth`). */
  authorise(inputs: readonly AuthInput[]): Promise<SeenOutcome[]>;
  /** Merchant pay-code charges (over MQTT: published on `merchant/v1/{id}/charges`). */
  charge(inputs: readonly ChargeInput[]): Promise<SeenOutcome[]>;
  /** The MQTT deployment (undefined on the direct path). */
  mqtt?: MosquittoDeployment;
  /**
   * Fault injection on every worker's ledger writes, inside or outside a unit of work:
   * set `createTransfers` to intercept (call `next` for the real write); unset falls through.
   */
  faults: LedgerFaults;
  cleanup: () => Promise<void>;
}

/** A center with two registered handsets (alice 1,000.00 EUR, bob 10.00 EUR) and merchant m-shop. */
export async function makeWorld(
  kind: StoreKind,
  clock: Clock,
  o: {
    logger?: CloudLogger;
    policy?: Partial<CloudPolicy>;
    stores?: OpenStores;
    via?: Deployment;
    /** Long-lived MQTT workers to reuse (else the World starts and stops its own). */
    deployment?: MosquittoDeployment;
  } = {},
): Promise<World & { stores: OpenStores }> {
  const via = o.via ?? 'direct';
  if (o.stores && via !== 'direct') throw new Error('a world over MQTT opens its own stores');
  const fresh = o.stores ? undefined : await freshStores(kind, clock);
  const stores = o.stores ?? fresh!.stores;
  const base = o.logger ?? silentLogger;
  const closers: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  closers.push(async () => fresh?.cleanup());
  const faults: LedgerFaults = {};
  const faulty = (l: LedgerStore): LedgerStore =>
    new Proxy(l, {
      get: (t, k) => {
        if (k === 'createTransfers')
          return (ts: readonly TransferInput[]) =>
            faults.createTransfers ? faults.createTransfers(ts, (x) => t.createTransfers(x)) : t.createTransfers(ts);
        const v = Reflect.get(t, k, t);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  try {
    const centerOn = (s: OpenStores, logger: CloudLogger) =>
      new CloudCenter({
        registry: s.registry,
        ledger: faulty(s.ledger),
        unitOfWork: s.unitOfWork && ((fn) => s.unitOfWork!((scope) => fn({ ...scope, ledger: faulty(scope.ledger) }))),
        vault: new SeedVault(TEST_KEY),
        clock,
        logger,
        policy: o.policy,
      });
    let centers: CloudCenter[];
    let mqtt: MosquittoDeployment | undefined;
    if (via === 'direct') centers = [centerOn(stores, base)];
    else {
      mqtt = o.deployment;
      if (!mqtt) {
        const own = new MosquittoDeployment(2);
        await own.start();
        closers.push(() => own.stop());
        mqtt = own;
      }
      // worker 2 (and any further) opens its own connections to the same SQLite files / PostgreSQL schema
      const more = await Promise.all(
        Array.from({ length: mqtt.workers - 1 }, () => openStores({ store: fresh!.spec, schema: fresh!.schema, clock })),
      );
      for (const m of more) closers.push(() => m.close());
      const dep = mqtt;
      centers = [stores, ...more].map((s, i) => centerOn(s, dep.workerLogger(i)));
      await dep.use(centers, base);
      // the workers finish what they hold before their stores close
      closers.push(() => dep.settle());
    }
    const center = centers[0]!;
    await center.createUser({ account: 'alice', currency: 'EUR' });
    await center.createUser({ account: 'bob', currency: 'EUR' });
    await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR', name: 'Corner Shop' });
    await center.deposit('alice', 100_000n, 'initial');
    await center.deposit('bob', 1_000n, 'initial');
    const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
    const bob = new SimHandset({ deviceId: 'hs-bob', account: 'bob' });
    for (const h of [alice, bob]) h.accept(await center.register(h.registrationRequest(clock.now())));
    return {
      via,
      center,
      centers,
      alice,
      bob,
      merchant: 'm-shop',
      stores,
      mqtt,
      faults,
      authorise: (inputs) => (mqtt ? mqtt.authorise(inputs) : center.authorise(inputs)),
      charge: (inputs) => (mqtt ? mqtt.charge(inputs) : center.charge(inputs)),
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
