/**
 * The ledger store contract: one suite, run against every `LedgerStore` implementation
 * (SQLite, PostgreSQL, and each behind group commit). Every scenario ends with the
 * invariant checker.
 */
import { ManualClock } from '@handset/device-drivers/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedgerInvariants, GroupCommitLedger, type LedgerStore, type TransferInput } from '../../src/cloud/ledger/index';

export interface StoreHandle {
  store: LedgerStore;
  /** A second, independent connection to the same data (for cross-process races). */
  twin?: () => Promise<LedgerStore>;
  cleanup: () => Promise<void>;
}

export type MakeStore = (clock: ManualClock) => Promise<StoreHandle>;

const EUR = 'EUR';

export function describeLedgerStoreContract(name: string, make: MakeStore): void {
  describe(`LedgerStore contract: ${name}`, () => {
    let h: StoreHandle | undefined;
    let clock: ManualClock;
    const extra: LedgerStore[] = [];

    async function setup(): Promise<LedgerStore> {
      clock = new ManualClock({ autoAdvance: false });
      h = await make(clock);
      const s = h.store;
      const r = await s.createAccounts([
        { id: 'issuer', currency: EUR, code: 9 },
        { id: 'alice', currency: EUR, code: 1, flags: { debitsMustNotExceedCredits: true } },
        { id: 'bob', currency: EUR, code: 1, flags: { debitsMustNotExceedCredits: true } },
        { id: 'shop', currency: EUR, code: 2 },
        { id: 'usd', currency: 'USD', code: 2 },
      ]);
      expect(r.every((x) => x.result === 'ok' && !x.replayed)).toBe(true);
      const f = await s.createTransfers([
        { id: 'fund-alice', debitAccountId: 'issuer', creditAccountId: 'alice', amount: 10_000n, currency: EUR, code: 3 },
      ]);
      expect(f[0]?.result).toBe('ok');
      return s;
    }

    async function balance(s: LedgerStore, id: string) {
      const [a] = await s.lookupAccounts([id]);
      if (!a) throw new Error(`no account ${id}`);
      return a;
    }

    afterEach(async () => {
      if (h) {
        const report = await checkLedgerInvariants(h.store);
        expect(report.violations).toEqual([]);
        for (const e of extra.splice(0)) await e.close();
        await h.cleanup();
        h = undefined;
      }
    });

    it('creates accounts idempotently and refuses a changed body', async () => {
      const s = await setup();
      const r = await s.createAccounts([
        { id: 'alice', currency: EUR, code: 1, flags: { debitsMustNotExceedCredits: true } },
        { id: 'alice', currency: 'USD', code: 1 },
        { id: '', currency: EUR, code: 1 },
      ]);
      expect(r).toEqual([
        { index: 0, result: 'ok', replayed: true },
        { index: 1, result: 'exists_with_different_fields', replayed: false },
        { index: 2, result: 'id_must_not_be_empty', replayed: false },
      ]);
      expect((await balance(s, 'alice')).currency).toBe(EUR);
    });

    it('moves money with double entry and keeps it bigint', async () => {
      const s = await setup();
      const big = 2n ** 62n;
      await s.createTransfers([
        { id: 'fund-big', debitAccountId: 'issuer', creditAccountId: 'shop', amount: big, currency: EUR, code: 3 },
      ]);
      const r = await s.createTransfers([
        { id: 'p1', debitAccountId: 'alice', creditAccountId: 'shop', amount: 1_250n, currency: EUR, code: 1, userData: 'pay-1' },
      ]);
      expect(r).toEqual([{ index: 0, result: 'ok', replayed: false }]);
      const a = await balance(s, 'alice');
      expect(a.creditsPosted - a.debitsPosted).toBe(8_750n);
      expect((await balance(s, 'shop')).creditsPosted).toBe(big + 1_250n);
      const [t] = await s.lookupTransfers(['p1']);
      expect(t).toMatchObject({
        amount: 1_250n,
        debitAccountId: 'alice',
        creditAccountId: 'shop',
        result: 'ok',
        userData: 'pay-1',
      });
      expect((await s.transfersByUserData('pay-1')).map((x) => x.id)).toEqual(['p1']);
    });

    it('returns the first outcome on retry and refuses the same id with a different body', async () => {
      const s = await setup();
      const t: TransferInput = {
        id: 'p1',
        debitAccountId: 'alice',
        creditAccountId: 'shop',
        amount: 500n,
        currency: EUR,
        code: 1,
      };
      expect((await s.createTransfers([t]))[0]).toEqual({ index: 0, result: 'ok', replayed: false });
      expect((await s.createTransfers([t]))[0]).toEqual({ index: 0, result: 'ok', replayed: true });
      expect((await s.createTransfers([{ ...t, amount: 501n }]))[0]).toEqual({
        index: 0,
        result: 'exists_with_different_fields',
        replayed: false,
      });
      expect((await s.createTransfers([{ ...t, creditAccountId: 'bob' }]))[0]?.result).toBe('exists_with_different_fields');
      const a = await balance(s, 'alice');
      expect(a.debitsPosted).toBe(500n);
    });

    it('never lets a limited balance go below its limit, and a decline is sticky', async () => {
      const s = await setup();
      const t: TransferInput = {
        id: 'big',
        debitAccountId: 'alice',
        creditAccountId: 'shop',
        amount: 10_001n,
        currency: EUR,
        code: 1,
      };
      expect((await s.createTransfers([t]))[0]).toEqual({ index: 0, result: 'exceeds_credits', replayed: false });
      await s.createTransfers([
        { id: 'fund-2', debitAccountId: 'issuer', creditAccountId: 'alice', amount: 100n, currency: EUR, code: 3 },
      ]);
      expect((await s.createTransfers([t]))[0]).toEqual({ index: 0, result: 'exceeds_credits', replayed: true });
      expect((await s.createTransfers([{ ...t, id: 'big-2' }]))[0]?.result).toBe('ok');
      const a = await balance(s, 'alice');
      expect(a.creditsPosted - a.debitsPosted).toBe(99n);
      expect(
        (
          await s.createTransfers([
            { id: 'x', debitAccountId: 'alice', creditAccountId: 'shop', amount: 100n, currency: EUR, code: 1 },
          ])
        )[0]?.result,
      ).toBe('exceeds_credits');
    });

    it('reports per-index codes for a mixed batch instead of throwing', async () => {
      const s = await setup();
      const r = await s.createTransfers([
        { id: 'a', debitAccountId: 'alice', creditAccountId: 'shop', amount: 1n, currency: EUR, code: 1 },
        { id: 'b', debitAccountId: 'nobody', creditAccountId: 'shop', amount: 1n, currency: EUR, code: 1 },
        { id: 'c', debitAccountId: 'alice', creditAccountId: 'nobody', amount: 1n, currency: EUR, code: 1 },
        { id: 'd', debitAccountId: 'alice', creditAccountId: 'usd', amount: 1n, currency: EUR, code: 1 },
        { id: 'e', debitAccountId: 'alice', creditAccountId: 'shop', amount: 0n, currency: EUR, code: 1 },
        { id: 'f', debitAccountId: 'alice', creditAccountId: 'alice', amount: 1n, currency: EUR, code: 1 },
        { id: 'g', debitAccountId: 'alice', creditAccountId: 'shop', amount: 1n, currency: 'USD', code: 1 },
        { id: 'a', debitAccountId: 'alice', creditAccountId: 'shop', amount: 1n, currency: EUR, code: 1 },
        { id: 'h', debitAccountId: 'alice', creditAccountId: 'shop', amount: -1n, currency: EUR, code: 1 },
        { id: '', debitAccountId: 'alice', creditAccountId: 'shop', amount: 1n, currency: EUR, code: 1 },
        {
          id: 'i',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 1n,
          currency: EUR,
          code: 1,
          flags: { pending: true, voidPending: true },
        },
      ]);
      expect(r.map((x) => [x.index, x.result, x.replayed])).toEqual([
        [0, 'ok', false],
        [1, 'debit_account_not_found', false],
        [2, 'credit_account_not_found', false],
        [3, 'accounts_must_have_the_same_currency', false],
        [4, 'amount_must_not_be_zero', false],
        [5, 'accounts_must_be_different', false],
        [6, 'transfer_must_have_the_same_currency_as_accounts', false],
        [7, 'ok', true],
        [8, 'amount_must_not_be_negative', false],
        [9, 'id_must_not_be_empty', false],
        [10, 'flags_are_mutually_exclusive', false],
      ]);
      expect((await balance(s, 'alice')).debitsPosted).toBe(1n);
      // validation failures are not sticky; state failures are
      expect((await s.lookupTransfers(['b', 'e'])).map((t) => t.id)).toEqual(['b']);
    });

    it('two-phase: pending reserves, post (partial) resolves once, remainder released', async () => {
      const s = await setup();
      const pend: TransferInput = {
        id: 'pend',
        debitAccountId: 'alice',
        creditAccountId: 'shop',
        amount: 4_000n,
        currency: EUR,
        code: 1,
        flags: { pending: true },
      };
      expect((await s.createTransfers([pend]))[0]?.result).toBe('ok');
      let a = await balance(s, 'alice');
      expect([a.debitsPending, a.debitsPosted]).toEqual([4_000n, 0n]);
      // the reservation counts against the limit
      expect(
        (
          await s.createTransfers([
            { id: 'over', debitAccountId: 'alice', creditAccountId: 'shop', amount: 6_001n, currency: EUR, code: 1 },
          ])
        )[0]?.result,
      ).toBe('exceeds_credits');
      const post: TransferInput = {
        id: 'post',
        pendingId: 'pend',
        amount: 3_000n,
        currency: EUR,
        code: 1,
        flags: { postPending: true },
      };
      expect((await s.createTransfers([{ ...post, id: 'post-too-much', amount: 4_001n }]))[0]?.result).toBe(
        'exceeds_pending_transfer_amount',
      );
      expect((await s.createTransfers([post]))[0]).toEqual({ index: 0, result: 'ok', replayed: false });
      expect((await s.createTransfers([post]))[0]).toEqual({ index: 0, result: 'ok', replayed: true });
      a = await balance(s, 'alice');
      expect([a.debitsPending, a.debitsPosted]).toEqual([0n, 3_000n]);
      const r = await s.createTransfers([
        { id: 'post-2', pendingId: 'pend', currency: EUR, code: 1, flags: { postPending: true } },
        { id: 'void-1', pendingId: 'pend', currency: EUR, code: 1, flags: { voidPending: true } },
        { id: 'void-2', pendingId: 'nope', currency: EUR, code: 1, flags: { voidPending: true } },
        { id: 'void-3', pendingId: 'fund-alice', currency: EUR, code: 1, flags: { voidPending: true } },
        { id: 'void-4', currency: EUR, code: 1, flags: { voidPending: true } },
      ]);
      expect(r.map((x) => x.result)).toEqual([
        'pending_transfer_already_posted',
        'pending_transfer_already_posted',
        'pending_transfer_not_found',
        'pending_transfer_not_pending',
        'pending_id_required',
      ]);
      const [p] = await s.lookupTransfers(['pend']);
      expect(p?.pendingStatus).toBe('posted');
    });

    it('two-phase: void releases the reservation; pending+post in one batch', async () => {
      const s = await setup();
      const r = await s.createTransfers([
        {
          id: 'p',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 700n,
          currency: EUR,
          code: 1,
          flags: { pending: true },
        },
        { id: 'v', pendingId: 'p', currency: EUR, code: 1, flags: { voidPending: true } },
        {
          id: 'q',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 300n,
          currency: EUR,
          code: 1,
          flags: { pending: true },
        },
        { id: 'qp', pendingId: 'q', currency: EUR, code: 1, flags: { postPending: true } },
        { id: 'pp', pendingId: 'p', currency: EUR, code: 1, flags: { postPending: true } },
      ]);
      expect(r.map((x) => x.result)).toEqual(['ok', 'ok', 'ok', 'ok', 'pending_transfer_already_voided']);
      const a = await balance(s, 'alice');
      expect([a.debitsPending, a.debitsPosted]).toEqual([0n, 300n]);
      expect((await s.lookupTransfers(['p', 'q'])).map((t) => t.pendingStatus)).toEqual(['voided', 'posted']);
    });

    it('expires pending transfers on the store clock, by sweep or at post time', async () => {
      const s = await setup();
      await s.createTransfers([
        {
          id: 'e1',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 100n,
          currency: EUR,
          code: 1,
          flags: { pending: true },
          timeoutSeconds: 10,
        },
        {
          id: 'e2',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 200n,
          currency: EUR,
          code: 1,
          flags: { pending: true },
          timeoutSeconds: 60,
        },
        {
          id: 'e3',
          debitAccountId: 'alice',
          creditAccountId: 'shop',
          amount: 400n,
          currency: EUR,
          code: 1,
          flags: { pending: true },
        },
      ]);
      clock.advance(9_000);
      expect(await s.expirePending()).toBe(0);
      clock.advance(1_000);
      expect(await s.expirePending()).toBe(1);
      clock.advance(60_000);
      const r = await s.createTransfers([
        { id: 'e2-post', pendingId: 'e2', currency: EUR, code: 1, flags: { postPending: true } },
      ]);
      expect(r[0]?.result).toBe('pending_transfer_expired');
      expect((await s.lookupTransfers(['e1', 'e2', 'e3'])).map((t) => t.pendingStatus)).toEqual([
        'expired',
        'expired',
        'pending',
      ]);
      const a = await balance(s, 'alice');
      expect([a.debitsPending, a.debitsPosted]).toEqual([400n, 0n]);
      expect(await s.expirePending()).toBe(0);
    });

    it('group commit joins concurrent callers into fewer transactions, each with its own results', async () => {
      const s = await setup();
      const g = new GroupCommitLedger(s, { maxBatch: 64 });
      const calls = Array.from({ length: 200 }, (_, i) =>
        g.createTransfers([
          {
            id: `g${i}`,
            debitAccountId: 'alice',
            creditAccountId: 'shop',
            amount: 10n,
            currency: EUR,
            code: 1,
            userData: `pay-${i}`,
          },
          {
            id: `g${i}`,
            debitAccountId: 'alice',
            creditAccountId: 'shop',
            amount: 10n,
            currency: EUR,
            code: 1,
            userData: `pay-${i}`,
          },
          { id: `h${i}`, debitAccountId: 'alice', creditAccountId: 'nobody', amount: 1n, currency: EUR, code: 1 },
        ]),
      );
      const results = await Promise.all(calls);
      for (const r of results) {
        expect(r.map((x) => [x.index, x.result, x.replayed])).toEqual([
          [0, 'ok', false],
          [1, 'ok', true],
          [2, 'credit_account_not_found', false],
        ]);
      }
      expect(g.stats.batches).toBeLessThan(200);
      expect(g.stats.batches).toBeGreaterThanOrEqual(Math.ceil(600 / 64));
      expect((await balance(s, 'alice')).debitsPosted).toBe(2_000n);
    });

    it('a second connection racing on the same payment id books it once', async () => {
      const s = await setup();
      if (!h?.twin) return;
      const other = await h.twin();
      extra.push(other);
      const t = (i: number): TransferInput => ({
        id: `race-${i}`,
        debitAccountId: 'alice',
        creditAccountId: 'shop',
        amount: 7n,
        currency: EUR,
        code: 1,
        userData: `race-${i}`,
      });
      const runs = await Promise.all(
        Array.from({ length: 40 }, (_, i) => [s.createTransfers([t(i)]), other.createTransfers([t(i)])]).flat(),
      );
      const fresh = runs.flat().filter((r) => r.result === 'ok' && !r.replayed).length;
      expect(runs.flat().every((r) => r.result === 'ok')).toBe(true);
      expect(fresh).toBe(40);
      expect((await balance(s, 'alice')).debitsPosted).toBe(280n);
    });

    it('random operation sequences keep every invariant (property)', async () => {
      const s = await setup();
      const accounts = ['alice', 'bob', 'shop', 'issuer'];
      const op = fc.record({
        id: fc.integer({ min: 0, max: 30 }).map((n) => `r${n}`),
        from: fc.constantFrom(...accounts),
        to: fc.constantFrom(...accounts),
        amount: fc.bigInt({ min: 0n, max: 6_000n }),
        kind: fc.constantFrom('plain', 'pending', 'post', 'void'),
        target: fc.integer({ min: 0, max: 30 }).map((n) => `r${n}`),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
          async (batches) => {
            for (const b of batches) {
              const ts: TransferInput[] = b.map((o) =>
                o.kind === 'post' || o.kind === 'void'
                  ? {
                      id: `${o.id}-${o.kind}`,
                      pendingId: o.target,
                      currency: EUR,
                      code: 1,
                      flags: { [`${o.kind}Pending`]: true },
                    }
                  : {
                      id: o.id,
                      debitAccountId: o.from,
                      creditAccountId: o.to,
                      amount: o.amount,
                      currency: EUR,
                      code: 1,
                      flags: { pending: o.kind === 'pending' },
                    },
              );
              const r = await s.createTransfers(ts);
              expect(r.map((x) => x.index)).toEqual(ts.map((_, i) => i));
            }
            const rep = await checkLedgerInvariants(s, { oncePerUserData: [] });
            expect(rep.violations).toEqual([]);
          },
        ),
        { numRuns: 15 },
      );
    });
  });
}
