import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { BoardError, type BoardProblem, type BoardRule, defaultBoardPath, validateBoard } from '../src/index';

/** The checked-in reference board as raw JSON (a fresh deep copy each call). */
export function referenceJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(defaultBoardPath(), 'utf8')) as Record<string, unknown>;
}

type Json = Record<string, unknown> & {
  sbc: { header: { pin: number }[]; models: Record<string, Record<string, unknown>> };
  parts: (Record<string, unknown> & { ref: string; pins: Record<string, unknown>[]; config: Record<string, unknown> })[];
  nets: { name: string; connects: string[] }[];
};

/** A copy of the reference board changed by `fn`. */
export function mutated(fn: (b: Json) => void): Json {
  const b = referenceJson() as Json;
  fn(b);
  return b;
}

export function net(b: Json, name: string): { name: string; connects: string[] } {
  const n = b.nets.find((x) => x.name === name);
  if (!n) throw new Error(`no net ${name}`);
  return n;
}

export function part(b: Json, ref: string): Json['parts'][number] {
  const p = b.parts.find((x) => x.ref === ref);
  if (!p) throw new Error(`no part ${ref}`);
  return p;
}

/** Validates `raw`, expects a BoardError, returns its problems. */
export function problemsOf(raw: unknown): { error: BoardError; problems: readonly BoardProblem[] } {
  try {
    validateBoard(raw, 'test-board');
  } catch (err) {
    expect(err).toBeInstanceOf(BoardError);
    const error = err as BoardError;
    expect(error.code).toBe('BOARD_INVALID');
    return { error, problems: error.problems };
  }
  throw new Error('expected the board to be refused');
}

/** Expects exactly the given rules to fire (as a set) and returns the problems of `rule`. */
export function expectRules(problems: readonly BoardProblem[], rules: BoardRule[]): void {
  expect([...new Set(problems.map((p) => p.rule))].sort()).toEqual([...new Set(rules)].sort());
}
