/**
 * The OutboxStore contract (STYLE habit 7): one suite, run against every implementation
 * in one line each (outbox.test.ts). What the chain relies on: durable add before send,
 * idempotent add, first result wins, unanswered entries in order.
 */
import { describe, expect, it } from 'vitest';
import type { OutboxStore } from '../../src/uplink/index';

const entry = (id: string, payload = `{"id":"${id}"}`) => ({
  id,
  kind: 'auth' as const,
  topic: `handset/v1/hs-1/auth`,
  payload,
  createdAt: 1000,
});

export function describeOutboxStoreContract(
  name: string,
  make: () => Promise<{ store: OutboxStore; reopen?: () => Promise<OutboxStore> }>,
) {
  describe(`OutboxStore contract: ${name}`, () => {
    it('add stores a fresh entry; the same add again is a no-op; another payload under the id is a conflict', async () => {
      const { store } = await make();
      const a = await store.add(entry('p1'));
      expect(a).toMatchObject({ id: 'p1', attempts: 0, lastSentAt: null, result: null });
      expect(await store.add(entry('p1'))).toEqual(a);
      await expect(store.add(entry('p1', '{"other":1}'))).rejects.toMatchObject({ code: 'OUTBOX_CONFLICT' });
      await store.close();
    });

    it('markSent counts publishes; unknown ids are typed errors', async () => {
      const { store } = await make();
      await store.add(entry('p1'));
      await store.markSent('p1', 2000);
      await store.markSent('p1', 3000);
      expect(await store.get('p1')).toMatchObject({ attempts: 2, lastSentAt: 3000 });
      await expect(store.markSent('nope', 1)).rejects.toMatchObject({ code: 'OUTBOX_UNKNOWN' });
      expect(await store.get('nope')).toBeUndefined();
      await store.close();
    });

    it('the first result stands: a later (replayed or forged) result never replaces it', async () => {
      const { store } = await make();
      await store.add(entry('p1'));
      const first = await store.complete('p1', '{"status":"approved"}', 5000);
      expect(first).toMatchObject({ first: true, entry: { result: '{"status":"approved"}', resultAt: 5000 } });
      const again = await store.complete('p1', '{"status":"declined"}', 6000);
      expect(again).toMatchObject({ first: false, entry: { result: '{"status":"approved"}', resultAt: 5000 } });
      expect(await store.complete('unknown', '{}', 1)).toBeUndefined();
      await store.close();
    });

    it('unanswered lists entries without a result, oldest first', async () => {
      const { store } = await make();
      for (const id of ['a', 'b', 'c']) await store.add(entry(id));
      await store.complete('b', '{}', 1);
      expect((await store.unanswered()).map((e) => e.id)).toEqual(['a', 'c']);
      expect((await store.all()).map((e) => e.id)).toEqual(['a', 'b', 'c']);
      await store.close();
    });

    it('what was added survives a reopen (durable stores)', async () => {
      const { store, reopen } = await make();
      if (!reopen) return;
      await store.add(entry('keep'));
      await store.markSent('keep', 7);
      await store.close();
      const again = await reopen();
      expect(await again.unanswered()).toMatchObject([{ id: 'keep', attempts: 1, lastSentAt: 7 }]);
      await again.close();
    });
  });
}
