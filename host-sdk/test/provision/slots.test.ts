import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/provision/bundle';
import { FlashError } from '../../src/provision/errors';
import { installBundle, readSlotState, reconcileState, switchCurrent, verifySlot } from '../../src/provision/slots';
import { PUB, sampleBundle, tempDir } from './helpers';

describe('A/B slot state', () => {
  let t: { dir: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    t = await tempDir('slots-');
  });
  afterEach(async () => t.cleanup());

  it('power cut between the symlink switch and the state write: reconcile trusts current, keeps the old slot as previous', async () => {
    const root = t.dir;
    await installBundle(root, bytesSource(sampleBundle('1.0.0', 1).bytes), { trustedKeys: [PUB] });
    await installBundle(root, bytesSource(sampleBundle('1.1.0', 2).bytes), { trustedKeys: [PUB] });
    expect(await readSlotState(root)).toMatchObject({ slot: 'b' });
    // simulate: current switched to a, state.json still says b
    await switchCurrent(root, 'a');
    const s = await reconcileState(root, 42);
    expect(s).toMatchObject({
      slot: 'a',
      version: '1.0.0',
      confirmed: false,
      bootCount: 0,
      previous: { slot: 'b', version: '1.1.0' },
    });
    expect(await readSlotState(root)).toEqual(s);
    expect(await readlink(join(root, 'current'))).toBe('slots/a');
  });

  it('verifySlot refuses a changed or an extra file', async () => {
    const root = t.dir;
    const r = await installBundle(root, bytesSource(sampleBundle('1.0.0', 1).bytes), { trustedKeys: [PUB] });
    await verifySlot(root, 'a', r.manifest);
    await writeFile(join(root, 'slots/a/firmware/extra.js'), 'x');
    await expect(verifySlot(root, 'a', r.manifest)).rejects.toMatchObject({ code: 'VERIFY_FAILED' });
    const r2 = await installBundle(root, bytesSource(sampleBundle('1.0.1', 3).bytes), { trustedKeys: [PUB] });
    await writeFile(join(root, 'slots/b/firmware/handsetd.js'), "console.log('evil');\n");
    const err = await verifySlot(root, 'b', r2.manifest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).details).toMatchObject({ path: 'firmware/handsetd.js' });
  });

  it('a corrupt state.json is a typed BAD_TARGET error', async () => {
    await mkdir(t.dir, { recursive: true });
    await writeFile(join(t.dir, 'state.json'), '{"v":1,"slot":"c"}');
    await expect(readSlotState(t.dir)).rejects.toMatchObject({ code: 'BAD_TARGET' });
  });
});
