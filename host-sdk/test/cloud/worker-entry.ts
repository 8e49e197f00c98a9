// Child-process entry for fault tests: `handset cloud serve ...` (the real command
// code), registered alone so the child starts fast under tsx.
import { Command } from 'commander';
import { register } from '../../src/cli/commands/cloud';
import { processIo } from '../../src/cli/io';

const program = new Command('handset').exitOverride();
register(program, processIo);
await program.parseAsync(process.argv.slice(2), { from: 'user' });
