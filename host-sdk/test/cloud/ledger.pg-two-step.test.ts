/**
 * The PostgreSQL store's two-round-trip path (`pgTwoStep` + values inlined as SQL
 * literals): hostile strings round-trip exactly and cannot change the statement, a
 * post of a pending transfer that names no accounts locks the pending's accounts, and
 * the transaction is retried on a conflict SQLSTATE and rolled back on anything else.
 */
import { randomBytes } from 'node:crypto';
import { HandsetError, ManualClock } from '@handset/device-drivers/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedgerInvariants, PgLedgerStore } from '../../src/cloud/ledger/index';
import { dropSchema, pgTwoStep, sqlLiteral, sqlTextArray } from '../../src/cloud/sql/pg';

const PG_URL = process.env.HANDSET_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const HOSTILE = [
  "o'brien",
  'back\\slash',
  "\\'; DROP TABLE ledger_transfers; --",
  "'); DELETE FROM ledger_accounts; --",
  "$$ $tag$ E'x' ",
  'ünïcødé ✓ 🧾',
  'line\nbreak\ttab',
];

describe('PostgreSQL ledger: two round trips, inlined literals', () => {
  const schema = `t_two_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const clock = new ManualClock({ autoAdvance: false });
  const store = new PgLedgerStore({ pool, schema, clock });

  beforeAll(async () => {
    await store.init();
  });
  afterAll(async () => {
    await dropSchema(pool, schema);
    await pool.end();
  });

  it('sqlLiteral renders what PostgreSQL reads back unchanged', async () => {
    for (const s of HOSTILE) {
      const r = await pool.query(`SELECT ${sqlLiteral(s)} AS v, ${sqlTextArray([s, 'b'])} AS a`);
      expect(r.rows[0].v).toBe(s);
      expect(r.rows[0].a).toEqual([s, 'b']);
    }
    const r = await pool.query(`SELECT ${sqlLiteral(-(2n ** 63n))}::int8 AS lo, ${sqlLiteral(null)} AS n`);
    expect(r.rows[0]).toEqual({ lo: '-9223372036854775808', n: null });
    expect(() => sqlLiteral(1.5)).toThrow(HandsetError);
  });

  it('hostile ids, currencies and user data are stored and found exactly', async () => {
    const accounts = HOSTILE.map((id, i) => ({ id: `acct ${id}`, currency: HOSTILE[i % 2] ?? 'x', code: 1 }));
    const made = await store.createAccounts(accounts);
    expect(made.every((r) => r.result === 'ok')).toBe(true);
    const transfers = HOSTILE.map((id, i) => ({
      id,
      debitAccountId: `acct ${HOSTILE[i % 2 === 0 ? 2 : 3]}`,
      creditAccountId: `acct ${HOSTILE[i % 2 === 0 ? 4 : 5]}`,
      amount: 10n + BigInt(i),
      currency: accounts[i % 2 === 0 ? 2 : 3]?.currency ?? '',
      code: 1,
      userData: `ud ${id}`,
    }));
    // the accounts of each transfer share a currency: 2,4 -> HOSTILE[0]; 3,5 -> HOSTILE[1]
    const first = await store.createTransfers(transfers);
    expect(first.map((r) => r.result)).toEqual(transfers.map(() => 'ok'));
    const again = await store.createTransfers(transfers);
    expect(again.every((r) => r.result === 'ok' && r.replayed)).toBe(true);
    const found = await store.lookupTransfers(HOSTILE);
    expect(found.map((t) => [t.id, t.userData])).toEqual(HOSTILE.map((id) => [id, `ud ${id}`]));
    for (const id of HOSTILE) expect((await store.transfersByUserData(`ud ${id}`)).map((t) => t.id)).toEqual([id]);
    const { accounts: all, transfers: booked } = await store.dump();
    expect(all).toHaveLength(HOSTILE.length);
    expect(booked).toHaveLength(HOSTILE.length);
    expect((await checkLedgerInvariants(store)).violations).toEqual([]);
  });

  it('a post that names no accounts locks and moves the pending transfer accounts', async () => {
    await store.createAccounts([
      { id: 'p-from', currency: 'EUR', code: 1 },
      { id: 'p-to', currency: 'EUR', code: 2 },
    ]);
    const hold = await store.createTransfers([
      {
        id: 'p-hold',
        debitAccountId: 'p-from',
        creditAccountId: 'p-to',
        amount: 50n,
        currency: 'EUR',
        code: 1,
        flags: { pending: true },
      },
    ]);
    expect(hold[0]?.result).toBe('ok');
    const post = await store.createTransfers([
      { id: 'p-post', pendingId: 'p-hold', amount: 30n, currency: 'EUR', code: 1, flags: { postPending: true } },
    ]);
    expect(post[0]?.result).toBe('ok');
    const [from, to] = await store.lookupAccounts(['p-from', 'p-to']);
    expect([from?.debitsPosted, from?.debitsPending, to?.creditsPosted, to?.creditsPending]).toEqual([30n, 0n, 30n, 0n]);
  });

  it('retries the whole transaction on a conflict SQLSTATE, then commits once', async () => {
    await pool.query(`CREATE TABLE "${schema}".two_step (k TEXT PRIMARY KEY, n INT)`);
    let calls = 0;
    const out = await pgTwoStep(pool, `SELECT count(*)::int AS c FROM "${schema}".two_step`, async ([r], c) => {
      calls++;
      if (calls === 1) {
        // a write inside the first attempt, then a serialization failure: must roll back
        await c.query(`INSERT INTO "${schema}".two_step VALUES ('z', 1)`);
        throw Object.assign(new Error('could not serialize access'), { code: '40001' });
      }
      return { write: `INSERT INTO "${schema}".two_step VALUES ('a', ${r?.rows[0].c})`, value: calls };
    });
    expect(out).toBe(2);
    expect((await pool.query(`SELECT k, n FROM "${schema}".two_step`)).rows).toEqual([{ k: 'a', n: 0 }]);
  });

  it('a unique violation in the write rolls back and the retry sees the committed row', async () => {
    let calls = 0;
    const out = await pgTwoStep(pool, `SELECT k FROM "${schema}".two_step WHERE k = 'b' FOR UPDATE`, async ([r]) => {
      calls++;
      if (calls === 1) await pool.query(`INSERT INTO "${schema}".two_step VALUES ('b', 1)`); // a racing writer
      if (r?.rows.length) return { write: '', value: 'replayed' };
      return {
        write: `INSERT INTO "${schema}".two_step VALUES ('c', 9); INSERT INTO "${schema}".two_step VALUES ('b', 2)`,
        value: 'inserted',
      };
    });
    expect(out).toBe('replayed');
    expect(calls).toBe(2);
    // the first attempt's 'c' row went with its rollback
    expect((await pool.query(`SELECT k, n FROM "${schema}".two_step ORDER BY k`)).rows).toEqual([
      { k: 'a', n: 0 },
      { k: 'b', n: 1 },
    ]);
  });

  it('any other error rolls back and surfaces as a typed STORE error', async () => {
    const err = await pgTwoStep(pool, 'SELECT 1', async () => ({
      write: `INSERT INTO "${schema}".two_step VALUES ('d', 1); SELECT 1 / 0`,
      value: 0,
    })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HandsetError);
    expect((err as HandsetError).code).toBe('STORE');
    expect((await pool.query(`SELECT count(*)::int AS c FROM "${schema}".two_step WHERE k = 'd'`)).rows[0].c).toBe(0);
  });
});
