import { ValidationError } from '@handset/device-drivers/core';

/**
 * The checks the validator runs, one rule per check. A problem carries the rule that
 * found it, so tests and tools can tell "pin used twice" from "5 V into a 3.3 V input".
 */
export const BOARD_RULES = [
  /** The file is not JSON (message has line and column). */
  'json',
  /** The JSON does not have the board's shape (message has the JSON path). */
  'schema',
  /** Two parts share a ref, two nets share a name. */
  'duplicate',
  /** The header table is not exactly pins 1..40, or a pin lacks its GPIO number / voltage. */
  'header-table',
  /** A part's `type` is not one the validator knows. */
  'unknown-part-type',
  /** A part lacks a pin its type needs, or declares it with the wrong direction or signal. */
  'part-pins',
  /** A net names a header pin, part or part pin that does not exist. */
  'unknown-pin',
  /** A header pin or part pin is used by two nets. */
  'pin-conflict',
  /** A UART/SPI signal (or a GPIO signal) is on a header pin without that function. */
  'bus-pin',
  /** A PWM signal is on a pin without hardware PWM, or two PWM users share a channel. */
  'pwm-pin',
  /** A PWM output runs below 20 kHz (audible, rolling-shutter banding). */
  'pwm-frequency',
  /** An output drives a higher voltage than an input on the same net tolerates (5 V into 3.3 V). */
  'logic-level',
  /** A net joins a power rail to ground, two rails, or a rail to a GPIO. */
  'power-short',
  /** A power pin is not on a rail, or on a rail outside its supply range. */
  'supply',
  /** A part's ground pin is not wired to a header GND pin. */
  'missing-ground',
  /** A pin the part needs is not wired at all. */
  'unconnected',
  /** A bus, port or PWM pin has no entry for one of the SBC models. */
  'model',
  /** The handset needs exactly one part of each type (R307, SSD1680, fill-light, camera, PIN pad). */
  'missing-part',
] as const;
export type BoardRule = (typeof BOARD_RULES)[number];

/** One thing wrong with a board. `message` names the pin (and the part) it is about. */
export interface BoardProblem {
  rule: BoardRule;
  message: string;
  /** JSON path of the offending value, e.g. `parts[1].pins[3].direction`, when one applies. */
  path?: string;
  /** Header pin number, when the problem is about one. */
  headerPin?: number;
  /** Part ref and pin name, when the problem is about one. */
  part?: string;
  pin?: string;
}

/**
 * A board file that must not be used: every problem found, not just the first. The
 * message lists each problem on its own line; `problems` has them as data.
 */
export class BoardError extends ValidationError {
  readonly problems: readonly BoardProblem[];
  readonly source: string;

  constructor(source: string, problems: BoardProblem[]) {
    const head = `${source}: ${problems.length} board problem${problems.length === 1 ? '' : 's'}`;
    super(`${head}\n${problems.map((p) => `  [${p.rule}] ${p.message}`).join('\n')}`, {
      code: 'BOARD_INVALID',
      device: 'board',
      details: { source, problems },
    });
    this.problems = problems;
    this.source = source;
  }

  /** The problems found by one rule. */
  byRule(rule: BoardRule): BoardProblem[] {
    return this.problems.filter((p) => p.rule === rule);
  }
}
