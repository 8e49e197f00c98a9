/**
 * The decision thread: a CloudCenter on a worker thread with its own connection to the
 * same SQLite file. It decides like the in-process center (approved, replayed, declined,
 * rejected), its log events reach the event loop's logger, a thread killed mid-batch is
 * restarted and the resent payment is booked once, it refuses stores and clocks it cannot
 * share, and once closed it answers with a typed error instead of hanging.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { ManualClock } from '@handset/device-drivers/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudCenter, type Outcome } from '../../src/cloud/center';
import { DecisionThread } from '../../src/cloud/decision-thread';
import { ledgerIds } from '../../src/cloud/ids';
import { memoryLogger } from '../../src/cloud/log';
import { SeedVault } from '../../src/cloud/registry/vault';
import { startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import { type OpenStores, openStores } from '../../src/cloud/stores';
import { encodeMessageText } from '../../src/protocol/index';
import { TEST_KEY } from './fixtures';

const status = (o: Outcome | undefined) =>
  o?.kind === 'result' ? `${o.result.status}${o.replayed ? ' (replayed)' : ''}` : o?.code;

describe('DecisionThread', () => {
  let dir: string;
  let stores: OpenStores;
  let center: CloudCenter;
  let thread: DecisionThread;
  const log = memoryLogger();
  const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'decision-thread-'));
    stores = await openStores({ store: `sqlite:${dir}` });
    center = new CloudCenter({ registry: stores.registry, ledger: stores.ledger, vault: new SeedVault(TEST_KEY) });
    await center.createUser({ account: 'alice', currency: 'EUR' });
    await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
    await center.deposit('alice', 1_000n, 'initial');
    alice.accept(await center.register(alice.registrationRequest(Date.now())));
    thread = await DecisionThread.start({ store: `sqlite:${dir}`, seedKey: TEST_KEY, logger: log, verifyThreads: 1 });
  });

  afterAll(async () => {
    await thread.close();
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const pay = (orderRef: string, amount: bigint) =>
    alice.authorise({ merchantId: 'm-shop', orderRef, amount, currency: 'EUR', nowMs: Date.now() });

  it('decides on its own connection what the event loop wrote; a repeat gets the first outcome', async () => {
    await center.createOrder({ merchantId: 'm-shop', orderRef: 'o-1', amount: 300n, currency: 'EUR' });
    await center.createOrder({ merchantId: 'm-shop', orderRef: 'o-2', amount: 5_000n, currency: 'EUR' });
    const a = pay('o-1', 300n);
    const broke = pay('o-2', 5_000n);
    // wire bytes in, as the MQTT ingest hands them over
    const wire = (x: typeof a) => ({ payload: Buffer.from(encodeMessageText('authorisation', x)), topicDeviceId: 'hs-alice' });
    const out = await thread.authorise([wire(a), wire(broke)]);
    expect(out.map(status)).toEqual(['approved', 'declined']);
    expect(out[1]?.kind === 'result' && out[1].result.reason).toBe('insufficient_funds');
    const [again] = await thread.authorise([wire(a)]);
    expect(status(again)).toBe('approved (replayed)');
    // the event loop's center reads what the thread committed
    expect((await center.registry.read.getOrder('m-shop', 'o-1'))?.status).toBe('paid');
    const [m] = await stores.ledger.lookupAccounts([ledgerIds.merchant('m-shop')]);
    expect(m?.creditsPosted).toBe(300n);
    expect((await center.checkInvariants()).violations).toEqual([]);
  });

  it('a malformed message is rejected with a typed code, logged through the event loop logger', async () => {
    const [o] = await thread.authorise([{ payload: Buffer.from('{"v":1,'), topicDeviceId: 'hs-alice' }]);
    expect(o).toMatchObject({ kind: 'rejected', code: 'MESSAGE_NOT_JSON' });
    await new Promise((r) => setTimeout(r, 50));
    expect(log.entries.some((e) => e.event === 'auth.rejected' && e.fields.code === 'MESSAGE_NOT_JSON')).toBe(true);
  });

  it('a thread killed mid-batch is restarted; the batch is rejected, its resend is booked once', async () => {
    await center.createOrder({ merchantId: 'm-shop', orderRef: 'o-3', amount: 200n, currency: 'EUR' });
    const a = pay('o-3', 200n);
    const before = (await stores.ledger.lookupAccounts([ledgerIds.merchant('m-shop')]))[0]!.creditsPosted;
    const worker = (thread as unknown as { worker: Worker }).worker;
    const held = thread.authorise([{ payload: a }]);
    await worker.terminate(); // the thread dies with the batch in hand (committed or not)
    await expect(held).rejects.toMatchObject({ code: 'DECISION_THREAD' });
    await expect(thread.authorise([{ payload: a }])).rejects.toMatchObject({ code: 'DECISION_THREAD' });
    const deadline = Date.now() + 10_000;
    while (!thread.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(thread.restarts).toBe(1);
    expect(log.entries.some((e) => e.event === 'decision.thread_died')).toBe(true);
    const [o] = await thread.authorise([{ payload: a }]); // the handset's outbox resends the same payment
    expect(o?.kind === 'result' && o.result.status).toBe('approved');
    const [m] = await stores.ledger.lookupAccounts([ledgerIds.merchant('m-shop')]);
    expect(m!.creditsPosted - before).toBe(200n);
    expect((await center.checkInvariants()).violations).toEqual([]);
  });

  it('refuses an in-memory store and an injected clock; a closed thread answers with a typed error', async () => {
    await expect(DecisionThread.start({ store: 'sqlite::memory:', seedKey: TEST_KEY })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    await expect(
      startCloud({ store: `sqlite:${dir}`, broker: 'none', seedKey: TEST_KEY, clock: new ManualClock(), decisionThread: true }),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    const other = await DecisionThread.start({ store: `sqlite:${dir}`, seedKey: TEST_KEY, verifyThreads: 0 });
    await other.close();
    await expect(other.authorise([{ payload: pay('o-9', 1n) }])).rejects.toMatchObject({ code: 'DECISION_THREAD' });
  });
});
