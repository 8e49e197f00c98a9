/**
 * USB HID PIN pad protocol: the boot keyboard input report and the usages a numeric
 * keypad sends (shared/reference/camera-light-pinpad.md §6.3, tinyusb `hid.h`).
 * Imported by both the driver (`driver.ts`) and the simulator (`sim.ts`), so the two
 * cannot disagree on the report layout or the key map.
 *
 * Report (8 bytes): `[modifiers, reserved 0x00, key1 .. key6]`. Up to six usages of the
 * keys currently held (6-key rollover); a release is the next report without that usage
 * (all zeros when nothing is held). More than six keys held -> the "phantom state": every
 * key slot reads ErrorRollOver (0x01) while the modifiers stay valid; the host must
 * ignore such a report and keep the previous key state. With numbered reports the
 * hidraw data starts with the report ID (9 bytes).
 *
 * Nothing in this file logs, and errors never carry report bytes (a report holds the
 * usage of a PIN digit).
 */
import { ValidationError } from '../core/errors';

export const BOOT_REPORT_LENGTH = 8;
export const BOOT_REPORT_KEY_SLOTS = 6;

/** Modifier byte bits (byte 0). */
export const MODIFIER = {
  LEFT_CTRL: 0x01,
  LEFT_SHIFT: 0x02,
  LEFT_ALT: 0x04,
  LEFT_GUI: 0x08,
  RIGHT_CTRL: 0x10,
  RIGHT_SHIFT: 0x20,
  RIGHT_ALT: 0x40,
  RIGHT_GUI: 0x80,
} as const;

/** Keyboard page usages the PIN pad cares about. */
export const USAGE = {
  NONE: 0x00,
  /** Every key slot reads this in the phantom state (more keys held than slots). */
  ERROR_ROLLOVER: 0x01,
  POST_FAIL: 0x02,
  ERROR_UNDEFINED: 0x03,
  /** Top row '1'..'9' are 0x1e..0x26, '0' is 0x27. */
  DIGIT_1: 0x1e,
  DIGIT_0: 0x27,
  ENTER: 0x28,
  ESCAPE: 0x29,
  BACKSPACE: 0x2a,
  DELETE: 0x4c,
  NUM_LOCK: 0x53,
  KP_DIVIDE: 0x54,
  KP_MULTIPLY: 0x55,
  KP_MINUS: 0x56,
  KP_PLUS: 0x57,
  KP_ENTER: 0x58,
  /** Keypad '1'..'9' are 0x59..0x61, '0' is 0x62. */
  KP_1: 0x59,
  KP_0: 0x62,
  /** Keypad '.' / Del. */
  KP_DOT: 0x63,
  KP_BACKSPACE: 0xbb,
} as const;

export type PinDigit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
/** What a key means to PIN entry. */
export type PinKey = PinDigit | 'enter' | 'backspace' | 'cancel';
export const PIN_DIGITS: readonly PinDigit[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Which usages a (simulated) pad sends for digits and Enter. */
export type KeypadLayout = 'keypad' | 'toprow';

/** A usage -> key map; `null` marks a usage that is deliberately ignored. */
export type PinKeymap = ReadonlyMap<number, PinKey | null>;

function buildDefaultKeymap(): Map<number, PinKey | null> {
  const m = new Map<number, PinKey | null>();
  for (let d = 1; d <= 9; d++) {
    m.set(USAGE.DIGIT_1 + d - 1, String(d) as PinDigit);
    m.set(USAGE.KP_1 + d - 1, String(d) as PinDigit);
  }
  m.set(USAGE.DIGIT_0, '0');
  m.set(USAGE.KP_0, '0');
  m.set(USAGE.ENTER, 'enter');
  m.set(USAGE.KP_ENTER, 'enter');
  m.set(USAGE.ESCAPE, 'cancel');
  m.set(USAGE.BACKSPACE, 'backspace');
  m.set(USAGE.KP_BACKSPACE, 'backspace');
  // Keypad '.'/Del and Delete correct the last digit (the PIN screen says "Del = correct").
  m.set(USAGE.KP_DOT, 'backspace');
  m.set(USAGE.DELETE, 'backspace');
  // Num Lock does not change usage codes (only the OS's translation of them): ignore it,
  // and the keypad operators, which mean nothing to PIN entry.
  for (const u of [USAGE.NUM_LOCK, USAGE.KP_DIVIDE, USAGE.KP_MULTIPLY, USAGE.KP_MINUS, USAGE.KP_PLUS]) m.set(u, null);
  return m;
}

/**
 * The default key map: keypad usages 0x58..0x63 and top-row 0x1e..0x2a (both ranges,
 * since Num Lock never changes the usages), KP Backspace 0xbb and Delete 0x4c as
 * backspace, Escape 0x29 as cancel; Num Lock and the keypad operators are ignored.
 * Modifiers are ignored (Shift+'1' on a full keyboard still types '1').
 */
export const DEFAULT_KEYMAP: PinKeymap = buildDefaultKeymap();

/** The key a usage means, or undefined (unmapped or deliberately ignored). */
export function keyForUsage(usage: number, keymap: PinKeymap = DEFAULT_KEYMAP): PinKey | undefined {
  return keymap.get(usage) ?? undefined;
}

/** The usage a simulated pad sends for `key` (the inverse of the default map). */
export function usageForKey(key: PinKey, layout: KeypadLayout = 'keypad'): number {
  if (key === 'cancel') return USAGE.ESCAPE;
  if (key === 'backspace') return USAGE.BACKSPACE;
  if (key === 'enter') return layout === 'keypad' ? USAGE.KP_ENTER : USAGE.ENTER;
  const d = Number(key);
  if (layout === 'keypad') return d === 0 ? USAGE.KP_0 : USAGE.KP_1 + d - 1;
  return d === 0 ? USAGE.DIGIT_0 : USAGE.DIGIT_1 + d - 1;
}

/** A parsed boot keyboard report. */
export interface BootReport {
  modifiers: number;
  /** Byte 1; 0x00 by the spec, reserved for OEM use, kept but not interpreted. */
  reserved: number;
  /**
   * The usages held, in slot order, without empty slots and without duplicates. Empty in
   * the phantom state.
   */
  keys: number[];
  /** Phantom state (ErrorRollOver / POSTFail / ErrorUndefined in the key slots): ignore this report's keys. */
  rollover: boolean;
}

/** A report that is not a boot keyboard report (wrong length or report ID). Never carries the bytes. */
export class PinPadReportError extends ValidationError {
  constructor(message: string, details: { length: number; expectedLength: number; reportId?: number }) {
    super(message, { code: 'PINPAD_REPORT', device: 'pinpad', details });
  }
}

export interface ParseOptions {
  /** Set when the pad uses numbered reports: the data is 9 bytes and starts with this ID. */
  reportId?: number;
}

/**
 * Parses one input report. Throws `PinPadReportError` for a wrong length or report ID;
 * any 8 bytes (after the optional ID) parse. A slot holding 0x01..0x03 marks the phantom
 * state; other slots are taken as held usages (0x00 = empty slot).
 */
export function parseBootReport(data: Uint8Array, options: ParseOptions = {}): BootReport {
  const offset = options.reportId === undefined ? 0 : 1;
  const expected = BOOT_REPORT_LENGTH + offset;
  if (data.length !== expected)
    throw new PinPadReportError(`HID report has ${data.length} bytes, a boot keyboard report has ${expected}`, {
      length: data.length,
      expectedLength: expected,
      ...(options.reportId === undefined ? {} : { reportId: options.reportId }),
    });
  if (offset === 1 && data[0] !== options.reportId)
    throw new PinPadReportError(`HID report ID ${data[0]} is not the keyboard report ID ${options.reportId}`, {
      length: data.length,
      expectedLength: expected,
      reportId: options.reportId as number,
    });
  const modifiers = data[offset] as number;
  const reserved = data[offset + 1] as number;
  const keys: number[] = [];
  let rollover = false;
  for (let i = offset + 2; i < offset + BOOT_REPORT_LENGTH; i++) {
    const u = data[i] as number;
    if (u === USAGE.NONE) continue;
    if (u <= USAGE.ERROR_UNDEFINED) {
      rollover = true;
      continue;
    }
    if (!keys.includes(u)) keys.push(u);
  }
  return { modifiers, reserved, keys: rollover ? [] : keys, rollover };
}

export interface EncodeReport {
  modifiers?: number;
  /** Usages held; more than six encode the phantom state (all slots 0x01). */
  keys: readonly number[];
  reportId?: number;
}

/** Builds one input report (the simulator's side of `parseBootReport`). */
export function encodeBootReport(r: EncodeReport): Uint8Array {
  const offset = r.reportId === undefined ? 0 : 1;
  const out = new Uint8Array(BOOT_REPORT_LENGTH + offset);
  if (r.reportId !== undefined) out[0] = r.reportId;
  out[offset] = (r.modifiers ?? 0) & 0xff;
  const slots = out.subarray(offset + 2);
  if (r.keys.length > BOOT_REPORT_KEY_SLOTS) slots.fill(USAGE.ERROR_ROLLOVER);
  else slots.set(r.keys.map((u) => u & 0xff));
  return out;
}

/** The edges one report caused. */
export interface KeyEdges {
  /** Usages that went down, in slot order. */
  down: number[];
  /** Usages that went up. */
  up: number[];
}

/**
 * Key-down/up edge detection over successive reports. A usage goes down when a report
 * lists it and the previous accepted report did not; it goes up when a report stops
 * listing it. Phantom-state reports change nothing (the keys held before stay held), so
 * rollover never produces a spurious release or a repeated press.
 */
export class KeyEdgeDetector {
  private held: number[] = [];

  /** Usages currently held (as of the last non-phantom report). */
  get pressed(): readonly number[] {
    return this.held;
  }

  next(report: BootReport): KeyEdges {
    if (report.rollover) return { down: [], up: [] };
    const down = report.keys.filter((u) => !this.held.includes(u));
    const up = this.held.filter((u) => !report.keys.includes(u));
    this.held = report.keys.slice();
    return { down, up };
  }

  /** Forgets the held keys (after a reconnect: the pad starts from "nothing held"). */
  reset(): void {
    this.held = [];
  }
}
