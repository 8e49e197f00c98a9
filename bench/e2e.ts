/**
 * End to end over MQTT: simulated handsets (this process) -> embedded aedes broker ->
 * cloud -> durable stores -> result back to the handset. The cloud runs as its own
 * process (the built `handset cloud serve`), so the load generator and the server each
 * have a core of the 2-core machine.
 *
 * Side by side, on the same load: the embedded default (aedes in the cloud, one SQLite
 * file, WAL, synchronous FULL), Mosquitto + the same file, and Mosquitto + PostgreSQL
 * (synchronous_commit on). Figures: paced payments/s with p50/p99 over 8 s (the target
 * load, sustained: 8,000 payments, so the p99 is the 80th worst and not a handful of
 * outliers), closed-loop saturation, a 5,000-payment burst, and the CPU each side
 * spends per payment.
 *
 * The handsets sign their authorisations before each timed phase (a real handset signs
 * on its own CPU, not on the server's): the timed path is publish -> decide -> book ->
 * result, and the generator's own CPU stays out of the server's way.
 * Connections held and the reconnect storm are bench/connections.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type MosquittoProcess, startMosquitto, writeMosquittoConfig } from '../host-sdk/src/cloud/mqtt/mosquitto';
import { MqttPeer } from '../host-sdk/src/cloud/mqtt/sim-client';
import { dropSchema } from '../host-sdk/src/cloud/sql/pg';
import type { Authorisation } from '../host-sdk/src/protocol/index';
import {
  type CloudChild,
  cpuSeconds,
  freePort,
  ingestStats,
  pct,
  seedBenchWorld,
  sleep,
  spawnCloud,
  stopChild,
} from './cloud-proc';
import type { BenchResult, BenchSuite } from './types';

const PG_URL = process.env.HANDSET_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PACED_CLIENTS = 500;
const PACED_RATE = 2; // payments/s per handset -> 1,000/s
const PACED_MS = 8_000;
const SAT_CLIENTS = 64;
const SAT_MS = 2_000;
const ORDERS_PACED = 20;
const ORDERS_SAT = 400;
/** Burst: every paced handset sends this many payments at once (500 x 10 = 5,000 offered). */
const BURST = 10;
/** Warm-up payments per paced handset before the timed phases. */
const WARMUP = 2;

const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Users, handsets (registered), one merchant and every order the run will pay, in a few bulk transactions. */
/** One store behind the same embedded broker: warm-up, paced phase, saturation, invariants. */
async function measure(
  label: string,
  store: string,
  schema: string | undefined,
  broker: 'embedded' | 'mosquitto',
  out: BenchResult[],
): Promise<void> {
  const brokerPort = await freePort();
  const url = `mqtt://127.0.0.1:${brokerPort}`;
  let mosquitto: MosquittoProcess | undefined;
  let confDir: string | undefined;
  if (broker === 'mosquitto') {
    // a Mosquitto of our own with the generated config (ACL, TCP_NODELAY, queue limits)
    confDir = mkdtempSync(join(tmpdir(), 'bench-mosquitto-'));
    mosquitto = await startMosquitto(writeMosquittoConfig({ dir: confDir, port: brokerPort }), brokerPort);
  }
  const brokerArgs = broker === 'embedded' ? ['--broker', 'embedded', '--broker-port', String(brokerPort)] : ['--broker', url];
  const extra = schema ? ['--schema', schema] : [];
  let child: CloudChild | undefined;
  let peers: MqttPeer[] = [];
  const t0 = performance.now();
  const phase = (what: string) =>
    process.stderr.write(`bench: e2e ${label}: ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  try {
    const { handsets, check } = await seedBenchWorld({
      store,
      schema,
      handsets: Math.max(PACED_CLIENTS, SAT_CLIENTS),
      orders: (i) => WARMUP + ORDERS_PACED + BURST + (i < SAT_CLIENTS ? ORDERS_SAT : 0),
      prefix: 'hs-b',
    });
    phase('setup done');
    child = await spawnCloud(store, brokerArgs, extra);
    for (let i = 0; i < handsets.length; i += 50) {
      peers.push(
        ...(await Promise.all(
          handsets
            .slice(i, i + 50)
            .map((h) => new MqttPeer(h.deviceId, { url, backoff: { minMs: 500, maxMs: 5_000 }, keepalive: 60 }).connect()),
        )),
      );
    }
    phase('peers connected');
    const nextOrder = handsets.map(() => 0);
    const sign = (i: number): Authorisation => {
      const k = nextOrder[i]!++;
      return handsets[i]!.authorise({
        merchantId: 'm-bench',
        orderRef: `o-${i}-${k}`,
        amount: 1n + BigInt(k % 50),
        currency: 'EUR',
        nowMs: Date.now(),
      });
    };
    const pay = async (i: number, auth: Authorisation) => {
      const t = performance.now();
      const r = await peers[i]!.pay(auth, 5_000);
      return { ms: performance.now() - t, ok: r.status === 'approved', serverMs: r.decidedAt - r.receivedAt };
    };
    const cpu = (pid: number) => ({
      cloud: cpuSeconds(pid),
      cloudMain: cpuSeconds(`${pid}/task/${pid}`),
      generator: ownCpuSeconds(),
    });
    const perPayment = (a: ReturnType<typeof cpu>, b: ReturnType<typeof cpu>, n: number) => ({
      cloudCpuMsPerPayment: ((b.cloud - a.cloud) * 1000) / n,
      cloudEventLoopCpuMsPerPayment: ((b.cloudMain - a.cloudMain) * 1000) / n,
      generatorCpuMsPerPayment: ((b.generator - a.generator) * 1000) / n,
    });

    // warm-up (JIT on both sides), not measured: 2 payments per handset, spread over 1 s
    await Promise.all(
      peers.slice(0, PACED_CLIENTS).map(async (_p, i) => {
        for (let k = 0; k < WARMUP; k++) {
          await sleep(Math.random() * 500);
          await pay(i, sign(i));
        }
      }),
    );
    phase('warm');

    // paced: 500 handsets x 2/s, staggered start, jittered period; authorisations signed beforehand
    const signed = peers.slice(0, PACED_CLIENTS).map((_p, i) => Array.from({ length: ORDERS_PACED }, () => sign(i)));
    const lat: number[] = [];
    const server: number[] = [];
    let bad = 0;
    const c0 = cpu(child.pid!);
    const i0 = await ingestStats(child);
    const p0 = performance.now();
    const end = p0 + PACED_MS;
    const period = 1000 / PACED_RATE;
    await Promise.all(
      signed.map(async (mine, i) => {
        let next = p0 + Math.random() * period;
        for (const auth of mine) {
          if (next >= end) break;
          await sleep(next - performance.now());
          const r = await pay(i, auth);
          lat.push(r.ms);
          server.push(r.serverMs);
          if (!r.ok) bad++;
          next += period * (0.8 + 0.4 * Math.random());
        }
      }),
    );
    const rate = lat.length / ((performance.now() - p0) / 1000);
    const p99 = pct(lat, 99);
    const i1 = await ingestStats(child);
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
        ...perPayment(c0, cpu(child.pid!), lat.length),
        avgBatch: (i1.received - i0.received) / Math.max(1, i1.batches - i0.batches),
        loadAverage1m: loadavg()[0],
      },
    });

    // saturation: closed loop, one outstanding payment per handset, signed beforehand
    const queued = Array.from({ length: SAT_CLIENTS }, (_x, i) => Array.from({ length: ORDERS_SAT }, () => sign(i)));
    const sat: number[] = [];
    const c1 = cpu(child.pid!);
    const s0 = performance.now();
    const send = s0 + SAT_MS;
    await Promise.all(
      queued.map(async (mine, i) => {
        for (const auth of mine) {
          if (performance.now() >= send) break;
          sat.push((await pay(i, auth)).ms);
        }
      }),
    );
    out.push({
      area: 'e2e',
      name: `payments/s saturation (${SAT_CLIENTS} handsets closed loop; ${label})`,
      value: sat.length / ((performance.now() - s0) / 1000),
      unit: 'payments/s',
      extra: {
        p50Ms: pct(sat, 50),
        p99Ms: pct(sat, 99),
        payments: sat.length,
        ...perPayment(c1, cpu(child.pid!), sat.length),
        loadAverage1m: loadavg()[0],
      },
    });
    // burst (DESIGN §8: 5,000/s bursts with every invariant holding): all 500 handsets send
    // BURST payments at once, signed beforehand; every one must be decided and approved
    const bursting = peers.slice(0, PACED_CLIENTS).map((_p, i) => Array.from({ length: BURST }, () => sign(i)));
    const total = bursting.length * BURST;
    const c2 = cpu(child.pid!);
    const b0 = performance.now();
    const own: number[] = [];
    let approved = 0;
    const answers = bursting.flatMap((mine, i) =>
      mine.map(async (auth) => {
        const t = performance.now();
        const r = await peers[i]!.pay(auth, 10_000);
        own.push(performance.now() - t);
        if (r.status === 'approved') approved++;
      }),
    );
    const offeredIn = (performance.now() - b0) / 1000;
    await Promise.all(answers);
    const drained = (performance.now() - b0) / 1000;
    const offered = total / offeredIn;
    out.push({
      area: 'e2e',
      name: `burst: ${total} payments offered at once (${PACED_CLIENTS} handsets x ${BURST}; ${label})`,
      value: total / drained,
      unit: 'payments/s',
      target: '>= 5,000/s offered; every payment decided and approved; invariants hold',
      pass: offered >= 5_000 && approved === total,
      extra: {
        offeredPerSecond: Math.round(offered),
        drainedInS: drained,
        approved,
        p50Ms: pct(own, 50),
        p99Ms: pct(own, 99),
        ...perPayment(c2, cpu(child.pid!), total),
      },
    });
    await stopChild(child);
    child = undefined;
    const inv = await check();
    out.push({
      area: 'e2e',
      name: `invariants after the payments (money conserved, none booked twice; ${label})`,
      value: inv.violations.length,
      unit: 'violations',
      target: '0',
      pass: inv.ok,
      extra: { booked: inv.booked, violations: inv.violations.slice(0, 5) },
    });
  } finally {
    await stopChild(child, 'SIGKILL');
    await Promise.all(peers.map((p) => p.close()));
    peers = [];
    await mosquitto?.stop();
    if (confDir) rmSync(confDir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  area: 'e2e',
  async run(): Promise<BenchResult[]> {
    const out: BenchResult[] = [];
    // BENCH_E2E=embedded,mosquitto,postgres (default all) picks the runs
    const runs = (process.env.BENCH_E2E ?? 'embedded,mosquitto,postgres').split(',');
    for (const broker of (['embedded', 'mosquitto'] as const).filter((b) => runs.includes(b))) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
      try {
        const label =
          broker === 'embedded' ? 'embedded default: aedes in the cloud + one SQLite file' : 'Mosquitto + one SQLite file';
        await measure(label, `sqlite:${dir}`, undefined, broker, out);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (!runs.includes('postgres')) return out;
    const schema = `bench_e2e_${randomBytes(4).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    try {
      await measure('Mosquitto + PostgreSQL', PG_URL, schema, 'mosquitto', out);
    } catch (err) {
      out.push({ area: 'e2e', name: 'PostgreSQL run', value: Number.NaN, unit: '', pass: false, extra: { error: String(err) } });
    } finally {
      await dropSchema(pool, schema).catch(() => undefined);
      await pool.end();
    }
    return out;
  },
};
