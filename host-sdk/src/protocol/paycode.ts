import type { CryptoProvider } from './crypto';
import { bytesEqual, utf8 } from './encoding';
import { PaycodeError } from './errors';

/**
 * One-time pay codes for the consumer-presented flow ("show to pay").
 *
 * Format: 20 decimal digits, shown as a numeric-mode QR code.
 *
 *     9  IIIIIIIIII  OOOOOOOO  C
 *     |  |           |         +- Damm check digit over the 19 digits before it
 *     |  |           +----------- 8-digit one-time value (HMAC-SHA256, see below)
 *     |  +----------------------- 10-digit routing index issued at registration
 *     +-------------------------- format/version digit "9" (v1)
 *
 * One-time value: `HMAC-SHA256(seed, "handset/v1/paycode" | index (10 ASCII digits) |
 * step (u64 BE))`, first 8 bytes as a big-endian u64, mod 10^8 (bias < 10^8/2^64,
 * negligible). `step = floor(unix seconds / 15)`. The seed is the 32-byte secret the
 * cloud issues at registration and both sides store encrypted.
 *
 * Validity: the cloud accepts steps `now-3 .. now+1`: a code made at the start of step s
 * is refused from step s+4 on, i.e. at most 60 s after it was made (15 s x 4); the extra
 * future step only absorbs a handset clock up to 15 s fast. Single use: the cloud keeps,
 * per index, the last consumed step and refuses any step <= it (`minStep`); after a
 * payment the handset makes its next code for `max(now, lastUsed + 1)`.
 *
 * Why 20 digits: 10 index digits route to the account with one keyed lookup (no scan of
 * all seeds); 8 one-time digits make a guess against a known account succeed with
 * probability 5/10^8 (5 live steps); the leading "9" keeps our codes apart from
 * WeChat (10-15), Alipay (25-30) and UnionPay (62) pay codes; one check digit catches
 * every single-digit error and every adjacent transposition (Damm). 20 digits fit QR
 * version 1 at level M (34 digits) and Q (27): 21x21 modules, 4 px per module on the
 * 122-px e-ink panel with a 4-module quiet zone (29 x 4 = 116 px).
 *
 * Guessing bound: with N registered indexes out of 10^10 and L = 5 live steps, a random
 * well-formed code is live with probability (N / 10^10) x (L / 10^8) = N x L / 10^18;
 * for N = 10^7 that is 5 x 10^-11 per guess. The cloud must also rate-limit charges per
 * merchant and per index (see `paycodeGuessProbability`).
 */

export const PAYCODE_LENGTH = 20;
export const PAYCODE_VERSION_DIGIT = '9';
export const PAYCODE_INDEX_DIGITS = 10;
export const PAYCODE_OTP_DIGITS = 8;
export const PAYCODE_STEP_SECONDS = 15;
/** Steps before the current one still accepted (3 x 15 s + current = 60 s lifetime). */
export const PAYCODE_PAST_STEPS = 3;
/** Future steps accepted, to absorb a handset clock that runs fast. */
export const PAYCODE_FUTURE_STEPS = 1;
export const PAYCODE_DOMAIN = 'handset/v1/paycode';

// Damm's totally anti-symmetric quasigroup of order 10.
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
] as const;

/** Damm check digit of a digit string (append it; a string with its check digit reduces to 0). */
export function dammCheckDigit(digits: string): string {
  let interim = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new PaycodeError('PAYCODE_NOT_DIGITS', `not a digit at position ${i}`, i);
    interim = DAMM[interim]![d]!;
  }
  return String(interim);
}

/** True if the last digit is the Damm check digit of the ones before it. */
export function dammValid(digits: string): boolean {
  return /^[0-9]+$/.test(digits) && dammCheckDigit(digits) === '0';
}

/** Time step of a moment (ms since epoch). */
export function paycodeStep(nowMs: number, stepSeconds = PAYCODE_STEP_SECONDS): number {
  return Math.floor(nowMs / 1000 / stepSeconds);
}

function checkIndex(index: string): void {
  if (typeof index !== 'string' || !/^[0-9]{10}$/.test(index))
    throw new PaycodeError('PAYCODE_BAD_INDEX', 'pay-code index must be 10 digits');
}

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length < 16)
    throw new PaycodeError('PAYCODE_BAD_SEED', 'pay-code seed must be at least 16 bytes');
}

/** Formats a registration's numeric index as the 10-digit routing index. */
export function paycodeIndex(n: number | bigint): string {
  const v = BigInt(n);
  if (v < 0n || v >= 10n ** 10n) throw new PaycodeError('PAYCODE_BAD_INDEX', `index ${n} outside 0..9999999999`);
  return v.toString().padStart(10, '0');
}

/** The 8-digit one-time value for (seed, index, step). */
export function paycodeOtp(crypto: CryptoProvider, seed: Uint8Array, index: string, step: number): string {
  checkSeed(seed);
  checkIndex(index);
  if (!Number.isSafeInteger(step) || step < 0)
    throw new PaycodeError('PAYCODE_BAD_STEP', `step ${step} is not a non-negative integer`);
  const domain = utf8(PAYCODE_DOMAIN);
  const msg = new Uint8Array(domain.length + 10 + 8);
  msg.set(domain, 0);
  msg.set(utf8(index), domain.length);
  new DataView(msg.buffer).setBigUint64(domain.length + 10, BigInt(step));
  const mac = crypto.hmacSha256(seed, msg);
  const v = new DataView(mac.buffer, mac.byteOffset, mac.byteLength).getBigUint64(0);
  return (v % 10n ** BigInt(PAYCODE_OTP_DIGITS)).toString().padStart(PAYCODE_OTP_DIGITS, '0');
}

export interface GeneratedPaycode {
  /** The 20 digits to put in the QR code. */
  readonly code: string;
  readonly step: number;
  /** Start of the step (ms since epoch). */
  readonly validFromMs: number;
  /** The cloud refuses the code from this moment on (validFrom + 60 s). */
  readonly validUntilMs: number;
}

export interface GenerateOptions {
  seed: Uint8Array;
  index: string;
  nowMs: number;
  /** Force a step (e.g. lastUsedStep + 1 after a payment); default the step of nowMs. */
  step?: number;
  stepSeconds?: number;
}

/** Makes a pay code offline on the handset. */
export function generatePaycode(crypto: CryptoProvider, o: GenerateOptions): GeneratedPaycode {
  const stepSeconds = o.stepSeconds ?? PAYCODE_STEP_SECONDS;
  const step = o.step ?? paycodeStep(o.nowMs, stepSeconds);
  const body = PAYCODE_VERSION_DIGIT + o.index + paycodeOtp(crypto, o.seed, o.index, step);
  const stepMs = stepSeconds * 1000;
  return {
    code: body + dammCheckDigit(body),
    step,
    validFromMs: step * stepMs,
    validUntilMs: (step + PAYCODE_PAST_STEPS + 1) * stepMs,
  };
}

export interface ParsedPaycode {
  readonly version: string;
  readonly index: string;
  readonly otp: string;
}

/**
 * Reads a pay code's structure (no secret needed): length, digits, version, check digit.
 * Throws PaycodeError PAYCODE_LENGTH / PAYCODE_NOT_DIGITS (with the position) /
 * PAYCODE_VERSION / PAYCODE_CHECK_DIGIT.
 */
export function parsePaycode(code: unknown): ParsedPaycode {
  if (typeof code !== 'string') throw new PaycodeError('PAYCODE_TYPE', 'pay code must be a string');
  if (code.length > 64)
    throw new PaycodeError('PAYCODE_LENGTH', `pay code has ${code.length} characters; expected ${PAYCODE_LENGTH}`);
  const bad = /[^0-9]/.exec(code);
  if (bad) throw new PaycodeError('PAYCODE_NOT_DIGITS', `pay code has a non-digit at position ${bad.index}`, bad.index);
  if (code.length !== PAYCODE_LENGTH)
    throw new PaycodeError('PAYCODE_LENGTH', `pay code has ${code.length} digits; expected ${PAYCODE_LENGTH}`);
  if (code[0] !== PAYCODE_VERSION_DIGIT)
    throw new PaycodeError('PAYCODE_VERSION', `pay code format digit ${code[0]} is not ${PAYCODE_VERSION_DIGIT}`, 0);
  if (!dammValid(code))
    throw new PaycodeError('PAYCODE_CHECK_DIGIT', 'pay code check digit does not match (typo?)', PAYCODE_LENGTH - 1);
  return { version: code[0]!, index: code.slice(1, 11), otp: code.slice(11, 19) };
}

export interface VerifyOptions {
  seed: Uint8Array;
  nowMs: number;
  /** Steps <= minStep are consumed (single use): pass the last consumed step, or -1. */
  lastUsedStep?: number;
  stepSeconds?: number;
  pastSteps?: number;
  futureSteps?: number;
}

export type PaycodeVerdict =
  | { readonly ok: true; readonly index: string; readonly step: number; readonly lagSteps: number }
  | { readonly ok: false; readonly index: string; readonly reason: 'paycode_used' | 'paycode_invalid'; readonly step?: number };

/**
 * Cloud-side check of a parsed code against the index's seed, over the window
 * `now-past .. now+future`. On success returns the matched step: the caller records it as
 * consumed atomically with booking (`UPDATE ... SET last_step = step WHERE last_step < step`).
 * A match on a step <= lastUsedStep is reported as `paycode_used`. Constant-time compares.
 */
export function verifyPaycode(crypto: CryptoProvider, code: ParsedPaycode | string, o: VerifyOptions): PaycodeVerdict {
  const parsed = typeof code === 'string' ? parsePaycode(code) : code;
  const stepSeconds = o.stepSeconds ?? PAYCODE_STEP_SECONDS;
  const past = o.pastSteps ?? PAYCODE_PAST_STEPS;
  const future = o.futureSteps ?? PAYCODE_FUTURE_STEPS;
  if (past < 0 || future < 0 || past + future + 1 > 8) throw new PaycodeError('PAYCODE_BAD_WINDOW', 'window must be 1..8 steps');
  const now = paycodeStep(o.nowMs, stepSeconds);
  const last = o.lastUsedStep ?? -1;
  const given = utf8(parsed.otp);
  let used: number | undefined;
  let matched: number | undefined;
  for (let step = Math.max(0, now - past); step <= now + future; step++) {
    const hit = bytesEqual(utf8(paycodeOtp(crypto, o.seed, parsed.index, step)), given);
    if (hit && step <= last) used = step;
    else if (hit && matched === undefined) matched = step;
  }
  if (matched !== undefined) return { ok: true, index: parsed.index, step: matched, lagSteps: now - matched };
  if (used !== undefined) return { ok: false, index: parsed.index, reason: 'paycode_used', step: used };
  return { ok: false, index: parsed.index, reason: 'paycode_invalid' };
}

/**
 * Probability that one uniformly random, well-formed code is live:
 * (registered / 10^10) x (liveSteps / 10^8).
 */
export function paycodeGuessProbability(registered: number, liveSteps = PAYCODE_PAST_STEPS + PAYCODE_FUTURE_STEPS + 1): number {
  return (Math.min(registered, 10 ** PAYCODE_INDEX_DIGITS) / 10 ** PAYCODE_INDEX_DIGITS) * (liveSteps / 10 ** PAYCODE_OTP_DIGITS);
}
