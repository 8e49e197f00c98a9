/**
 * Shared by the benches that run the cloud as its own process (e2e, connections): the
 * built `handset cloud serve` spawned with the embedded aedes broker, a free port, the
 * process's RSS, and a clean stop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The built `handset` CLI (make bench builds it first): the server is measured as it ships, not under tsx. */
export const HANDSET_BIN = fileURLToPath(new URL('../host-sdk/bin/handset.js', import.meta.url));
export const SEED_KEY = 'a'.repeat(64);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Resident set size of a process, MB (from /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system) a process has used so far (from /proc; clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
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
