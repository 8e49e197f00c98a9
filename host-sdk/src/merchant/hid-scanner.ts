/**
 * A USB barcode/QR scanner in keyboard mode (HID boot keyboard) as a source of scanned
 * lines, for the consumer-presented flow: the cashier scans the customer's pay code and
 * the scanner "types" its digits followed by Enter.
 *
 * Boot keyboard input report (USB HID 1.11, appendix B.1), 8 bytes:
 * `[modifiers, reserved, key1..key6]`; modifiers bit 1 = left shift, bit 5 = right shift;
 * key slots hold usage ids (HID Usage Tables, page 0x07) of the keys held down now.
 * A key press is a usage that appears in a report and was not in the previous one, so
 * "11" arrives as press(1), release(all zero), press(1). A report whose key slots are all
 * 0x01 (ErrorRollOver: too many keys) carries no key information and is skipped.
 * Some hidraw stacks prefix a report id byte; pass `reportId` to strip it.
 */

import { HandsetError, throwIfAborted, ValidationError } from '@handset/device-drivers/core';
import type { HidDevice } from '@handset/device-drivers/transport';

/** HID usage ids (page 0x07) the decoder understands. */
export const HID_USAGE = {
  A: 0x04,
  Z: 0x1d,
  DIGIT_1: 0x1e,
  DIGIT_0: 0x27,
  ENTER: 0x28,
  ESCAPE: 0x29,
  BACKSPACE: 0x2a,
  TAB: 0x2b,
  SPACE: 0x2c,
  MINUS: 0x2d,
  ERROR_ROLL_OVER: 0x01,
  KP_ENTER: 0x58,
  KP_1: 0x59,
  KP_0: 0x62,
} as const;

const SHIFT_MASK = 0x22;

/** One key press decoded from a report: a printable character or a control key. */
export type KeyPress = { kind: 'char'; char: string } | { kind: 'enter' } | { kind: 'backspace' } | { kind: 'escape' };

/** Maps one usage id to a key press (undefined for keys a scanner does not send). */
export function usageToKey(usage: number, shift: boolean): KeyPress | undefined {
  if (usage >= HID_USAGE.A && usage <= HID_USAGE.Z) {
    const c = String.fromCharCode(0x61 + usage - HID_USAGE.A);
    return { kind: 'char', char: shift ? c.toUpperCase() : c };
  }
  if (usage >= HID_USAGE.DIGIT_1 && usage <= HID_USAGE.DIGIT_0) {
    if (shift) return undefined;
    return { kind: 'char', char: usage === HID_USAGE.DIGIT_0 ? '0' : String(usage - HID_USAGE.DIGIT_1 + 1) };
  }
  if (usage >= HID_USAGE.KP_1 && usage <= HID_USAGE.KP_0) {
    return { kind: 'char', char: usage === HID_USAGE.KP_0 ? '0' : String(usage - HID_USAGE.KP_1 + 1) };
  }
  switch (usage) {
    case HID_USAGE.ENTER:
    case HID_USAGE.KP_ENTER:
    case HID_USAGE.TAB:
      return { kind: 'enter' };
    case HID_USAGE.BACKSPACE:
      return { kind: 'backspace' };
    case HID_USAGE.ESCAPE:
      return { kind: 'escape' };
    case HID_USAGE.SPACE:
      return { kind: 'char', char: ' ' };
    case HID_USAGE.MINUS:
      return { kind: 'char', char: shift ? '_' : '-' };
    default:
      return undefined;
  }
}

/** A HID report that is not a boot keyboard report. */
export class HidReportError extends ValidationError {
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: 'HID_REPORT', device: 'merchant:scanner', details });
  }
}

export interface KeyboardDecoderOptions {
  /** Report id byte that prefixes every report (stripped), if the device uses one. */
  reportId?: number;
  /** Longest line kept; longer input is dropped at Enter with an error (default 128). */
  maxLineLength?: number;
}

/**
 * Turns boot keyboard reports into completed lines. Pure and synchronous: feed it reports,
 * it returns the lines finished by Enter/Tab. Escape clears the line; Backspace deletes.
 */
export class KeyboardLineDecoder {
  private held = new Set<number>();
  private line = '';
  private overflow = false;
  private readonly reportId: number | undefined;
  private readonly maxLineLength: number;

  constructor(options: KeyboardDecoderOptions = {}) {
    this.reportId = options.reportId;
    this.maxLineLength = options.maxLineLength ?? 128;
  }

  /** Characters typed since the last Enter. */
  get pending(): string {
    return this.line;
  }

  /**
   * Feeds one input report; returns lines completed by it (usually none or one).
   * Throws {@link HidReportError} for a report of the wrong size or report id; the
   * decoder state is unchanged by a bad report.
   */
  push(report: Uint8Array): string[] {
    let r = report;
    if (this.reportId !== undefined) {
      if (r[0] !== this.reportId) throw new HidReportError(`report id ${r[0]} != ${this.reportId}`, { length: r.length });
      r = r.subarray(1);
    }
    if (r.length !== 8) throw new HidReportError(`boot keyboard report must be 8 bytes, got ${r.length}`, { length: r.length });
    const keys = Array.from(r.subarray(2)).filter((u) => u !== 0);
    if (keys.length > 0 && keys.every((u) => u === HID_USAGE.ERROR_ROLL_OVER)) return [];
    const shift = (r[0]! & SHIFT_MASK) !== 0;
    const done: string[] = [];
    for (const usage of keys) {
      if (this.held.has(usage)) continue;
      const key = usageToKey(usage, shift);
      if (!key) continue;
      if (key.kind === 'char') {
        if (this.line.length >= this.maxLineLength) this.overflow = true;
        else this.line += key.char;
      } else if (key.kind === 'backspace') this.line = this.line.slice(0, -1);
      else if (key.kind === 'escape') {
        this.line = '';
        this.overflow = false;
      } else {
        if (!this.overflow && this.line.length > 0) done.push(this.line);
        this.line = '';
        this.overflow = false;
      }
    }
    this.held = new Set(keys);
    return done;
  }
}

/** Makes the 8-byte boot keyboard reports (press + release per character, then Enter) a scanner sends for `text`. */
export function keyboardReportsFor(text: string, options: { enter?: boolean } = {}): Uint8Array[] {
  const out: Uint8Array[] = [];
  const press = (usage: number, shift = false) => {
    out.push(Uint8Array.of(shift ? 0x02 : 0, 0, usage, 0, 0, 0, 0, 0));
    out.push(new Uint8Array(8));
  };
  for (const ch of text) {
    if (ch >= '1' && ch <= '9') press(HID_USAGE.DIGIT_1 + Number(ch) - 1);
    else if (ch === '0') press(HID_USAGE.DIGIT_0);
    else if (ch >= 'a' && ch <= 'z') press(HID_USAGE.A + ch.charCodeAt(0) - 0x61);
    else if (ch >= 'A' && ch <= 'Z') press(HID_USAGE.A + ch.charCodeAt(0) - 0x41, true);
    else if (ch === ' ') press(HID_USAGE.SPACE);
    else if (ch === '-') press(HID_USAGE.MINUS);
    else throw new ValidationError(`cannot type ${JSON.stringify(ch)} on a boot keyboard`, { code: 'HID_UNTYPABLE' });
  }
  if (options.enter !== false) press(HID_USAGE.ENTER);
  return out;
}

/**
 * Reads a keyboard-mode scanner through the {@link HidDevice} transport and yields each
 * scanned line. Bad reports are reported through `onError` and skipped (a glitch must not
 * stop the till); transport errors (unplugged, closed) end the iteration by throwing.
 */
export async function* scanLines(
  device: HidDevice,
  options: KeyboardDecoderOptions & { signal?: AbortSignal; onError?: (err: HandsetError) => void } = {},
): AsyncGenerator<string, void, void> {
  const decoder = new KeyboardLineDecoder(options);
  if (!device.isOpen) await device.open();
  for (;;) {
    throwIfAborted(options.signal, 'merchant:scanner');
    const report = await device.read(options.signal);
    let lines: string[];
    try {
      lines = decoder.push(report);
    } catch (err) {
      if (err instanceof HandsetError && options.onError) options.onError(err);
      continue;
    }
    for (const line of lines) yield line;
  }
}
