/**
 * `handset build [--out FILE] [--version V] [--key release.key] [--dist DIR] [--created-at MS]`
 *
 * Builds firmware-ts (tsup -> dist/handsetd.js) and packs it with firmware-ts/deploy/*
 * into a deterministic, Ed25519-signed bundle (host-sdk/src/provision/bundle.ts). Without
 * --key, a development key in .handset/release-dev.key is used (generated on first use)
 * and a warning is printed. Prints one JSON line: out, version, bytes, files, keyId,
 * bundleSha256 (payload) and sha256 (whole file).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ValidationError } from '@handset/device-drivers/core';
import { FIRMWARE_VERSION_RE } from '@handset/host-sdk/protocol';
import type { Command } from 'commander';
import { buildBundle } from '../../provision/bundle';
import { buildFirmwareDist, collectFirmwareFiles, reproducibleCreatedAt } from '../../provision/firmware';
import { devReleaseKey, loadReleaseKey } from '../../provision/keys';
import type { CliIo } from '../io';

/** The repository root: --repo, else the nearest ancestor of cwd holding firmware-ts/package.json. */
export function findRepoRoot(explicit?: string): string {
  if (explicit) return resolve(explicit);
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, 'firmware-ts', 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new ValidationError('not inside the handset repository (no firmware-ts/package.json above the cwd); pass --repo', {
        code: 'CLI_ARG',
      });
    dir = up;
  }
}

export interface BuildOptions {
  out?: string;
  version?: string;
  key?: string;
  dist?: string;
  createdAt?: string;
  repo?: string;
}

export async function runBuild(o: BuildOptions, io: CliIo): Promise<Record<string, unknown>> {
  const repo = findRepoRoot(o.repo);
  if (o.version !== undefined && !FIRMWARE_VERSION_RE.test(o.version))
    throw new ValidationError(`--version '${o.version}' must be 1-64 of [0-9A-Za-z.+-]`, { code: 'CLI_ARG' });
  if (o.createdAt !== undefined && !/^\d{1,15}$/.test(o.createdAt))
    throw new ValidationError(`--created-at '${o.createdAt}' must be ms since the epoch`, { code: 'CLI_ARG' });
  let key: { privateKey: Uint8Array; keyId: string };
  if (o.key) key = await loadReleaseKey(o.key);
  else {
    const dev = await devReleaseKey(repo);
    io.err(
      `handset build: WARNING: no --key given; signing with the DEVELOPMENT key ${dev.path} (${dev.keyId}${dev.created ? ', just generated' : ''}). Handsets in the field must not trust it.\n`,
    );
    key = dev;
  }
  const dist = o.dist ? resolve(o.dist) : await buildFirmwareDist(repo);
  const input = await collectFirmwareFiles(repo, dist);
  const version = o.version ?? input.packageVersion;
  const createdAt = o.createdAt !== undefined ? Number(o.createdAt) : await reproducibleCreatedAt(repo);
  const { bytes, manifest } = buildBundle({ files: input.files, version, createdAt, privateKey: key.privateKey });
  const out = resolve(o.out ?? `handset-firmware-${version}.tar`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, bytes);
  const summary = {
    out,
    version,
    createdAt,
    bytes: bytes.length,
    files: manifest.files.length,
    keyId: key.keyId,
    bundleSha256: manifest.bundleSha256,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  io.out(`${JSON.stringify(summary)}\n`);
  return summary;
}

export function register(program: Command, io: CliIo): void {
  // `handset build --version V` names the firmware version: the root program's own
  // `-V, --version` must then only count before the subcommand (commander's positional
  // options), or it would swallow the flag and print the CLI's version instead.
  program.enablePositionalOptions();
  program
    .command('build')
    .description('build the firmware and pack it as a signed, deterministic bundle (tar + manifest)')
    .option('--out <file>', 'bundle file to write (default handset-firmware-<version>.tar)')
    .option('--version <v>', 'firmware version (default: firmware-ts package.json version)')
    .option('--key <file>', 'Ed25519 release key, PKCS#8 PEM (default: dev key in .handset/, with a warning)')
    .option('--dist <dir>', 'use an already built firmware-ts/dist instead of building')
    .option('--created-at <ms>', 'manifest createdAt (default SOURCE_DATE_EPOCH, else the last commit of the sources)')
    .option('--repo <dir>', 'repository root (default: found from the cwd)')
    .action(async (o: BuildOptions) => {
      await runBuild(o, io);
    });
}
