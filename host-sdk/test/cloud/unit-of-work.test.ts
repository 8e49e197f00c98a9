/**
 * The embedded store's unit of work: the ledger and the registry in one SQLite file, and
 * a payment batch decided in ONE transaction (one commit, one fsync). Also: a failure
 * anywhere in the batch leaves nothing behind, other users of the connection wait for
 * the unit of work, and a directory of the old two-file layout is folded in once.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@handset/device-drivers/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudCenter } from '../../src/cloud/center';
import { ledgerIds } from '../../src/cloud/ids';
import { type LedgerStore, SqliteLedgerStore } from '../../src/cloud/ledger/index';
import { SqlRegistry } from '../../src/cloud/registry/index';
import { SeedVault } from '../../src/cloud/registry/vault';
import { SimHandset } from '../../src/cloud/sim';
import { SqliteClient } from '../../src/cloud/sql/client';
import { type OpenStores, openStores } from '../../src/cloud/stores';
import { nodeCrypto } from '../../src/protocol/index';
import { TEST_KEY } from './fixtures';

const dirs: string[] = [];
const opened: OpenStores[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'uow-'));
  dirs.push(d);
  return d;
}

async function world(dir = tempDir(), wrap?: (l: LedgerStore) => LedgerStore) {
  const clock = new ManualClock({ autoAdvance: false });
  const stores = await openStores({ store: `sqlite:${dir}`, clock });
  opened.push(stores);
  const uow = stores.unitOfWork!;
  const make = (w?: (l: LedgerStore) => LedgerStore) =>
    new CloudCenter({
      registry: stores.registry,
      ledger: stores.ledger,
      unitOfWork: w ? (fn) => uow((s) => fn({ ...s, ledger: w(s.ledger) })) : uow,
      vault: new SeedVault(TEST_KEY),
      clock,
    });
  const center = make();
  await center.createUser({ account: 'alice', currency: 'EUR' });
  await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
  await center.deposit('alice', 100_000n, 'initial');
  const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
  alice.accept(await center.register(alice.registrationRequest(clock.now())));
  const faulty = wrap ? make(wrap) : center;
  const balance = async (id: string) => {
    const [a] = await stores.ledger.lookupAccounts([id]);
    return a ? a.creditsPosted - a.debitsPosted : undefined;
  };
  const file = (stores.registry as SqlRegistry).client as SqliteClient;
  return { clock, stores, center, faulty, alice, balance, file: file.file, dir };
}

describe('unit of work on the embedded SQLite file', () => {
  it('keeps the ledger and the registry in one file and decides a batch of 20 in one commit', async () => {
    const { clock, center, alice, balance, file, dir } = await world();
    expect(existsSync(join(dir, 'cloud.db'))).toBe(true);
    expect(existsSync(join(dir, 'ledger.db'))).toBe(false);
    const auths = [];
    for (let i = 0; i < 20; i++) {
      await center.createOrder({ merchantId: 'm-shop', orderRef: `o-${i}`, amount: 100n + BigInt(i), currency: 'EUR' });
      auths.push({
        payload: alice.authorise({
          merchantId: 'm-shop',
          orderRef: `o-${i}`,
          amount: 100n + BigInt(i),
          currency: 'EUR',
          nowMs: clock.now(),
        }),
      });
    }
    const sql: string[] = [];
    const exec = file.db.exec.bind(file.db);
    file.db.exec = (s: string) => {
      sql.push(s);
      return exec(s);
    };
    const out = await center.authorise(auths);
    file.db.exec = exec;
    expect(out.every((o) => o.kind === 'result' && o.result.status === 'approved')).toBe(true);
    expect(sql.filter((s) => s === 'COMMIT')).toHaveLength(1);
    expect(sql.filter((s) => s.startsWith('BEGIN'))).toHaveLength(1);
    expect(await balance(ledgerIds.merchant('m-shop'))).toBe(20n * 100n + 190n);
    expect((await center.checkInvariants()).violations).toEqual([]);
  });

  it('batches that arrive together are decided in one unit of work; one payment in two of them is booked once', async () => {
    const { clock, stores, alice, balance, file } = await world();
    // signatures checked inline, so all three batches reach the decision in the same turn
    const center = new CloudCenter({
      registry: stores.registry,
      ledger: stores.ledger,
      unitOfWork: stores.unitOfWork,
      vault: new SeedVault(TEST_KEY),
      clock,
      verifier: async (checks) => checks.map((c) => nodeCrypto.ed25519Verify(c.publicKey, c.message, c.signature)),
    });
    const auth = (i: number) =>
      alice.authorise({ merchantId: 'm-shop', orderRef: `g-${i}`, amount: 10n + BigInt(i), currency: 'EUR', nowMs: clock.now() });
    for (let i = 0; i < 9; i++)
      await center.createOrder({ merchantId: 'm-shop', orderRef: `g-${i}`, amount: 10n + BigInt(i), currency: 'EUR' });
    const a = Array.from({ length: 9 }, (_, i) => ({ payload: auth(i) }));
    const sql: string[] = [];
    const exec = file.db.exec.bind(file.db);
    file.db.exec = (s: string) => {
      sql.push(s);
      return exec(s);
    };
    // three ingest batches in flight at once; the last one repeats a payment of the first
    const outs = await Promise.all([
      center.authorise(a.slice(0, 3)),
      center.authorise(a.slice(3, 6)),
      center.authorise([...a.slice(6), a[0]!]),
    ]);
    file.db.exec = exec;
    expect(sql.filter((s) => s === 'COMMIT')).toHaveLength(1);
    const results = outs.flat().map((o) => (o.kind === 'result' ? o : undefined));
    expect(results.every((o) => o?.result.status === 'approved')).toBe(true);
    expect(results.map((o) => o?.replayed)).toEqual([false, false, false, false, false, false, false, false, false, true]);
    expect(results[9]?.result).toEqual(results[0]?.result);
    expect(await balance(ledgerIds.merchant('m-shop'))).toBe(9n * 10n + 36n);
    expect((await center.checkInvariants()).violations).toEqual([]);
  });

  it('a failure after the booking rolls the whole batch back; redelivery books once', async () => {
    let fail = true;
    const dying = (l: LedgerStore): LedgerStore => ({
      ...l,
      createTransfers: async (ts) => {
        const r = await l.createTransfers(ts);
        if (fail) {
          fail = false;
          throw new Error('killed after the ledger write');
        }
        return r;
      },
    });
    const { clock, center, faulty, alice, balance } = await world(undefined, dying);
    await center.createOrder({ merchantId: 'm-shop', orderRef: 'o-1', amount: 300n, currency: 'EUR' });
    const a = alice.authorise({ merchantId: 'm-shop', orderRef: 'o-1', amount: 300n, currency: 'EUR', nowMs: clock.now() });
    await expect(faulty.authorise([{ payload: a }])).rejects.toThrow('killed after the ledger write');
    expect(await center.registry.read.getPayment(a.paymentId)).toBeUndefined();
    expect((await center.registry.read.getOrder('m-shop', 'o-1'))?.paymentId).toBeNull();
    expect((await center.registry.read.getDevice('hs-alice'))?.lastCounter).toBe(0);
    expect(await balance(ledgerIds.merchant('m-shop'))).toBe(0n);
    const [o] = await center.authorise([{ payload: a }]);
    expect(o?.kind === 'result' && o.result).toMatchObject({ status: 'approved', bookedAmount: 300n });
    const [again] = await center.authorise([{ payload: a }]);
    expect(again?.kind === 'result' && again.replayed).toBe(true);
    expect(await balance(ledgerIds.merchant('m-shop'))).toBe(300n);
    expect((await center.checkInvariants()).violations).toEqual([]);
  });

  it('other users of the connection wait for the unit of work and never see its rolled-back writes', async () => {
    const { stores, balance } = await world();
    const id = ledgerIds.user('alice');
    const order: string[] = [];
    const work = stores.unitOfWork!(async (s) => {
      await s.ledger.createTransfers([
        {
          id: 'd-inside',
          debitAccountId: ledgerIds.issuer('EUR'),
          creditAccountId: id,
          amount: 5n,
          currency: 'EUR',
          code: 3,
        },
      ]);
      await new Promise((r) => setTimeout(r, 30));
      order.push('work');
      throw new Error('abandoned');
    });
    const outside = balance(id).then((b) => {
      order.push('outside');
      return b;
    });
    await expect(work).rejects.toThrow('abandoned');
    expect(await outside).toBe(100_000n);
    expect(order).toEqual(['work', 'outside']);
    expect(await stores.ledger.lookupTransfers(['d-inside'])).toEqual([]);
  });

  it('folds a directory of the two-file layout into cloud.db once, losing nothing', async () => {
    const dir = tempDir();
    const clock = new ManualClock({ autoAdvance: false });
    // the layout before one file: ledger.db + registry.db, written by the stores themselves
    const ledger = new SqliteLedgerStore({ path: join(dir, 'ledger.db'), clock });
    const registry = new SqlRegistry(new SqliteClient(join(dir, 'registry.db')));
    await registry.init();
    const old = new CloudCenter({ registry, ledger, vault: new SeedVault(TEST_KEY), clock });
    await old.createUser({ account: 'alice', currency: 'EUR' });
    await old.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
    await old.deposit('alice', 100_000n, 'initial');
    const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
    alice.accept(await old.register(alice.registrationRequest(clock.now())));
    await old.createOrder({ merchantId: 'm-shop', orderRef: 'o-1', amount: 700n, currency: 'EUR' });
    const a = alice.authorise({ merchantId: 'm-shop', orderRef: 'o-1', amount: 700n, currency: 'EUR', nowMs: clock.now() });
    const [first] = await old.authorise([{ payload: a }]);
    await ledger.close();
    await registry.close();

    const w = await world(dir);
    expect(existsSync(join(dir, 'ledger.db.migrated'))).toBe(true);
    expect(existsSync(join(dir, 'registry.db.migrated'))).toBe(true);
    expect(existsSync(join(dir, 'ledger.db'))).toBe(false);
    expect((await w.center.registry.read.getPayment(a.paymentId))?.status).toBe('approved');
    expect(await w.balance(ledgerIds.merchant('m-shop'))).toBe(700n);
    expect(await w.balance(ledgerIds.user('alice'))).toBe(99_300n);
    // the payment replays its first outcome from the folded file: not booked again
    const [o] = await w.center.authorise([{ payload: a }]);
    expect(o?.kind === 'result' && o.replayed).toBe(true);
    expect(o?.kind === 'result' && o.result).toEqual(first?.kind === 'result' && first.result);
    expect((await w.center.checkInvariants()).violations).toEqual([]);
  });
});
