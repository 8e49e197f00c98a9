/**
 * End to end over MQTT: simulated handsets (this process) sign authorisations ->
 * embedded aedes broker -> cloud -> SQLite ledger (WAL, FULL, group commit) -> result
 * back to the handset. The cloud runs as its own process (the built `handset cloud serve`), so the
 * load generator and the server each have a core of the 2-core machine.
 *
 * Figures: paced payments/s with p50/p99 (the target load) and closed-loop saturation.
 * Connections held and the reconnect storm are bench/connections.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudCenter } from '../host-sdk/src/cloud/center';
import { ACCOUNT_CODE, ledgerIds, TRANSFER_CODE } from '../host-sdk/src/cloud/ids';
import { MqttPeer } from '../host-sdk/src/cloud/mqtt/sim-client';
import { SeedVault } from '../host-sdk/src/cloud/registry/vault';
import { SimHandset } from '../host-sdk/src/cloud/sim';
import { openStores } from '../host-sdk/src/cloud/stores';
import { freePort, pct, SEED_KEY, sleep, spawnCloud, stopChild } from './cloud-proc';
import type { BenchResult, BenchSuite } from './types';

const PACED_CLIENTS = 500;
const PACED_RATE = 2; // payments/s per handset -> 1,000/s
const PACED_MS = 4_000;
const SAT_CLIENTS = 64;
const SAT_MS = 2_000;
const ORDERS_PACED = 14;
const ORDERS_SAT = 320;
/** Payment runs: registry FULL, then registry NORMAL (the ledger is FULL in both). */
const RUNS = 2;
/** Warm-up payments per paced handset before the first run. */
const WARMUP = 2;

/** Users, handsets (registered), one merchant and every order the run will pay, in a few bulk transactions. */
async function setup(store: string) {
  const stores = await openStores({ store, groupCommit: false });
  const center = new CloudCenter({ registry: stores.registry, ledger: stores.ledger, vault: SeedVault.fromText(SEED_KEY) });
  await center.createMerchant({ merchantId: 'm-bench', currency: 'EUR' });
  const n = Math.max(PACED_CLIENTS, SAT_CLIENTS);
  await stores.ledger.createAccounts([
    { id: ledgerIds.issuer('EUR'), currency: 'EUR', code: ACCOUNT_CODE.issuer },
    ...Array.from({ length: n }, (_, i) => ({
      id: ledgerIds.user(`u${i}`),
      currency: 'EUR',
      code: ACCOUNT_CODE.consumer,
      flags: { debitsMustNotExceedCredits: true },
    })),
  ]);
  await stores.ledger.createTransfers(
    Array.from({ length: n }, (_, i) => ({
      id: ledgerIds.deposit(`u${i}`, 'bench'),
      debitAccountId: ledgerIds.issuer('EUR'),
      creditAccountId: ledgerIds.user(`u${i}`),
      amount: 10n ** 9n,
      currency: 'EUR',
      code: TRANSFER_CODE.deposit,
    })),
  );
  const now = Date.now();
  await stores.registry.tx(async (r) => {
    for (let i = 0; i < n; i++) {
      await r.insertUser({ account: `u${i}`, name: `u${i}`, currency: 'EUR', createdAt: now });
      const orders = WARMUP + (i < SAT_CLIENTS ? RUNS * (ORDERS_PACED + ORDERS_SAT) : RUNS * ORDERS_PACED);
      for (let k = 0; k < orders; k++) {
        await r.insertOrder({
          merchantId: 'm-bench',
          orderRef: `o-${i}-${k}`,
          amount: 1n + BigInt(k % 50),
          currency: 'EUR',
          status: 'open',
          paymentId: null,
          capture: 'auto',
          createdAt: now,
          expiresAt: now + 3_600_000,
        });
      }
    }
  });
  const handsets: SimHandset[] = [];
  for (let i = 0; i < n; i++) {
    const h = new SimHandset({ deviceId: `hs-b${i}`, account: `u${i}` });
    h.accept(await center.register(h.registrationRequest(Date.now())));
    handsets.push(h);
  }
  await stores.close();
  return {
    handsets,
    check: async () => {
      const s = await openStores({ store, groupCommit: false });
      try {
        return await new CloudCenter({
          registry: s.registry,
          ledger: s.ledger,
          vault: SeedVault.fromText(SEED_KEY),
        }).checkInvariants();
      } finally {
        await s.close();
      }
    },
  };
}

export const suite: BenchSuite = {
  area: 'e2e',
  async run(): Promise<BenchResult[]> {
    const out: BenchResult[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
    const store = `sqlite:${dir}`;
    const brokerPort = await freePort();
    const embedded = ['--broker', 'embedded', '--broker-port', String(brokerPort)];
    let child: ChildProcess | undefined;
    let peers: MqttPeer[] = [];
    const backoff = { minMs: 500, maxMs: 5_000 };
    const t0 = performance.now();
    const phase = (what: string) =>
      process.stderr.write(`bench: e2e ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    try {
      const { handsets, check } = await setup(store);
      phase('setup done');
      const connectPeers = async (url: string, topicRoot = '') => {
        const list: MqttPeer[] = [];
        for (let i = 0; i < handsets.length; i += 50) {
          list.push(
            ...(await Promise.all(
              handsets
                .slice(i, i + 50)
                .map((h) => new MqttPeer(h.deviceId, { url, root: topicRoot, backoff, keepalive: 60 }).connect()),
            )),
          );
        }
        return list;
      };
      const nextOrder = handsets.map(() => 0);
      const pay = async (i: number) => {
        const h = handsets[i]!;
        const k = nextOrder[i]!++;
        const auth = h.authorise({
          merchantId: 'm-bench',
          orderRef: `o-${i}-${k}`,
          amount: 1n + BigInt(k % 50),
          currency: 'EUR',
          nowMs: Date.now(),
        });
        const t = performance.now();
        const r = await peers[i]!.pay(auth, 5_000);
        return { ms: performance.now() - t, ok: r.status === 'approved', serverMs: r.decidedAt - r.receivedAt };
      };

      const phases = async (label: string, run: number) => {
        // paced: 500 handsets x 2/s, staggered start, jittered period
        const lat: number[] = [];
        const server: number[] = [];
        let bad = 0;
        const t0 = performance.now();
        const end = t0 + PACED_MS;
        const period = 1000 / PACED_RATE;
        const base = run * ORDERS_PACED;
        for (let i = 0; i < handsets.length; i++) nextOrder[i] = base;
        await Promise.all(
          peers.slice(0, PACED_CLIENTS).map(async (_p, i) => {
            let next = t0 + Math.random() * period;
            while (next < end && nextOrder[i]! < base + ORDERS_PACED) {
              await sleep(next - performance.now());
              const r = await pay(i);
              lat.push(r.ms);
              server.push(r.serverMs);
              if (!r.ok) bad++;
              next += period * (0.8 + 0.4 * Math.random());
            }
          }),
        );
        const rate = lat.length / ((performance.now() - t0) / 1000);
        const p99 = pct(lat, 99);
        out.push({
          area: 'e2e',
          name: `payments/s paced (${PACED_CLIENTS} handsets x ${PACED_RATE}/s; ${label})`,
          value: rate,
          unit: 'payments/s',
          target: '>= 1,000/s at p99 <= 50 ms',
          pass: rate >= 950 && p99 <= 50 && bad === 0,
          extra: {
            p50Ms: pct(lat, 50),
            p99Ms: p99,
            maxMs: pct(lat, 100),
            serverDecideP50Ms: pct(server, 50),
            serverDecideP99Ms: pct(server, 99),
            payments: lat.length,
            declined: bad,
            loadAverage1m: loadavg()[0],
          },
        });
        // saturation: closed loop, one outstanding payment per handset
        const sat: number[] = [];
        const s0 = performance.now();
        const send = s0 + SAT_MS;
        const satBase = RUNS * ORDERS_PACED + run * ORDERS_SAT;
        await Promise.all(
          Array.from({ length: SAT_CLIENTS }, async (_x, i) => {
            nextOrder[i] = satBase;
            while (performance.now() < send && nextOrder[i]! < satBase + ORDERS_SAT) sat.push((await pay(i)).ms);
          }),
        );
        out.push({
          area: 'e2e',
          name: `payments/s saturation (${SAT_CLIENTS} handsets closed loop; ${label})`,
          value: sat.length / ((performance.now() - s0) / 1000),
          unit: 'payments/s',
          extra: { p50Ms: pct(sat, 50), p99Ms: pct(sat, 99), payments: sat.length, loadAverage1m: loadavg()[0] },
        });
      };

      phase('payments start');
      // the embedded default (aedes in the cloud process): registry FULL, then NORMAL
      child = await spawnCloud(store, embedded, 'FULL');
      const url = `mqtt://127.0.0.1:${brokerPort}`;
      peers = await connectPeers(url);
      phase('peers connected');
      // warm-up (JIT on both sides), not measured: 2 payments per handset, spread over 1 s
      await Promise.all(
        peers.slice(0, PACED_CLIENTS).map(async (_p, i) => {
          nextOrder[i] = i < SAT_CLIENTS ? RUNS * (ORDERS_PACED + ORDERS_SAT) : RUNS * ORDERS_PACED;
          for (let k = 0; k < WARMUP; k++) {
            await sleep(Math.random() * 500);
            await pay(i);
          }
        }),
      );
      await phases('embedded aedes, ledger FULL, registry FULL', 0);
      phase('run 1 done');
      await stopChild(child, 'SIGKILL');
      child = await spawnCloud(store, embedded, 'NORMAL');
      for (let i = 0; i < 150 && !peers.every((p) => p.client?.connected); i++) await sleep(100);
      phase('restarted with registry NORMAL');
      await phases('embedded aedes, ledger FULL, registry NORMAL', 1);
      const inv = await check();
      out.push({
        area: 'e2e',
        name: 'invariants after the payment runs (money conserved, none booked twice)',
        value: inv.violations.length,
        unit: 'violations',
        target: '0',
        pass: inv.ok,
        extra: { booked: inv.booked, violations: inv.violations.slice(0, 5) },
      });
    } finally {
      // the store is thrown away: kill the server first so the clients close without a broker to talk to
      await stopChild(child, 'SIGKILL');
      await Promise.all(peers.map((p) => p.close()));
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
