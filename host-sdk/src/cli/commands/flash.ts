/**
 * `handset flash --bundle FILE --target DIR [--key FILE]`
 *
 * Installs a bundle into a handset root laid out as A/B slots (provision/slots.ts): the
 * bundle is verified first (nothing is touched if it is refused), the inactive slot is
 * written with a progress bar on stderr, every file is re-hashed against the manifest,
 * then `current` is switched atomically and state.json written; the previous slot stays
 * for rollback. --key names the trusted release key (public or private PEM; default the
 * development key in .handset/). Prints one JSON line: slot, previous, version.
 */
import { join, resolve } from 'node:path';
import { ValidationError } from '@handset/device-drivers/core';
import type { Command } from 'commander';
import { fileSource } from '../../provision/bundle';
import { BundleError } from '../../provision/errors';
import { DEV_KEY_DIR, DEV_PUB_FILE, loadTrustedKey } from '../../provision/keys';
import { byteProgress } from '../../provision/progress';
import { type InstallOptions, installBundle } from '../../provision/slots';
import type { CliIo } from '../io';
import { findRepoRoot } from './build';

export interface FlashOptions {
  bundle: string;
  target: string;
  key?: string;
  repo?: string;
}

/** The trusted key file: --key, else the dev key's .pub under the repository's .handset/. */
export async function trustedKeysFor(key: string | undefined, repo: string | undefined): Promise<Uint8Array[]> {
  let path = key;
  if (path === undefined) {
    try {
      path = join(findRepoRoot(repo), DEV_KEY_DIR, DEV_PUB_FILE);
    } catch (cause) {
      throw new ValidationError('no --key given and no repository with a .handset/ dev key here: pass --key release.pub', {
        code: 'CLI_ARG',
        cause,
      });
    }
  }
  return [await loadTrustedKey(path)];
}

export async function runFlash(
  o: FlashOptions,
  io: CliIo,
  faults: Pick<InstallOptions, 'beforeWrite'> = {},
): Promise<Record<string, unknown>> {
  const trustedKeys = await trustedKeysFor(o.key, o.repo);
  let src: Awaited<ReturnType<typeof fileSource>>;
  try {
    src = await fileSource(resolve(o.bundle));
  } catch (cause) {
    throw new BundleError('BAD_INPUT', `cannot open bundle ${o.bundle}`, { cause });
  }
  const progress = byteProgress(io, 'flash');
  try {
    const r = await installBundle(resolve(o.target), src, {
      trustedKeys,
      onProgress: (d, t) => progress.update(d, t),
      ...faults,
    });
    progress.stop();
    const summary = { target: resolve(o.target), slot: r.slot, previous: r.previous ?? null, version: r.manifest.version };
    io.out(`${JSON.stringify(summary)}\n`);
    return summary;
  } finally {
    progress.stop();
    await src.close?.();
  }
}

export function register(program: Command, io: CliIo): void {
  program
    .command('flash')
    .description('install a firmware bundle into the inactive A/B slot of a handset root file system and switch to it')
    .requiredOption('--bundle <file>', 'bundle made by `handset build`')
    .requiredOption('--target <dir>', 'handset root (slots/a, slots/b, current, state.json)')
    .option('--key <file>', 'trusted release key, PEM (default: the dev key in .handset/)')
    .option('--repo <dir>', 'repository root for the default key (default: found from the cwd)')
    .action(async (o: FlashOptions) => {
      await runFlash(o, io);
    });
}
