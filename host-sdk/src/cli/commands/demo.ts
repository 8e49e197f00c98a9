/**
 * `handset demo`: scripted payments end to end on the simulated handset (DESIGN §7),
 * both flows, through the same HIL scenarios the test suite runs
 * (hil-tests/src/scenarios): the real cloud (SQLite in memory, embedded aedes broker),
 * the real merchant terminal library, the handset runtime on simulated devices. Prints
 * every step; after each scenario checks the cloud's invariants. Exit 0 when everything
 * held, 1 with `handset: DEMO_FAILED: <scenario>: <what went wrong>` otherwise.
 *
 *   handset demo [--scenario NAME]... [--paycode-seconds N] [--list]
 */
import { HandsetError, ValidationError } from '@handset/device-drivers/core';
import { createSimTarget, runScenarios, SCENARIOS, type Target } from '@handset/hil-tests/scenarios';
import type { Command } from 'commander';
import type { CliIo } from '../io';

export function register(program: Command, io: CliIo): void {
  program
    .command('demo')
    .description('scripted payments end to end on the simulated handset (both flows); exit 0 on success')
    .option('--scenario <name>', 'run only this scenario (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--paycode-seconds <n>', 'pay-code session length on the handset (1-60)', '5')
    .option('--list', 'list the scenarios and exit')
    .action(async (o: { scenario: string[]; paycodeSeconds: string; list?: boolean }) => {
      if (o.list) {
        for (const s of SCENARIOS) io.out(`${s.name}\t${s.title}\n`);
        return;
      }
      const secs = Number(o.paycodeSeconds);
      if (!/^[0-9]+$/.test(o.paycodeSeconds) || secs < 1 || secs > 60)
        throw new ValidationError('--paycode-seconds must be an integer from 1 to 60', { code: 'BAD_ARGUMENT' });
      const unknown = o.scenario.filter((n) => !SCENARIOS.some((s) => s.name === n));
      if (unknown.length)
        throw new ValidationError(`unknown scenario ${unknown.join(', ')} (have: ${SCENARIOS.map((s) => s.name).join(', ')})`, {
          code: 'BAD_ARGUMENT',
        });
      const list = o.scenario.length
        ? SCENARIOS.filter((s) => o.scenario.includes(s.name) || s.name === 'registration')
        : SCENARIOS;
      const log = (line: string) => io.out(`${line}\n`);
      const started = performance.now();
      let t: Target | undefined;
      try {
        t = await createSimTarget({ paycodeShowMs: secs * 1000, log });
        const done = await runScenarios(t, list, log);
        const ms = Math.round(performance.now() - started);
        io.out(`demo ok: ${done.length} scenario(s) passed in ${ms} ms; money conserved, no payment booked twice\n`);
      } catch (err) {
        if (err instanceof HandsetError) throw err;
        throw new HandsetError('DEMO_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
      } finally {
        await t?.close();
      }
    });
}
