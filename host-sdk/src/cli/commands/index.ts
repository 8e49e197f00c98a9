import type { Command } from 'commander';
import type { CliIo } from '../io';
import { register as board } from './board';
import { register as build } from './build';
import { register as cloud } from './cloud';
import { register as demo } from './demo';
import { register as display } from './display';
import { register as emv } from './emv';
import { register as flash } from './flash';
import { register as fleet } from './fleet';
import { register as merchant } from './merchant';
import { register as ota } from './ota';
import { register as provision } from './provision';
import { register as r307 } from './r307';
import { register as run } from './run';
import { register as scan } from './scan';

export type RegisterCommands = (program: Command, io: CliIo) => void;

/** Every command group of the `handset` CLI, in the order `--help` lists them. */
export const commands: RegisterCommands[] = [
  board,
  build,
  cloud,
  demo,
  display,
  emv,
  flash,
  fleet,
  merchant,
  ota,
  provision,
  r307,
  run,
  scan,
];
