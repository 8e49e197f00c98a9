/** Severity of an MPM problem: `error` refuses the code, `should` and `profile-deviation` are reported only. */
export type Severity = 'error' | 'should' | 'profile-deviation';

/** One rule a payload breaks, and where. */
export interface MpmProblem {
  readonly severity: Severity;
  /** Stable machine code, e.g. CRC_MISMATCH, FIELD_TOO_LONG, TIP_FEE_MISSING. */
  readonly code: string;
  readonly message: string;
  /** Character (code point) offset in the payload; for byte input that is not UTF-8, the byte offset. */
  readonly offset: number;
  /** ID path of the object, e.g. ['62', '05']; [] for the payload as a whole. */
  readonly idPath: readonly string[];
  /** Profile that tolerates it, when severity is 'profile-deviation'. */
  readonly profile?: string;
}
