import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A temp directory standing in for / (fake /dev and /sys files). */
export async function fakeRoot(files: Record<string, string> = {}): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'handset-fakeroot-'));
  for (const [p, content] of Object.entries(files)) {
    const full = join(root, p);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}
