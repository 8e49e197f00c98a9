import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCrypto } from '@handset/host-sdk/protocol';
import { type BundleFile, buildBundle } from '../../src/provision/bundle';

/** A fixed release key (seed 1..32) so bundles are reproducible across runs. */
export const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
export const PUB = nodeCrypto.ed25519PublicKey(KEY);
export const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);

export function sampleFiles(seed = 1, big = 0): BundleFile[] {
  const enc = new TextEncoder();
  const files: BundleFile[] = [
    { path: 'firmware/handsetd.js', data: enc.encode(`console.log('handset ${seed}');\n`) },
    { path: 'deploy/handset.service', data: enc.encode('[Service]\nExecStart=/usr/bin/node handsetd.js\n') },
    { path: 'firmware/package.json', data: enc.encode('{"type":"module"}\n') },
  ];
  if (big > 0) {
    const data = new Uint8Array(big);
    let x = seed * 2654435761;
    for (let i = 0; i < big; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    files.push({ path: 'firmware/blob.bin', data });
  }
  return files;
}

export function sampleBundle(version = '1.0.0', seed = 1, big = 0, key = KEY) {
  return buildBundle({ files: sampleFiles(seed, big), version, createdAt: 1_700_000_000_000, privateKey: key });
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file (content) and symlink (target) under dir, for "nothing changed" checks. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out[r] = `-> ${await readlink(p)}`;
      else if (e.isDirectory()) await walk(p, r);
      else out[r] = (await readFile(p)).toString('base64');
    }
  };
  await walk(dir, '');
  return out;
}
