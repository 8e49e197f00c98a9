/**
 * Process and broker faults under load. Handsets behave like the real ones: one payment
 * at a time, the same message resent until answered (durable outbox). Afterwards: every
 * payment answered, approved once, money conserved.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { systemClock } from '@handset/device-drivers/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudCenter } from '../../src/cloud/center';
import { ledgerIds } from '../../src/cloud/ids';
import { startMosquitto, writeMosquittoConfig } from '../../src/cloud/mqtt/mosquitto';
import { MqttPeer } from '../../src/cloud/mqtt/sim-client';
import { SeedVault } from '../../src/cloud/registry/vault';
import { startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import type { OpenStores } from '../../src/cloud/stores';
import type { PaymentResult } from '../../src/protocol/index';
import { freePort, freshStores, TEST_KEY } from './fixtures';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const ENTRY = fileURLToPath(new URL('./worker-entry.ts', import.meta.url));

/** Starts `handset cloud serve` as a child process; resolves when it prints its ready line. */
async function spawnWorker(args: string[]): Promise<ChildProcess & { ready: { decisionThread?: boolean } }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'cloud', 'serve', '--quiet', ...args], {
    env: { ...process.env, HANDSET_SEED_KEY: Buffer.from(TEST_KEY).toString('hex') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ decisionThread?: boolean }>((resolve, reject) => {
    lines.on('line', (l) => {
      if (l.includes('"ready"')) resolve(JSON.parse(l));
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
  });
  return Object.assign(child, { ready });
}

async function setupWorld(stores: OpenStores, n: number, perHandset: number) {
  const center = new CloudCenter({ registry: stores.registry, ledger: stores.ledger, vault: new SeedVault(TEST_KEY) });
  await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
  const handsets: SimHandset[] = [];
  for (let i = 0; i < n; i++) {
    await center.createUser({ account: `u${i}`, currency: 'EUR' });
    await center.deposit(`u${i}`, 1_000_000n, 'init');
    const h = new SimHandset({ deviceId: `hs-${i}`, account: `u${i}` });
    h.accept(await center.register(h.registrationRequest(Date.now())));
    handsets.push(h);
    for (let k = 0; k < perHandset; k++) {
      await center.createOrder({ merchantId: 'm-shop', orderRef: `o-${i}-${k}`, amount: BigInt(100 + k), currency: 'EUR' });
    }
  }
  return { center, handsets };
}

/** Each handset pays its orders one after another, resending until answered. */
async function payAll(handsets: SimHandset[], peers: MqttPeer[], perHandset: number, onResult: () => void) {
  const results: PaymentResult[] = [];
  await Promise.all(
    handsets.map(async (h, i) => {
      for (let k = 0; k < perHandset; k++) {
        const auth = h.authorise({
          merchantId: 'm-shop',
          orderRef: `o-${i}-${k}`,
          amount: BigInt(100 + k),
          currency: 'EUR',
          nowMs: Date.now(),
        });
        results.push(await peers[i]!.pay(auth, 400));
        onResult();
      }
    }),
  );
  return results;
}

async function verify(center: CloudCenter, results: PaymentResult[], n: number, perHandset: number) {
  expect(results).toHaveLength(n * perHandset);
  expect(results.every((r) => r.status === 'approved')).toBe(true);
  let expected = 0n;
  for (let k = 0; k < perHandset; k++) expected += BigInt(100 + k) * BigInt(n);
  const [m] = await center.ledger.lookupAccounts([ledgerIds.merchant('m-shop')]);
  expect(m!.creditsPosted - m!.debitsPosted).toBe(expected);
  const rep = await center.checkInvariants();
  expect(rep.violations).toEqual([]);
  expect(rep.booked).toBe(n + 2 * n * perHandset); // deposits + pending + capture per payment
}

describe('faults under load', () => {
  it('kill -9 of the cloud worker mid-batch, restart: every payment answered, booked once', async () => {
    const root = `t${randomBytes(5).toString('hex')}/`;
    const fresh = await freshStores('sqlite', systemClock, false);
    cleanups.push(fresh.cleanup);
    const N = 10;
    const K = 10;
    const { center, handsets } = await setupWorld(fresh.stores, N, K);
    const args = [
      '--store',
      fresh.spec,
      '--broker',
      'mqtt://127.0.0.1:1883',
      '--root',
      root,
      '--client-id',
      'cloud-1',
      '--http-port',
      '0',
    ];
    let worker = await spawnWorker(args);
    cleanups.push(async () => worker.kill('SIGKILL'));
    // `cloud serve` on a SQLite file decides on its decision thread: the kill lands there mid-batch
    expect(worker.ready.decisionThread).toBe(true);
    const peers = await Promise.all(
      handsets.map((h) => new MqttPeer(h.deviceId, { url: 'mqtt://127.0.0.1:1883', root, protocolVersion: 5 }).connect()),
    );
    for (const p of peers) cleanups.push(() => p.close());
    let answered = 0;
    let killed = false;
    let restarted: Promise<void> | undefined;
    const results = await payAll(handsets, peers, K, () => {
      answered++;
      if (!killed && answered >= (N * K) / 3) {
        killed = true;
        worker.kill('SIGKILL');
        restarted = (async () => {
          await new Promise((r) => setTimeout(r, 300));
          worker = await spawnWorker(args);
        })();
      }
    });
    await restarted;
    expect(killed).toBe(true);
    await verify(center, results, N, K);
  }, 60_000);

  it('broker restart under load (own mosquitto): clients come back with backoff, nothing lost or doubled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mosq-'));
    chmodSync(dir, 0o755);
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const conf = writeMosquittoConfig({ dir, port, cloudUsers: ['cloud-1'] });
    let mosq = await startMosquitto(conf, port);
    cleanups.push(() => mosq.stop());
    const fresh = await freshStores('sqlite', systemClock, false);
    cleanups.push(fresh.cleanup);
    const N = 10;
    const K = 15;
    const { center, handsets } = await setupWorld(fresh.stores, N, K);
    const cloud = await startCloud({
      store: fresh.spec,
      broker: mosq.url,
      clientId: 'cloud-1',
      shared: true,
      seedKey: TEST_KEY,
      decisionThread: true,
    });
    cleanups.push(() => cloud.stop());
    const backoff = { minMs: 100, maxMs: 1_000 };
    const peers = await Promise.all(
      handsets.map((h) => new MqttPeer(h.deviceId, { url: mosq.url, protocolVersion: 5, backoff }).connect()),
    );
    for (const p of peers) cleanups.push(() => p.close());
    let answered = 0;
    let restarted: Promise<void> | undefined;
    const results = await payAll(handsets, peers, K, () => {
      answered++;
      if (!restarted && answered >= (N * K) / 3) {
        restarted = (async () => {
          await mosq.stop();
          await new Promise((r) => setTimeout(r, 300));
          mosq = await startMosquitto(conf, port);
        })();
      }
    });
    await restarted;
    await verify(center, results, N, K);
    expect(peers.every((p) => p.client?.connected)).toBe(true);
  }, 60_000);
});
