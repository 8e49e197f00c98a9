/**
 * The built `handset` bin for end-to-end tests. `ensureCliBuilt()` rebuilds
 * host-sdk/dist when it is missing or older than any workspace source it bundles
 * (serialised across processes with flock). vitest's global setup calls it once, so
 * tests can spawn `node HANDSET_BIN ...` directly.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const HANDSET_BIN = join(ROOT, 'host-sdk/bin/handset.js');

const BUNDLED_SOURCES = ['host-sdk/src', 'device-drivers/src', 'firmware-ts/src', 'schematics/src', 'hil-tests/src'];

function newestSource(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|json)$/.test(entry.name))
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export function ensureCliBuilt(): void {
  const dist = join(ROOT, 'host-sdk/dist/cli.js');
  const sources = Math.max(...BUNDLED_SOURCES.map((d) => newestSource(join(ROOT, d))));
  if (existsSync(dist) && statSync(dist).mtimeMs >= sources) return;
  execFileSync('flock', ['/tmp/handset-build.lock', 'npm', 'run', 'build', '-w', '@handset/host-sdk'], {
    cwd: ROOT,
    stdio: 'ignore',
  });
}
