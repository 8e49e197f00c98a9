import { expect } from 'vitest';

/** Races `p` against a wall-clock timeout so a broken implementation fails instead of hanging. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`contract: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** Asserts that `fn()` returns a promise that rejects with `code` (and does not throw synchronously). */
export async function expectRejectsCode(fn: () => Promise<unknown>, code: string): Promise<unknown> {
  let p: Promise<unknown> | undefined;
  expect(() => {
    p = fn();
  }).not.toThrow();
  expect(p).toBeInstanceOf(Promise);
  const err = await (p as Promise<unknown>).then(
    () => {
      throw new Error(`expected rejection with ${code}, got a resolution`);
    },
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ code });
  return err;
}

export function wallSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Deterministic test bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
