import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runFlash } from '../../src/cli/commands/flash';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';
import { BundleError, FlashError } from '../../src/provision/errors';
import { generateReleaseKey } from '../../src/provision/keys';
import { readSlotState } from '../../src/provision/slots';
import { KEY, sampleBundle, snapshot, tempDir } from './helpers';

describe('handset flash (A/B slots)', () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  let key: string;
  let root: string;
  const bundle = async (version: string, seed: number, big = 0) => {
    const path = join(t.dir, `fw-${version}.tar`);
    await writeFile(path, sampleBundle(version, seed, big).bytes);
    return path;
  };

  beforeEach(async () => {
    t = await tempDir('flash-');
    root = join(t.dir, 'root');
    key = join(t.dir, 'release.key');
    // the sample bundles are signed with KEY; write its PEM as the trusted key
    const { ed25519PrivateKeyToPem } = await import('@handset/host-sdk/protocol');
    await writeFile(key, ed25519PrivateKeyToPem(KEY));
  });
  afterEach(async () => t.cleanup());

  it('fresh flash writes slot a and points current at it; the next goes to b, then a again', async () => {
    const io = recordingIo();
    const r1 = await runFlash({ bundle: await bundle('1.0.0', 1), target: root, key }, io);
    expect(r1).toMatchObject({ slot: 'a', previous: null, version: '1.0.0' });
    expect(await readlink(join(root, 'current'))).toBe('slots/a');
    expect(await readFile(join(root, 'current', 'firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 1');\n");
    expect(await readSlotState(root)).toMatchObject({ slot: 'a', version: '1.0.0', bootCount: 0, confirmed: false });
    expect((await readSlotState(root))?.previous).toBeUndefined();
    expect(io.stderr).toMatch(/flash: 100% \(\d+\/\d+ bytes, .*\/s\)/);

    const r2 = await runFlash({ bundle: await bundle('1.1.0', 2), target: root, key }, recordingIo());
    expect(r2).toMatchObject({ slot: 'b', previous: 'a', version: '1.1.0' });
    expect(await readlink(join(root, 'current'))).toBe('slots/b');
    expect(await readFile(join(root, 'current', 'firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 2');\n");
    expect(await readFile(join(root, 'slots/a/firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 1');\n");
    expect(await readSlotState(root)).toMatchObject({ slot: 'b', version: '1.1.0', previous: { slot: 'a', version: '1.0.0' } });

    const r3 = await runFlash({ bundle: await bundle('1.2.0', 3), target: root, key }, recordingIo());
    expect(r3).toMatchObject({ slot: 'a', previous: 'b' });
    expect(await readFile(join(root, 'slots/b/firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 2');\n");
    expect(JSON.parse(await readFile(join(root, 'slots/a/manifest.json'), 'utf8')).version).toBe('1.2.0');
  });

  it('an interrupted copy (fault injected mid-file) leaves current, state and the active slot untouched', async () => {
    await runFlash({ bundle: await bundle('1.0.0', 1), target: root, key }, recordingIo());
    const before = await snapshot(root);
    const big = await bundle('2.0.0', 5, 300_000);
    let writes = 0;
    const err = await runFlash({ bundle: big, target: root, key }, recordingIo(), {
      beforeWrite: (path, offset) => {
        writes++;
        if (path === 'firmware/blob.bin' && offset >= 128 * 1024) throw new Error('power cut');
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).code).toBe('FLASH_INTERRUPTED');
    expect(writes).toBeGreaterThan(2);
    const after = await snapshot(root);
    // the inactive slot b holds a partial copy; everything else is byte-identical
    for (const [k, v] of Object.entries(before)) expect(after[k], k).toBe(v);
    expect(Object.keys(after).filter((k) => !k.startsWith('slots/b/'))).toEqual(Object.keys(before));
    expect(after['slots/b/firmware/blob.bin']).toBeDefined();
    // a later complete flash of the same bundle succeeds into b
    expect(await runFlash({ bundle: big, target: root, key }, recordingIo())).toMatchObject({ slot: 'b', version: '2.0.0' });
  });

  it('a corrupted bundle is refused with a typed error before anything is written', async () => {
    await runFlash({ bundle: await bundle('1.0.0', 1), target: root, key }, recordingIo());
    await runFlash({ bundle: await bundle('1.1.0', 2), target: root, key }, recordingIo());
    const before = await snapshot(root);
    const bytes = sampleBundle('1.2.0', 3, 4000).bytes;
    const bad = Uint8Array.from(bytes);
    const blob = Buffer.from(bytes).indexOf('firmware/blob.bin\u0000'); // its tar header
    bad[blob + 512 + 2000]! ^= 0x40; // inside firmware/blob.bin's data
    const badPath = join(t.dir, 'bad.tar');
    await writeFile(badPath, bad);
    const err = await runFlash({ bundle: badPath, target: root, key }, recordingIo()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe('HASH_MISMATCH');
    expect(await snapshot(root)).toEqual(before);

    // an untrusted key: UNKNOWN_KEY, through the CLI (exit 1, one clear line)
    const other = join(t.dir, 'other.key');
    await generateReleaseKey(other);
    const io = recordingIo();
    const code = await main(['flash', '--bundle', await bundle('1.3.0', 4), '--target', root, '--key', other], io);
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/^handset: UNKNOWN_KEY: bundle is signed by key [0-9a-f]{16}, which is not trusted\n$/);
    expect(await snapshot(root)).toEqual(before);
  });

  it('refuses a target whose current link points outside the slots', async () => {
    const { mkdir, symlink } = await import('node:fs/promises');
    await mkdir(root, { recursive: true });
    await symlink('/etc', join(root, 'current'));
    const err = await runFlash({ bundle: await bundle('1.0.0', 1), target: root, key }, recordingIo()).catch((e: unknown) => e);
    expect((err as FlashError).code).toBe('BAD_TARGET');
  });
});
