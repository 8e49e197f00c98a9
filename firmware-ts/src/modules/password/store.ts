/**
 * What the password module persists: the PIN's salted slow hash (never the PIN) and the
 * lock state (consecutive wrong PINs, locked flag). One small interface, a file
 * implementation for the device and a memory one for tests and simulation.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HandsetError } from '@handset/device-drivers/core';
import { type PinHashRecord, validatePinRecord } from './verifier';

export interface PasswordState {
  /** The provisioned PIN's record; null before provisioning. */
  pin: PinHashRecord | null;
  /** Consecutive wrong PINs (counted before each check, reset by a right PIN). */
  failures: number;
  /** Payments locked until a host unlocks. */
  locked: boolean;
  /** Wall-clock ms when the lock was set. */
  lockedAtMs: number | null;
}

export const INITIAL_PASSWORD_STATE: Readonly<PasswordState> = Object.freeze({
  pin: null,
  failures: 0,
  locked: false,
  lockedAtMs: null,
});

/**
 * Persists `PasswordState`. `save` must be durable when it resolves (the failure count is
 * written before a PIN is checked, so a power cut mid-check cannot give a free try).
 * `load` of a store never written returns `INITIAL_PASSWORD_STATE`; unreadable or
 * malformed content rejects with `PasswordStoreError` (the module then fails closed).
 */
export interface LockStore {
  load(): Promise<PasswordState>;
  save(state: PasswordState): Promise<void>;
}

/** The state could not be read or written. Never carries file content. */
export class PasswordStoreError extends HandsetError {
  constructor(message: string, cause?: unknown) {
    super('PASSWORD_STORE', message, { device: 'password', cause });
  }
}

function copy(s: PasswordState): PasswordState {
  return { pin: s.pin ? { ...s.pin } : null, failures: s.failures, locked: s.locked, lockedAtMs: s.lockedAtMs };
}

/** Checks a parsed state object (from a file or any other source). */
export function validatePasswordState(value: unknown): PasswordState {
  if (typeof value !== 'object' || value === null) throw new PasswordStoreError('password state is not an object');
  const v = value as Record<string, unknown>;
  if (v.v !== undefined && v.v !== 1) throw new PasswordStoreError(`password state version ${String(v.v)} is not supported`);
  if (typeof v.failures !== 'number' || !Number.isInteger(v.failures) || v.failures < 0)
    throw new PasswordStoreError('password state failures is not a count');
  if (typeof v.locked !== 'boolean') throw new PasswordStoreError('password state locked is not a boolean');
  if (v.lockedAtMs !== null && typeof v.lockedAtMs !== 'number')
    throw new PasswordStoreError('password state lockedAtMs is malformed');
  let pin: PinHashRecord | null = null;
  if (v.pin !== null) {
    try {
      pin = validatePinRecord(v.pin);
    } catch (err) {
      throw new PasswordStoreError(`password state PIN record is malformed: ${(err as Error).message}`, err);
    }
  }
  return { pin, failures: v.failures, locked: v.locked, lockedAtMs: v.lockedAtMs as number | null };
}

/** In memory (tests, simulation). `saves` counts writes; `snapshot` shows the last saved state. */
export class MemoryLockStore implements LockStore {
  saves = 0;
  private state: PasswordState;

  constructor(initial: PasswordState = INITIAL_PASSWORD_STATE) {
    this.state = copy(initial);
  }

  get snapshot(): PasswordState {
    return copy(this.state);
  }

  async load(): Promise<PasswordState> {
    return copy(this.state);
  }

  async save(state: PasswordState): Promise<void> {
    this.state = copy(validatePasswordState({ ...state }));
    this.saves++;
  }
}

/**
 * A JSON file (mode 0600), replaced atomically: write a temp file in the same folder,
 * fsync it, rename over the old one, fsync the folder. A missing file is the initial
 * state (no PIN: PIN checks fail closed until a host provisions one).
 */
export class FileLockStore implements LockStore {
  constructor(readonly path: string) {}

  async load(): Promise<PasswordState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return copy(INITIAL_PASSWORD_STATE);
      throw new PasswordStoreError(`cannot read password state ${this.path}: ${(err as NodeJS.ErrnoException).code}`, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new PasswordStoreError(`password state ${this.path} is not JSON`, err);
    }
    return validatePasswordState(parsed);
  }

  async save(state: PasswordState): Promise<void> {
    const s = validatePasswordState({ ...state });
    const body = `${JSON.stringify({ v: 1, ...s })}\n`;
    const dir = dirname(this.path);
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(body, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new PasswordStoreError(
        `cannot write password state ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        err,
      );
    }
  }
}
