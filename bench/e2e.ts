/**
 * End to end over MQTT: simulated handsets (this process) sign authorisations ->
 * embedded aedes broker -> cloud -> SQLite ledger (WAL, FULL, group commit) -> result
 * back to the handset. The cloud runs as its own process (the built `handset cloud serve`), so the
 * load generator and the server each have a core of the 2-core machine.
 *
 * Figures: paced payments/s with p50/p99 (the target load), closed-loop saturation,
 * idle connections held and the server's memory for them, and the reconnect storm
 * after the server (broker + cloud) is killed and restarted - clients use capped
 * exponential backoff with full jitter.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CloudCenter } from '../host-sdk/src/cloud/center';
import { ACCOUNT_CODE, ledgerIds, TRANSFER_CODE } from '../host-sdk/src/cloud/ids';
import { MqttPeer } from '../host-sdk/src/cloud/mqtt/sim-client';
import { SeedVault } from '../host-sdk/src/cloud/registry/vault';
import { SimHandset } from '../host-sdk/src/cloud/sim';
import { openStores } from '../host-sdk/src/cloud/stores';
import { connectMqtt } from '../host-sdk/src/mqtt/index';
import type { BenchResult, BenchSuite } from './types';

/** The built `handset` CLI (make bench builds it first): the server is measured as it ships, not under tsx. */
const HANDSET_BIN = fileURLToPath(new URL('../host-sdk/bin/handset.js', import.meta.url));
const SEED_KEY = 'a'.repeat(64);
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
const IDLE = Number(process.env.BENCH_CONNECTIONS ?? 10_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function spawnCloud(store: string, broker: string[], registrySync: 'FULL' | 'NORMAL' = 'FULL'): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_CLOUD_NODE_ARGS ?? '').split(' ').filter(Boolean),
      HANDSET_BIN,
      'cloud',
      'serve',
      '--quiet',
      '--store',
      store,
      ...broker,
      '--http-port',
      '0',
      '--registry-sync',
      registrySync,
    ],
    { env: { ...process.env, HANDSET_SEED_KEY: SEED_KEY }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes('"ready"') && resolve());
    child.once('exit', (c) => reject(new Error(`cloud exited ${c}`)));
  });
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await gone;
}

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
    const idle: Array<Awaited<ReturnType<typeof connectMqtt>>> = [];
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

      phase('payments done');
      // connections held: idle clients, each subscribed to its own result topic
      const rss0 = rssMb(child.pid!);
      const c0 = performance.now();
      const connectOne = async (i: number) => {
        const c = await connectMqtt(url, {
          clientId: `hs-idle${i}`,
          username: `hs-idle${i}`,
          keepalive: 120,
          clean: true,
          backoff,
        });
        await c.subscribeAsync(`handset/v1/hs-idle${i}/result`, { qos: 1 });
        idle.push(c);
      };
      let failed = 0;
      for (let i = 0; i < IDLE; i += 250) {
        const r = await Promise.allSettled(Array.from({ length: Math.min(250, IDLE - i) }, (_x, j) => connectOne(i + j)));
        failed += r.filter((x) => x.status === 'rejected').length;
      }
      const rampS = (performance.now() - c0) / 1000;
      await sleep(500);
      const rss1 = rssMb(child.pid!);
      const held = idle.filter((c) => c.connected).length;
      out.push({
        area: 'e2e',
        name: `idle MQTT connections held (aedes + cloud process RSS at ${held} + ${peers.length} clients)`,
        value: rss1,
        unit: 'MB',
        baseline: { name: 'RSS before the idle clients', value: rss0 },
        ratio: rss1 / rss0,
        target: '10,000 connections <= 300 MB',
        pass: held >= 10_000 && rss1 <= 300,
        extra: {
          held,
          failed,
          rampSeconds: rampS,
          connectsPerSecond: held / rampS,
          kbPerConnection: ((rss1 - rss0) * 1024) / Math.max(1, held),
        },
      });

      phase('connections done');
      // reconnect storm: kill -9 the server (broker + cloud), restart it, time until all are back
      const all = [...idle, ...peers.map((p) => p.client!)];
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      const k0 = performance.now();
      await sleep(200);
      child = await spawnCloud(store, embedded);
      const ready = performance.now();
      let back = 0;
      while (performance.now() - ready < 45_000) {
        back = all.filter((c) => c.connected).length;
        if (back === all.length) break;
        await sleep(100);
      }
      const recover = (performance.now() - ready) / 1000;
      out.push({
        area: 'e2e',
        name: `reconnect storm: all ${all.length} clients back after a server restart (backoff 0.5-5 s, full jitter)`,
        value: recover,
        unit: 's',
        target: '<= 30 s',
        pass: back === all.length && recover <= 30,
        extra: { back, total: all.length, sinceKillSeconds: (performance.now() - k0) / 1000, rssAfterMb: rssMb(child.pid!) },
      });
      // and payments still work afterwards
      const after = await pay(0);
      out.push({
        area: 'e2e',
        name: 'payment after the storm',
        value: after.ms,
        unit: 'ms',
        pass: after.ok,
      });
      const inv2 = await check();
      out.push({
        area: 'e2e',
        name: 'invariants after kill -9 + restart',
        value: inv2.violations.length,
        unit: 'violations',
        target: '0',
        pass: inv2.ok,
      });
    } finally {
      // the store is thrown away: kill the server first so 10k clients close without a broker to talk to
      await stopChild(child, 'SIGKILL');
      await Promise.all(idle.map((c) => c.endAsync(true).catch(() => undefined)));
      await Promise.all(peers.map((p) => p.close()));
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
