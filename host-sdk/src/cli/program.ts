import { HandsetError } from '@handset/device-drivers/core';
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index';
import type { CliIo } from './io';
import { processIo } from './io';
import { VERSION } from './version';

/**
 * Builds the `handset` program. Each command group lives in `commands/<group>.ts` and
 * exports `register(program, io)`; `commands/index.ts` lists them.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('handset')
    .description('Handset: fingerprint-and-QR payment handset - device simulators, host tools, cloud and merchant terminal')
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  for (const register of commands) register(program, io);
  return program;
}

/**
 * Runs the CLI and returns the exit code. Expected failures (HandsetError) print one
 * clear line `handset: <CODE>: message` and exit 1; usage errors exit 2.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof HandsetError) {
      io.err(`handset: ${err.code}: ${err.message}\n`);
      return 1;
    }
    io.err(`handset: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70;
  }
}
