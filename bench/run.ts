/**
 * `make bench`: runs every area's benchmarks in one process, one after another, prints
 * a side-by-side table (value, baseline, ratio, target, pass) and writes
 * bench/results.json. `make bench ONLY=r307,scan` runs a subset.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import type { BenchResult, BenchSuite } from './types';

const suites: Array<() => Promise<BenchSuite>> = [
  () => import('./ledger').then((m) => m.suite),
  () => import('./e2e').then((m) => m.suite),
  () => import('./connections').then((m) => m.suite),
  () => import('./eink').then((m) => m.suite),
  () => import('./r307').then((m) => m.suite),
  () => import('./scan').then((m) => m.suite),
  () => import('./protocol').then((m) => m.suite),
  () => import('./merchant').then((m) => m.suite),
  () => import('./pinpad').then((m) => m.suite),
];

const only = (process.env.ONLY ?? '').split(',').filter(Boolean);
const results: BenchResult[] = [];

for (const load of suites) {
  const suite = await load();
  if (only.length && !only.includes(suite.area)) continue;
  process.stderr.write(`bench: ${suite.area} ...\n`);
  const t0 = performance.now();
  try {
    const r = await suite.run();
    results.push(...r);
  } catch (err) {
    results.push({
      area: suite.area,
      name: 'suite failed',
      value: Number.NaN,
      unit: '',
      pass: false,
      extra: { error: String(err) },
    });
  }
  process.stderr.write(`bench: ${suite.area} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n)
    ? '-'
    : Math.abs(n) >= 100
      ? n.toFixed(0)
      : Math.abs(n) >= 1
        ? n.toFixed(2)
        : n.toPrecision(3);
const rows = results.map((r) => [
  r.area,
  r.name,
  `${fmt(r.value)} ${r.unit}`,
  r.baseline ? `${fmt(r.baseline.value)} (${r.baseline.name})` : '-',
  r.ratio === undefined ? '-' : `${fmt(r.ratio)}x`,
  r.target ?? '-',
  r.pass === undefined ? '' : r.pass ? 'PASS' : 'MISS',
]);
const head = ['area', 'measure', 'value', 'baseline', 'ratio', 'target', ''];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));

writeFileSync(
  new URL('./results.json', import.meta.url),
  `${JSON.stringify({ at: new Date().toISOString(), machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version }, results }, null, 2)}\n`,
);
