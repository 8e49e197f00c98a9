import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runBuild } from '../../src/cli/commands/build';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';
import { buildBundle, bytesSource, readBundle } from '../../src/provision/bundle';
import { BundleError } from '../../src/provision/errors';
import { generateReleaseKey, loadTrustedKey } from '../../src/provision/keys';
import { KEY, OTHER_KEY, PUB, sampleBundle, sampleFiles, tempDir } from './helpers';

const repo = join(import.meta.dirname, '..', '..', '..');

async function refusal(bytes: Uint8Array, trusted = [PUB]): Promise<BundleError> {
  try {
    await readBundle(bytesSource(bytes), { trustedKeys: trusted });
  } catch (err) {
    if (err instanceof BundleError) return err;
    throw err;
  }
  throw new Error('bundle was accepted');
}

describe('bundle', () => {
  it('builds, reads back and verifies; the manifest lists every file sorted', async () => {
    const { bytes, manifest } = sampleBundle();
    const v = await readBundle(bytesSource(bytes), { trustedKeys: [PUB] });
    expect(v.manifest).toEqual(manifest);
    expect(manifest.files.map((f) => f.path)).toEqual([
      'deploy/handset.service',
      'firmware/handsetd.js',
      'firmware/package.json',
    ]);
    expect(bytes.length % 512).toBe(0);
  });

  it('is deterministic: same input -> same bytes, input order does not matter', () => {
    const a = sampleBundle().bytes;
    const files = sampleFiles().reverse();
    const b = buildBundle({ files, version: '1.0.0', createdAt: 1_700_000_000_000, privateKey: KEY }).bytes;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(sampleBundle('1.0.1').bytes).equals(Buffer.from(a))).toBe(false);
  });

  it('is a tar GNU tar lists and extracts with the same contents', async () => {
    const t = await tempDir('bundle-tar-');
    try {
      const { bytes } = sampleBundle();
      await writeFile(join(t.dir, 'b.tar'), bytes);
      const list = execFileSync('tar', ['-tf', join(t.dir, 'b.tar')], { encoding: 'utf8' })
        .trim()
        .split('\n');
      expect(list).toEqual([
        'manifest.json',
        'manifest.sig',
        'deploy/handset.service',
        'firmware/handsetd.js',
        'firmware/package.json',
      ]);
      await mkdir(join(t.dir, 'x'));
      execFileSync('tar', ['-xf', join(t.dir, 'b.tar'), '-C', join(t.dir, 'x')]);
      expect(await readFile(join(t.dir, 'x', 'firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 1');\n");
    } finally {
      await t.cleanup();
    }
  });

  it('refuses with typed errors: UNKNOWN_KEY, TRUNCATED, BAD_FORMAT (trailing bytes), HASH_MISMATCH, BAD_SIGNATURE', async () => {
    const { bytes } = sampleBundle();
    expect((await refusal(bytes, [])).code).toBe('UNKNOWN_KEY');
    expect((await refusal(sampleBundle('1.0.0', 1, 0, OTHER_KEY).bytes)).code).toBe('UNKNOWN_KEY');
    expect((await refusal(bytes.subarray(0, bytes.length - 1))).code).toBe('TRUNCATED');
    expect((await refusal(bytes.subarray(0, 700))).code).toBe('TRUNCATED');
    const longer = new Uint8Array(bytes.length + 512);
    longer.set(bytes);
    expect((await refusal(longer)).code).toBe('BAD_FORMAT');
    // a different payload file with a correct tar header: the hash check catches it
    const at = Buffer.from(bytes).indexOf("console.log('handset 1')");
    const swapped = Uint8Array.from(bytes);
    swapped[at + 21] = '2'.charCodeAt(0);
    expect((await refusal(swapped)).code).toBe('HASH_MISMATCH');
    // a changed manifest (version) with its signature left alone
    const m = Buffer.from(bytes).indexOf('"1.0.0"');
    const forged = Uint8Array.from(bytes);
    forged[m + 1] = '9'.charCodeAt(0);
    expect((await refusal(forged)).code).toBe('BAD_SIGNATURE');
  });

  it('refuses every single flipped byte of a small bundle (exhaustive)', async () => {
    const { bytes } = sampleBundle();
    const codes = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      const bad = Uint8Array.from(bytes);
      bad[i]! ^= 0x01;
      codes.add((await refusal(bad)).code);
    }
    expect([...codes].sort()).toEqual(['BAD_FORMAT', 'BAD_SIGNATURE', 'HASH_MISMATCH', 'UNKNOWN_KEY']);
  }, 120_000);

  it('property: any single flipped byte (any position, any xor mask) of a larger bundle is refused', async () => {
    const { bytes } = sampleBundle('2.0.0', 7, 70_000);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, mask) => {
        const bad = Uint8Array.from(bytes);
        bad[pos]! ^= mask;
        const err = await refusal(bad);
        expect(err).toBeInstanceOf(BundleError);
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it('handset build: real firmware-ts build, signed with a given key, reproducible', async () => {
    const t = await tempDir('bundle-build-');
    try {
      const key = join(t.dir, 'release.key');
      await generateReleaseKey(key);
      const io = recordingIo();
      const a = await runBuild({ out: join(t.dir, 'a.tar'), key, version: '3.1.4', createdAt: '1700000000000', repo }, io);
      const b = await runBuild(
        {
          out: join(t.dir, 'b.tar'),
          key,
          version: '3.1.4',
          createdAt: '1700000000000',
          repo,
          dist: join(repo, 'firmware-ts', 'dist'),
        },
        io,
      );
      expect(io.stderr).not.toContain('WARNING');
      expect(a.sha256).toBe(b.sha256);
      const bytes = new Uint8Array(await readFile(join(t.dir, 'a.tar')));
      const v = await readBundle(bytesSource(bytes), { trustedKeys: [await loadTrustedKey(`${join(t.dir, 'release')}.pub`)] });
      expect(v.manifest.version).toBe('3.1.4');
      const paths = v.manifest.files.map((f) => f.path);
      expect(paths).toContain('firmware/handsetd.js');
      expect(paths).toContain('firmware/package.json');
      expect(paths).toContain('deploy/handset.service');
      expect(paths).toContain('deploy/99-handset.rules');
      const js = v.manifest.files.find((f) => f.path === 'firmware/handsetd.js')!;
      expect(js.size).toBeGreaterThan(100_000);
    } finally {
      await t.cleanup();
    }
  }, 60_000);

  it('handset build --version V through the CLI: the flag names the firmware, not the CLI version', async () => {
    const t = await tempDir('bundle-cli-');
    try {
      const key = join(t.dir, 'release.key');
      await generateReleaseKey(key);
      const io = recordingIo();
      const args = ['--key', key, '--dist', join(repo, 'firmware-ts', 'dist'), '--repo', repo, '--created-at', '1'];
      const code = await main(['build', '--version', '4.5.6', '--out', join(t.dir, 'x.tar'), ...args], io);
      expect(code).toBe(0);
      expect(JSON.parse(io.stdout).version).toBe('4.5.6');
      const bad = recordingIo();
      expect(await main(['build', '--version', '../x', '--out', join(t.dir, 'y.tar'), ...args], bad)).toBe(1);
      expect(bad.stderr).toMatch(/^handset: CLI_ARG: --version/);
      const v = recordingIo();
      expect(await main(['--version'], v)).toBe(0);
      expect(v.stdout).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      await t.cleanup();
    }
  });

  it('handset build without --key warns and uses a generated dev key under .handset/', async () => {
    const t = await tempDir('bundle-dev-');
    try {
      // a minimal fake repository: firmware-ts/package.json + deploy + a prebuilt dist
      await mkdir(join(t.dir, 'firmware-ts', 'deploy'), { recursive: true });
      await mkdir(join(t.dir, 'firmware-ts', 'dist'), { recursive: true });
      for (const ws of ['device-drivers', 'schematics']) {
        await mkdir(join(t.dir, ws), { recursive: true });
        await writeFile(join(t.dir, ws, 'package.json'), '{"dependencies":{"serialport":"^13.0.0"}}');
      }
      await writeFile(join(t.dir, 'firmware-ts', 'package.json'), '{"version":"0.9.0","dependencies":{"mqtt":"^5"}}');
      await writeFile(join(t.dir, 'firmware-ts', 'deploy', 'handset.service'), '[Unit]\n');
      await writeFile(join(t.dir, 'firmware-ts', 'dist', 'handsetd.js'), 'export {};\n');
      const io = recordingIo();
      const r = await runBuild(
        { out: join(t.dir, 'o.tar'), repo: t.dir, dist: join(t.dir, 'firmware-ts', 'dist'), createdAt: '0' },
        io,
      );
      expect(io.stderr).toMatch(/WARNING: no --key given; signing with the DEVELOPMENT key .*\.handset\/release-dev\.key/);
      expect(r.version).toBe('0.9.0');
      const pub = await loadTrustedKey(join(t.dir, '.handset', 'release-dev.pub'));
      const v = await readBundle(bytesSource(new Uint8Array(await readFile(join(t.dir, 'o.tar')))), { trustedKeys: [pub] });
      const pkg = v.manifest.files.find((f) => f.path === 'firmware/package.json');
      expect(pkg).toBeDefined();
      const io2 = recordingIo();
      await runBuild({ out: join(t.dir, 'o2.tar'), repo: t.dir, dist: join(t.dir, 'firmware-ts', 'dist'), createdAt: '0' }, io2);
      expect(io2.stderr).not.toContain('just generated');
      expect(await readFile(join(t.dir, 'o2.tar'))).toEqual(await readFile(join(t.dir, 'o.tar')));
    } finally {
      await t.cleanup();
    }
  });
});
