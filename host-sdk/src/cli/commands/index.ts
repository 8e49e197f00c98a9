import type { Command } from 'commander';
import type { CliIo } from '../io';
import { register as board } from './board';

export type RegisterCommands = (program: Command, io: CliIo) => void;

/** Every command group of the `handset` CLI, in the order `--help` lists them. */
export const commands: RegisterCommands[] = [board];
