/**
 * `handset sim fleet --seeds N [--seed S]`: the fleet simulation from the command line.
 *
 * Runs seeds S .. S+N-1 (S defaults to 1; `--seed S` alone replays one seed), prints a
 * line per seed and a summary (`--json`: the summary as one JSON object on stdout, the
 * per-seed lines on stderr). Exit 0 when every invariant held for every seed, 1 (a
 * typed FLEET_VIOLATION) when any broke, 2 for bad arguments.
 */
import { HandsetError } from '@handset/device-drivers/core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliIo } from '../cli/io';
import { FAULT_PRESET_NAMES, FAULT_PRESETS, type FaultPresetName } from './faults';
import { type FleetSummary, runFleet, type SeedReport } from './fleet';
import { PLANTED_BUGS, type PlantedBug, plantedBug } from './planted';

/** Some seed broke an invariant (exit 1). `details.failures` lists the first violation of each failing seed. */
export class FleetViolationError extends HandsetError {
  constructor(summary: FleetSummary) {
    const f = summary.failures[0];
    super(
      'FLEET_VIOLATION',
      `${summary.seeds - summary.ok} of ${summary.seeds} seeds broke an invariant; first: seed ${f?.seed} [${f?.preset}] ` +
        `${f?.invariant}: ${f?.detail} (replay: handset sim fleet --seed ${f?.seed})`,
      { device: 'sim', details: { failures: summary.failures } },
    );
  }
}

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got '${v}'`);
    return n;
  };
}

interface FleetCliOptions {
  seeds?: number;
  seed?: number;
  handsets: number;
  merchants: number;
  payments: number;
  faults?: FaultPresetName;
  json?: boolean;
  log?: boolean;
  tmp?: string;
  plant?: PlantedBug;
}

/** Registers `fleet` under the `sim` command group. */
export function registerFleetSim(sim: Command, io: CliIo): void {
  const presets = FAULT_PRESET_NAMES.map((n) => `  ${n.padEnd(19)} ${FAULT_PRESETS[n].about}`).join('\n');
  sim
    .command('fleet')
    .description('deterministic fleet simulation with seeded faults; exit 0 only if every invariant held for every seed')
    .option('--seeds <n>', 'how many seeds to run (consecutive, from --seed or 1)', intArg('--seeds', 1, 1_000_000))
    .option('--seed <s>', 'first seed; alone: replay just this seed', intArg('--seed', 0, Number.MAX_SAFE_INTEGER))
    .option('--handsets <n>', 'handsets per seed', intArg('--handsets', 1, 2_000), 20)
    .option('--merchants <n>', 'merchants per seed', intArg('--merchants', 1, 200), 4)
    .option('--payments <n>', 'payments each handset tries', intArg('--payments', 1, 100), 3)
    .addOption(
      new Option('--faults <preset>', 'run every seed with this fault preset (default: the seeds cycle through all)').choices(
        FAULT_PRESET_NAMES,
      ),
    )
    .option('--json', 'print the summary as one JSON object (per-seed lines go to stderr)')
    .option('--log', "print each seed's event log (with --seed: what happened, step by step)")
    .option('--tmp <dir>', 'parent directory for the per-seed SQLite stores (default /dev/shm, else the OS temp dir)')
    .addOption(
      new Option('--plant <bug>', 'self-test of the checker: plant a known cloud bug (on replays); the run must fail').choices(
        PLANTED_BUGS,
      ),
    )
    .addHelpText('after', `\nFault presets:\n${presets}\n`)
    .action(async (o: FleetCliOptions, cmd: Command) => {
      if (o.seeds === undefined && o.seed === undefined)
        cmd.error('error: give --seeds N (and optionally --seed S), or --seed S to replay one seed', {
          exitCode: 2,
          code: 'handset.sim.fleet.args',
        });
      const line = o.json ? (t: string) => io.err(t) : (t: string) => io.out(t);
      const summary = await runFleet({
        from: o.seed ?? 1,
        seeds: o.seeds ?? 1,
        handsets: o.handsets,
        merchants: o.merchants,
        paymentsPerHandset: o.payments,
        preset: o.faults,
        tmpDir: o.tmp,
        keepLog: o.log,
        hooks: o.plant && plantedBug(o.plant),
        onSeed: (r) => {
          line(`${seedLine(r)}\n`);
          if (r.log) line(`${r.log.map((l) => `  ${l}`).join('\n')}\n`);
        },
      });
      if (o.json) io.out(`${JSON.stringify(summary)}\n`);
      else
        io.out(
          `fleet: ${summary.seeds} seeds, ${summary.ok} ok, ${summary.violations} violations; ${summary.payments} payments ` +
            `(${summary.approved} approved, ${summary.declined} declined); ${summary.seedsPerSecond} seeds/s\n`,
        );
      if (summary.failures.length) throw new FleetViolationError(summary);
    });
}

function seedLine(r: SeedReport): string {
  const head = `seed ${r.seed} [${r.preset}]`;
  const first = r.violations[0];
  if (first) return `${head} VIOLATION ${first.invariant}: ${first.detail} (replay: handset sim fleet --seed ${r.seed})`;
  const declines = Object.entries(r.declines)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `${head} ok: ${r.payments} payments, ${r.approved} approved, ${r.declined} declined${declines ? ` (${declines})` : ''}; ` +
    `${r.events} events, digest ${r.digest.slice(0, 16)}, ${(r.wallMs / 1000).toFixed(2)} s`
  );
}
