/**
 * The handset's A/B root file system, shared by `handset flash` (host, writing an SD
 * card or image mount) and the handset's own OTA agent (firmware-ts/src/ota):
 *
 *     DIR/slots/a/  DIR/slots/b/      one installed bundle each (payload files + manifest.json)
 *     DIR/current -> slots/a          symlink: the active slot; switched by rename(2) of a new link
 *     DIR/state.json                  {slot, version, bootCount, confirmed, previous?, rolledBackFrom?}
 *
 * Install = verify the bundle (nothing written if it is refused), write the INACTIVE
 * slot, re-hash every written file against the manifest, then switch `current`
 * atomically and write state.json (tmp + fsync + rename). The previous slot is kept for
 * rollback. The symlink is the truth: if power fails between the switch and the state
 * write, `reconcileState` sees `current` != state.slot and treats the new slot as an
 * unconfirmed install whose previous slot is the old one.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { type BundleManifest, bundleManifestSchema } from '@handset/host-sdk/protocol';
import { z } from 'zod';
import { type ByteSource, MANIFEST_NAME, readBundle } from './bundle';
import { FlashError } from './errors';

export type SlotName = 'a' | 'b';
export const otherSlot = (s: SlotName): SlotName => (s === 'a' ? 'b' : 'a');

const slotInfo = z.strictObject({ slot: z.enum(['a', 'b']), version: z.string() });
export const slotStateSchema = z.strictObject({
  v: z.literal(1),
  slot: z.enum(['a', 'b']),
  version: z.string(),
  /** Starts of this slot since it was installed that did not confirm (health check). */
  bootCount: z.number().int().min(0),
  /** True once the runtime started healthily from this slot. */
  confirmed: z.boolean(),
  previous: slotInfo.optional(),
  rolledBackFrom: slotInfo.optional(),
  updatedAt: z.number().int().min(0),
});
export type SlotState = z.output<typeof slotStateSchema>;

export const slotDir = (root: string, slot: SlotName): string => join(root, 'slots', slot);

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The slot `current` points at, or undefined on a blank root. */
export async function activeSlot(root: string): Promise<SlotName | undefined> {
  let target: string;
  try {
    target = await readlink(join(root, 'current'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FlashError('BAD_TARGET', `${join(root, 'current')} is not a symlink`, { cause: err });
  }
  if (target === 'slots/a' || target === 'slots/b') return target.slice(-1) as SlotName;
  throw new FlashError('BAD_TARGET', `${join(root, 'current')} points at ${target}, not slots/a or slots/b`);
}

export async function readSlotState(root: string): Promise<SlotState | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, 'state.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return slotStateSchema.parse(JSON.parse(text));
  } catch (cause) {
    throw new FlashError('BAD_TARGET', `${join(root, 'state.json')} is not a valid slot state`, { cause });
  }
}

export async function writeSlotState(root: string, state: SlotState): Promise<void> {
  const path = join(root, 'state.json');
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify(slotStateSchema.parse(state), null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncPath(root);
}

/** Points `current` at the slot: a new symlink renamed over the old one (atomic). */
export async function switchCurrent(root: string, slot: SlotName): Promise<void> {
  const tmp = join(root, 'current.tmp');
  await unlink(tmp).catch(() => undefined);
  await symlink(`slots/${slot}`, tmp);
  await rename(tmp, join(root, 'current'));
  await fsyncPath(root);
}

/** The verified manifest kept in a slot, or undefined if the slot is empty or broken. */
export async function slotManifest(root: string, slot: SlotName): Promise<BundleManifest | undefined> {
  try {
    return bundleManifestSchema.parse(JSON.parse(await readFile(join(slotDir(root, slot), MANIFEST_NAME), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * The state, reconciled with `current` (see the file comment). Undefined on a blank root.
 * Writes the repaired state when it had to repair it.
 */
export async function reconcileState(root: string, now = Date.now()): Promise<SlotState | undefined> {
  const active = await activeSlot(root);
  const state = await readSlotState(root);
  if (!active) return state;
  if (state && state.slot === active) return state;
  const version = (await slotManifest(root, active))?.version ?? 'unknown';
  const repaired: SlotState = {
    v: 1,
    slot: active,
    version,
    bootCount: 0,
    confirmed: false,
    previous: state ? { slot: state.slot, version: state.version } : undefined,
    updatedAt: now,
  };
  await writeSlotState(root, repaired);
  return repaired;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: h.digest('hex') };
}

/** Re-hashes a slot's files against its manifest; FlashError VERIFY_FAILED on any difference or extra file. */
export async function verifySlot(root: string, slot: SlotName, manifest: BundleManifest): Promise<void> {
  const dir = slotDir(root, slot);
  const want = manifest.files.map((f) => f.path);
  const have = (await listFiles(dir)).filter((p) => p !== MANIFEST_NAME);
  if (have.join('\n') !== want.join('\n'))
    throw new FlashError('VERIFY_FAILED', `slot ${slot} holds other files than the manifest lists`, { details: { slot } });
  for (const f of manifest.files) {
    const got = await hashFile(join(dir, f.path));
    if (got.size !== f.size || got.sha256 !== f.sha256)
      throw new FlashError('VERIFY_FAILED', `slot ${slot}: ${f.path} does not match the manifest`, {
        details: { slot, path: f.path },
      });
  }
}

export interface InstallOptions {
  trustedKeys: readonly Uint8Array[];
  /** Bytes of file data written so far, of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Fault injection (tests): called before each write; a throw interrupts the copy there. */
  beforeWrite?: (path: string, fileOffset: number) => void;
  now?: () => number;
}

export interface InstallResult {
  slot: SlotName;
  previous?: SlotName;
  manifest: BundleManifest;
  state: SlotState;
}

/**
 * Installs a bundle into the inactive slot and switches to it (unconfirmed: the next
 * start must pass the health check, see firmware-ts/src/ota/boot.ts). A refused bundle
 * (BundleError) or an interrupted copy (FlashError FLASH_INTERRUPTED) leaves the active
 * slot, `current` and state.json exactly as they were.
 */
export async function installBundle(root: string, source: ByteSource, options: InstallOptions): Promise<InstallResult> {
  const now = options.now ?? Date.now;
  const verified = await readBundle(source, { trustedKeys: options.trustedKeys });
  await mkdir(join(root, 'slots'), { recursive: true });
  const before = await reconcileState(root, now());
  const active = await activeSlot(root);
  const target: SlotName = active ? otherSlot(active) : 'a';
  const dir = slotDir(root, target);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    await readBundle(source, {
      trustedKeys: options.trustedKeys,
      onProgress: options.onProgress,
      visitor: {
        async file(path) {
          const dest = join(dir, path);
          await mkdir(dirname(dest), { recursive: true });
          const fh = await open(dest, 'w', 0o644);
          let offset = 0;
          return {
            async write(chunk) {
              try {
                options.beforeWrite?.(path, offset);
              } catch (cause) {
                await fh.close();
                throw new FlashError('FLASH_INTERRUPTED', `copy interrupted at ${path}+${offset}`, { cause, details: { path } });
              }
              await fh.write(chunk, 0, chunk.length, offset);
              offset += chunk.length;
            },
            async end() {
              await fh.sync();
              await fh.close();
            },
          };
        },
      },
    });
  } catch (err) {
    if (err instanceof FlashError) throw err;
    throw new FlashError('FLASH_INTERRUPTED', `copy into slot ${target} failed: ${(err as Error).message}`, { cause: err });
  }
  await verifySlot(root, target, verified.manifest);
  const manifestPath = join(dir, MANIFEST_NAME);
  await writeFile(manifestPath, `${JSON.stringify(verified.manifest, null, 1)}\n`);
  await fsyncPath(manifestPath);
  await switchCurrent(root, target);
  const state: SlotState = {
    v: 1,
    slot: target,
    version: verified.manifest.version,
    bootCount: 0,
    confirmed: false,
    previous: active && before ? { slot: active, version: before.version } : undefined,
    updatedAt: now(),
  };
  await writeSlotState(root, state);
  return { slot: target, previous: active, manifest: verified.manifest, state };
}
