/**
 * Shared by the benches that run the cloud as its own process (e2e, connections): the
 * built `handset cloud serve` spawned with the embedded aedes broker, a free port, the
 * process's RSS, and a clean stop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CloudCenter } from '../host-sdk/src/cloud/center';
import { ACCOUNT_CODE, ledgerIds, TRANSFER_CODE } from '../host-sdk/src/cloud/ids';
import type { InvariantReport } from '../host-sdk/src/cloud/ledger/index';
import { SeedVault } from '../host-sdk/src/cloud/registry/vault';
import { SimHandset } from '../host-sdk/src/cloud/sim';
import { openStores } from '../host-sdk/src/cloud/stores';

export { freePort } from '../host-sdk/src/cloud/mqtt/mosquitto';

/** The built `handset` CLI (make bench builds it first): the server is measured as it ships, not under tsx. */
export const HANDSET_BIN = fileURLToPath(new URL('../host-sdk/bin/handset.js', import.meta.url));
export const SEED_KEY = 'a'.repeat(64);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** Resident set size of a process, MB (from /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * CPU seconds (user + system) a process has used so far (from /proc; clock ticks of 10 ms).
 * `"PID/task/TID"` gives one thread of it (the main thread: TID = PID, the event loop).
 */
export function cpuSeconds(pid: number | string): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** A spawned cloud and the HTTP URL from its "ready" line. */
export type CloudChild = ChildProcess & { httpUrl: string };

/** Spawns the built `handset cloud serve --quiet` on `store` and resolves once it logs "ready". */
export async function spawnCloud(store: string, broker: string[], extraArgs: string[] = []): Promise<CloudChild> {
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
      ...extraArgs,
      ...(process.env.BENCH_CLOUD_ARGS ?? '').split(' ').filter(Boolean),
    ],
    { env: { ...process.env, HANDSET_SEED_KEY: SEED_KEY }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const httpUrl = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.includes('"ready"')) resolve(String((JSON.parse(l) as { httpUrl?: string }).httpUrl ?? ''));
    });
    child.once('exit', (c) => reject(new Error(`cloud exited ${c}`)));
  });
  return Object.assign(child, { httpUrl });
}

/** The cloud's MQTT ingest counters from GET /health (batches decided, messages received). */
export async function ingestStats(child: CloudChild): Promise<{ batches: number; received: number; maxBatch: number }> {
  const r = (await (await fetch(`${child.httpUrl}/health`)).json()) as {
    mqtt?: { batches: number; received: number; maxBatch: number };
  };
  return r.mqtt ?? { batches: 0, received: 0, maxBatch: 0 };
}

export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await gone;
}

/**
 * The world a payment bench needs, in a few bulk transactions: merchant `m-bench`,
 * `handsets` funded consumers `u{i}` with `orders(i)` open orders `o-{i}-{k}` each
 * (amount 1 + k % 50), and as many handsets `{prefix}{i}` registered for them. `check`
 * runs the invariant checker on the store afterwards.
 */
export async function seedBenchWorld(o: {
  store: string;
  schema?: string;
  handsets: number;
  orders: (i: number) => number;
  prefix: string;
}): Promise<{ handsets: SimHandset[]; check: () => Promise<InvariantReport> }> {
  const open = () => openStores({ store: o.store, schema: o.schema, groupCommit: false });
  const stores = await open();
  const center = new CloudCenter({ registry: stores.registry, ledger: stores.ledger, vault: SeedVault.fromText(SEED_KEY) });
  await center.createMerchant({ merchantId: 'm-bench', currency: 'EUR' });
  const n = o.handsets;
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
      for (let k = 0; k < o.orders(i); k++) {
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
    const h = new SimHandset({ deviceId: `${o.prefix}${i}`, account: `u${i}` });
    h.accept(await center.register(h.registrationRequest(Date.now())));
    handsets.push(h);
  }
  await stores.close();
  return {
    handsets,
    check: async () => {
      const s = await open();
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
