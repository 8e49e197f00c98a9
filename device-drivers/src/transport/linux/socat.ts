import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransportError } from '../../core/errors';

/** A running socat pseudo-terminal pair: two linked serial device paths. */
export interface PtyPair {
  /** Path of one end (a symlink to /dev/pts/N). */
  a: string;
  /** Path of the other end. */
  b: string;
  /** The temp directory holding both links. */
  dir: string;
  /** The socat process. */
  process: ChildProcess;
  /** Kills socat with `signal` (default SIGKILL) without cleanup: both ends vanish, as a pulled cable. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops socat and removes the links. Idempotent. */
  close(): Promise<void>;
}

export interface OpenPtyPairOptions {
  /** How long to wait for socat to create both links. Default 5000 ms. */
  timeoutMs?: number;
  /** Directory for the links; default a fresh mkdtemp under the OS temp dir. */
  dir?: string;
}

/**
 * Starts `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, waits for both links
 * to exist, and returns their paths. For tests that run a real driver over the real
 * serialport transport against a simulator on the other end. Rejects with
 * `TransportError` (code `SOCAT`) when socat is missing, exits early, or is too slow.
 */
export async function openPtyPair(options: OpenPtyPairOptions = {}): Promise<PtyPair> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'handset-pty-')));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-2000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
    proc.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const cleanupDir = async () => {
    if (!options.dir) await rm(dir, { recursive: true, force: true });
  };
  const stop = async (signal: NodeJS.Signals) => {
    if (!gone) {
      proc.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
      if (!gone) proc.kill('SIGKILL');
      await exited;
    }
  };

  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(a) && existsSync(b))) {
    if (gone) {
      const r = await exited;
      await cleanupDir();
      throw new TransportError(
        `socat exited before creating the pty pair (code ${r.code}${r.error ? `, ${r.error.message}` : ''}): ${stderr.trim()}`,
        { code: 'SOCAT', device: dir, details: { exitCode: r.code, stderr } },
      );
    }
    if (Date.now() > deadline) {
      await stop('SIGKILL');
      await cleanupDir();
      throw new TransportError(`socat did not create ${a} and ${b} within ${timeoutMs} ms`, { code: 'SOCAT', device: dir });
    }
    await new Promise((r) => setTimeout(r, 10));
  }

  let closed = false;
  return {
    a,
    b,
    dir,
    process: proc,
    kill: (signal = 'SIGKILL') => stop(signal),
    async close() {
      if (closed) return;
      closed = true;
      await stop('SIGTERM');
      await cleanupDir();
    },
  };
}
