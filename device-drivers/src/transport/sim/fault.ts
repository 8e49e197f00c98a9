/**
 * Fault injection with an override that falls through (Zephyr's i2c_emul `mock_api`
 * pattern): a simulated peer calls `fault(op, args)` before doing an operation. If the
 * override returns `PASS`, normal behaviour follows; anything else replaces the result
 * (a value, or a thrown/rejected error). Tests set `faults.<op>` to corrupt exactly one
 * frame or time out exactly one command, then clear it.
 */
export const PASS: unique symbol = Symbol('pass');
export type Pass = typeof PASS;

export type FaultOverride<Args extends unknown[], R> = (...args: Args) => R | Pass | Promise<R | Pass>;

// biome-ignore lint/suspicious/noExplicitAny: a variance-free bound for any function type
type AnyFn = (...args: any[]) => unknown;

export type FaultTable<Ops extends { [K in keyof Ops]: AnyFn }> = {
  [K in keyof Ops]?: FaultOverride<Parameters<Ops[K]>, Awaited<ReturnType<Ops[K]>>>;
};

/** Installs a one-shot override: it fires once, then falls through for good. */
export function once<Args extends unknown[], R>(fn: FaultOverride<Args, R>): FaultOverride<Args, R> {
  let used = false;
  return (...args: Args) => {
    if (used) return PASS;
    used = true;
    return fn(...args);
  };
}
