/**
 * What goes into a firmware bundle: firmware-ts's build (`npm run build -w
 * @handset/firmware` = tsup -> firmware-ts/dist/handsetd.js, workspace code inlined), a
 * generated firmware/package.json naming the third-party runtime dependencies the image
 * must provide (native addons stay outside the bundle), and firmware-ts/deploy/*
 * (systemd unit, udev rules). Paths in the bundle: `firmware/...`, `deploy/...`.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import type { BundleFile } from './bundle';
import { BundleError } from './errors';

const run = promisify(execFile);

/** Runs firmware-ts's build (tsup with firmware-ts/tsup.config.ts). */
export async function buildFirmwareDist(repoRoot: string): Promise<string> {
  const dir = join(repoRoot, 'firmware-ts');
  try {
    await run(process.execPath, [join(repoRoot, 'node_modules', 'tsup', 'dist', 'cli-default.js')], {
      cwd: dir,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (cause) {
    const e = cause as { stderr?: string; message: string };
    throw new BundleError('BUILD_FAILED', `firmware-ts build failed: ${(e.stderr ?? e.message).trim().slice(-2000)}`, { cause });
  }
  return join(dir, 'dist');
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
      else throw new BundleError('BAD_INPUT', `${p} is not a regular file (links and devices are not bundled)`);
    }
  };
  await walk(dir);
  return out.sort();
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** Third-party dependencies of firmware-ts and the workspace packages it inlines (sorted). */
export async function firmwareRuntimeDependencies(repoRoot: string): Promise<Record<string, string>> {
  const deps: Record<string, string> = {};
  for (const ws of ['firmware-ts', 'device-drivers', 'schematics']) {
    const pkg = await readJson(join(repoRoot, ws, 'package.json'));
    for (const field of ['dependencies', 'optionalDependencies'] as const) {
      for (const [name, range] of Object.entries((pkg[field] ?? {}) as Record<string, string>))
        if (!name.startsWith('@handset/')) deps[name] ??= range;
    }
  }
  return Object.fromEntries(Object.entries(deps).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export interface FirmwareInput {
  files: BundleFile[];
  /** firmware-ts/package.json version (the default bundle version). */
  packageVersion: string;
}

/** Collects the bundle's payload from a built dist directory and firmware-ts/deploy. */
export async function collectFirmwareFiles(repoRoot: string, distDir: string): Promise<FirmwareInput> {
  try {
    await stat(join(distDir, 'handsetd.js'));
  } catch (cause) {
    throw new BundleError('BAD_INPUT', `${distDir} has no handsetd.js (run the firmware build)`, { cause });
  }
  const files: BundleFile[] = [];
  for (const p of await filesUnder(distDir)) {
    if (p.endsWith('.map')) continue;
    files.push({ path: `firmware/${p}`, data: new Uint8Array(await readFile(join(distDir, p))) });
  }
  const fwPkg = await readJson(join(repoRoot, 'firmware-ts', 'package.json'));
  const packageVersion = String(fwPkg.version ?? '0.0.0');
  const runtimePkg = {
    name: 'handset-firmware',
    version: packageVersion,
    private: true,
    type: 'module',
    main: 'handsetd.js',
    dependencies: await firmwareRuntimeDependencies(repoRoot),
  };
  files.push({ path: 'firmware/package.json', data: new TextEncoder().encode(`${JSON.stringify(runtimePkg, null, 2)}\n`) });
  const deployDir = join(repoRoot, 'firmware-ts', 'deploy');
  for (const p of await filesUnder(deployDir))
    files.push({ path: `deploy/${p}`, data: new Uint8Array(await readFile(join(deployDir, p))) });
  return { files, packageVersion };
}

/** Sources whose last commit dates a build (everything the bundle is made from). */
const SOURCE_PATHS = ['firmware-ts', 'device-drivers', 'schematics', 'host-sdk/src/protocol'];

/**
 * createdAt for a reproducible build: SOURCE_DATE_EPOCH (seconds), else the time of the
 * last commit touching the firmware's sources, else 0.
 */
export async function reproducibleCreatedAt(repoRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const sde = env.SOURCE_DATE_EPOCH;
  if (sde !== undefined) {
    if (!/^\d{1,12}$/.test(sde)) throw new BundleError('BAD_INPUT', `SOURCE_DATE_EPOCH '${sde}' is not whole seconds`);
    return Number(sde) * 1000;
  }
  try {
    const { stdout } = await run('git', ['log', '-1', '--format=%ct', '--', ...SOURCE_PATHS], { cwd: repoRoot });
    const s = stdout.trim();
    if (/^\d+$/.test(s)) return Number(s) * 1000;
  } catch {
    // not a git checkout
  }
  return 0;
}
