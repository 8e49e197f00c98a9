/**
 * Connections held by one cloud process (DESIGN.md section 8 "Fleet"): 10,000 simulated
 * handsets connected to the built `handset cloud serve` (embedded aedes broker), each
 * subscribed to its own result topic like a real handset, plus 500 more that keep paying
 * at a paced rate (every payment must be approved). The figure is the cloud process's
 * RSS, peak while the payments flow (sampled every 100 ms), and the server CPU per
 * payment. `BENCH_CLOUD_HEAP=default` runs the server with V8's default heap policy
 * instead of `--heap lean` (the before/after in docs/cloud.md). Then the reconnect storm: kill -9 the server,
 * restart it, time until every client is back (capped exponential backoff with full
 * jitter), a payment works and the invariants hold.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { MqttPeer } from '../host-sdk/src/cloud/mqtt/sim-client';
import { connectMqtt } from '../host-sdk/src/mqtt/index';
import { cpuSeconds, freePort, pct, rssMb, seedBenchWorld, sleep, spawnCloud, stopChild } from './cloud-proc';
import type { BenchResult, BenchSuite } from './types';

/** Handsets that pay during the measurement (registered, funded, with orders). */
const PAYERS = 500;
/** Handsets connected besides the payers. */
const FLEET = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const HEAP = ['--heap', process.env.BENCH_CLOUD_HEAP ?? 'lean'];
const PAY_RATE = 1; // payments/s per paying handset -> 500/s
const PAY_MS = 6_000;
const WARMUP = 2;
const ORDERS = WARMUP + Math.ceil((PAY_MS / 1000) * PAY_RATE * 1.5) + 2;
const backoff = { minMs: 500, maxMs: 5_000 };

export const suite: BenchSuite = {
  area: 'connections',
  async run(): Promise<BenchResult[]> {
    const out: BenchResult[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'bench-conn-'));
    const store = `sqlite:${dir}`;
    const brokerPort = await freePort();
    const embedded = ['--broker', 'embedded', '--broker-port', String(brokerPort)];
    const url = `mqtt://127.0.0.1:${brokerPort}`;
    let child: ChildProcess | undefined;
    let peers: MqttPeer[] = [];
    const idle: MqttClient[] = [];
    const t0 = performance.now();
    const phase = (what: string) =>
      process.stderr.write(`bench: connections ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    try {
      const { handsets, check } = await seedBenchWorld({ store, handsets: PAYERS, orders: () => ORDERS, prefix: 'hs-c' });
      phase('setup done');
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
        return { ms: performance.now() - t, ok: r.status === 'approved' };
      };

      child = await spawnCloud(store, embedded, HEAP);
      const rssStart = rssMb(child.pid!);
      for (let i = 0; i < handsets.length; i += 50) {
        peers.push(
          ...(await Promise.all(
            handsets.slice(i, i + 50).map((h) => new MqttPeer(h.deviceId, { url, backoff, keepalive: 60 }).connect()),
          )),
        );
      }
      // warm-up (JIT on both sides), not measured
      await Promise.all(
        peers.map(async (_p, i) => {
          for (let k = 0; k < WARMUP; k++) {
            await sleep(Math.random() * 500);
            await pay(i);
          }
        }),
      );
      await sleep(500);
      const rss0 = rssMb(child.pid!);
      phase(`${PAYERS} payers connected and warm (RSS ${rss0.toFixed(0)} MB)`);

      // the rest of the fleet: handsets that connect and subscribe to their result topic
      const c0 = performance.now();
      const connectOne = async (i: number) => {
        const id = `hs-idle${i}`;
        const c = await connectMqtt(url, { clientId: id, username: id, keepalive: 120, clean: true, backoff });
        await c.subscribeAsync(`handset/v1/${id}/result`, { qos: 1 });
        idle.push(c);
      };
      let failed = 0;
      const nIdle = FLEET;
      for (let i = 0; i < nIdle; i += 250) {
        const r = await Promise.allSettled(Array.from({ length: Math.min(250, nIdle - i) }, (_x, j) => connectOne(i + j)));
        failed += r.filter((x) => x.status === 'rejected').length;
      }
      const rampS = (performance.now() - c0) / 1000;
      await sleep(500);
      const rssIdle = rssMb(child.pid!);
      phase(`${idle.length + peers.length} connected (RSS ${rssIdle.toFixed(0)} MB)`);

      // payments keep flowing through the payers while the fleet is connected; RSS sampled throughout
      const lat: number[] = [];
      let bad = 0;
      let rssPeak = rssIdle;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, rssMb(child!.pid!));
      }, 100);
      const cpu0 = cpuSeconds(child.pid!);
      const p0 = performance.now();
      const end = p0 + PAY_MS;
      const period = 1000 / PAY_RATE;
      try {
        await Promise.all(
          peers.map(async (_p, i) => {
            let next = p0 + Math.random() * period;
            while (next < end && nextOrder[i]! < ORDERS - 1) {
              await sleep(next - performance.now());
              const r = await pay(i);
              lat.push(r.ms);
              if (!r.ok) bad++;
              next += period * (0.8 + 0.4 * Math.random());
            }
          }),
        );
      } finally {
        clearInterval(sampler);
      }
      const payS = (performance.now() - p0) / 1000;
      const cpuPay = cpuSeconds(child.pid!) - cpu0;
      await sleep(300);
      const rssAfter = rssMb(child.pid!);
      rssPeak = Math.max(rssPeak, rssAfter);
      const held = idle.filter((c) => c.connected).length + peers.filter((p) => p.client?.connected).length;
      out.push({
        area: 'connections',
        name: `cloud process RSS, ${held} handsets connected, ${PAYERS} of them paying (peak; heap ${HEAP[1]})`,
        value: rssPeak,
        unit: 'MB',
        baseline: { name: `RSS with the ${PAYERS} payers only`, value: rss0 },
        ratio: rssPeak / rss0,
        target: '10,000 connected <= 300 MB',
        pass: held >= 10_000 + PAYERS && rssPeak <= 300 && bad === 0 && lat.length > 0,
        extra: {
          held,
          failed,
          rssAtStartMb: rssStart,
          rssIdleFleetMb: rssIdle,
          rssAfterPaymentsMb: rssAfter,
          kbPerConnection: ((rssIdle - rss0) * 1024) / Math.max(1, idle.length),
          rampSeconds: rampS,
          connectsPerSecond: idle.length / rampS,
          payments: lat.length,
          paymentsPerSecond: lat.length / payS,
          declined: bad,
          serverCpuMsPerPayment: (cpuPay * 1000) / Math.max(1, lat.length),
          serverCpuShare: cpuPay / payS,
          p50Ms: pct(lat, 50),
          p99Ms: pct(lat, 99),
          loadAverage1m: loadavg()[0],
        },
      });

      phase('payments under the fleet done');
      // reconnect storm: kill -9 the server (broker + cloud), restart it, time until all are back
      const all = [...idle, ...peers.map((p) => p.client!)];
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      const k0 = performance.now();
      await sleep(200);
      child = await spawnCloud(store, embedded, HEAP);
      const ready = performance.now();
      let back = 0;
      while (performance.now() - ready < 45_000) {
        back = all.filter((c) => c.connected).length;
        if (back === all.length) break;
        await sleep(100);
      }
      const recover = (performance.now() - ready) / 1000;
      out.push({
        area: 'connections',
        name: `reconnect storm: all ${all.length} clients back after kill -9 + restart (backoff 0.5-5 s, full jitter)`,
        value: recover,
        unit: 's',
        target: '<= 30 s',
        pass: back === all.length && recover <= 30,
        extra: { back, total: all.length, sinceKillSeconds: (performance.now() - k0) / 1000, rssAfterMb: rssMb(child.pid!) },
      });
      // and payments still work afterwards
      nextOrder[0] = ORDERS - 1;
      const after = await pay(0);
      out.push({ area: 'connections', name: 'payment after the storm', value: after.ms, unit: 'ms', pass: after.ok });
      const inv = await check();
      out.push({
        area: 'connections',
        name: 'invariants after payments under load + kill -9 + restart',
        value: inv.violations.length,
        unit: 'violations',
        target: '0',
        pass: inv.ok,
        extra: { booked: inv.booked, violations: inv.violations.slice(0, 5) },
      });
    } finally {
      // the store is thrown away: kill the server first so 10k clients close without a broker to talk to
      await stopChild(child, 'SIGKILL');
      await Promise.all(idle.map((c) => c.endAsync(true).catch(() => undefined)));
      await Promise.all(peers.map((p) => p.close()));
      peers = [];
      rmSync(dir, { recursive: true, force: true });
    }
    return out;
  },
};
