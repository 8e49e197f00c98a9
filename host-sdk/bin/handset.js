#!/usr/bin/env node
// The `handset` command. `make` builds dist/cli.js with tsup; this file only loads it.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(dist)) {
  process.stderr.write('handset: dist/cli.js is missing; run `make setup` (or `npm run build`) first\n');
  process.exit(2);
}
const { main } = await import(dist.href);
process.exitCode = await main(process.argv.slice(2));
