/**
 * SSD1680 e-ink controller: command codes, register values, panel profiles and timings.
 * Imported by both `driver.ts` (host side) and `sim.ts` (the simulated panel), so the two
 * cannot disagree silently. Facts: shared/reference/eink-ssd1680.md (sections cited as §n).
 */
import { DeviceTimeoutError, type HandsetErrorOptions, TransportError, ValidationError } from '../core/errors';

/** Command bytes (sent with DC low); their parameters follow with DC high. §4 */
export const Cmd = {
  DRIVER_OUTPUT: 0x01,
  GATE_VOLTAGE: 0x03,
  SOURCE_VOLTAGE: 0x04,
  DEEP_SLEEP: 0x10,
  DATA_ENTRY_MODE: 0x11,
  SW_RESET: 0x12,
  TEMP_SENSOR: 0x18,
  WRITE_TEMP: 0x1a,
  MASTER_ACTIVATION: 0x20,
  UPDATE_CONTROL_1: 0x21,
  UPDATE_CONTROL_2: 0x22,
  WRITE_RAM_BW: 0x24,
  WRITE_RAM_RED: 0x26,
  VCOM: 0x2c,
  WRITE_LUT: 0x32,
  DISPLAY_OPTION: 0x37,
  BORDER_WAVEFORM: 0x3c,
  END_OPTION: 0x3f,
  RAM_X_WINDOW: 0x44,
  RAM_Y_WINDOW: 0x45,
  RAM_X_COUNTER: 0x4e,
  RAM_Y_COUNTER: 0x4f,
} as const;
export type CmdCode = (typeof Cmd)[keyof typeof Cmd];

/**
 * Number of parameter bytes each known command takes (RAM and LUT writes are streams:
 * `Infinity`). The simulator treats a command missing here as unknown (a fault).
 */
export const PARAM_BYTES: ReadonlyMap<number, number> = new Map<number, number>([
  [Cmd.DRIVER_OUTPUT, 3],
  [Cmd.GATE_VOLTAGE, 1],
  [Cmd.SOURCE_VOLTAGE, 3],
  [Cmd.DEEP_SLEEP, 1],
  [Cmd.DATA_ENTRY_MODE, 1],
  [Cmd.SW_RESET, 0],
  [Cmd.TEMP_SENSOR, 1],
  [Cmd.WRITE_TEMP, 2],
  [Cmd.MASTER_ACTIVATION, 0],
  [Cmd.UPDATE_CONTROL_1, 2],
  [Cmd.UPDATE_CONTROL_2, 1],
  [Cmd.WRITE_RAM_BW, Number.POSITIVE_INFINITY],
  [Cmd.WRITE_RAM_RED, Number.POSITIVE_INFINITY],
  [Cmd.VCOM, 1],
  [Cmd.WRITE_LUT, 153],
  [Cmd.DISPLAY_OPTION, 10],
  [Cmd.BORDER_WAVEFORM, 1],
  [Cmd.END_OPTION, 1],
  [Cmd.RAM_X_WINDOW, 2],
  [Cmd.RAM_Y_WINDOW, 4],
  [Cmd.RAM_X_COUNTER, 1],
  [Cmd.RAM_Y_COUNTER, 2],
]);

/**
 * Data entry mode (0x11): bit 0 = X increments, bit 1 = Y increments, bit 2 = the address
 * counter advances in Y first (else X first). 0x03 = X+, Y+, X first (what every driver uses).
 */
export const DataEntry = {
  XDEC_YDEC_X: 0x00,
  XINC_YDEC_X: 0x01,
  XDEC_YINC_X: 0x02,
  XINC_YINC_X: 0x03,
  XDEC_YDEC_Y: 0x04,
  XINC_YDEC_Y: 0x05,
  XDEC_YINC_Y: 0x06,
  XINC_YINC_Y: 0x07,
} as const;

export function decodeDataEntry(mode: number): { xInc: boolean; yInc: boolean; yFirst: boolean } {
  return { xInc: (mode & 1) !== 0, yInc: (mode & 2) !== 0, yFirst: (mode & 4) !== 0 };
}

/** Display Update Control 2 (0x22) bits. §5 */
export const Upd2 = {
  CLOCK_ON: 0x80,
  ANALOG_ON: 0x40,
  LOAD_TEMP: 0x20,
  LOAD_LUT: 0x10,
  MODE_2: 0x08,
  DISPLAY: 0x04,
  ANALOG_OFF: 0x02,
  CLOCK_OFF: 0x01,
} as const;

/** The 0x22 sequence bytes the driver uses. §5 */
export const UpdateSeq = {
  /** Full refresh, mode 1, OTP LUT for the sensed temperature, power off after. */
  FULL: 0xf7,
  /** Partial refresh, mode 2 (old/new difference), OTP LUT, power off after. */
  PARTIAL: 0xff,
  /** Mode 1 with the LUT already loaded (V4 fast refresh), power off after. */
  FAST: 0xc7,
  /** Mode 2 with a LUT loaded by 0x32, power already on (2.9" V2 partial). */
  PARTIAL_CUSTOM_LUT: 0x0f,
  /** Clock + analog on only (before a custom-LUT partial). */
  POWER_ON: 0xc0,
  /** Fast init: load temperature (sensor). */
  LOAD_TEMP: 0xb1,
  /** Fast init: load the LUT for the written temperature. */
  LOAD_TEMP_LUT: 0x91,
} as const;

/** Deep sleep mode 1 keeps RAM; only a hardware reset leaves it. §3 §4 */
export const DEEP_SLEEP_MODE_1 = 0x01;
/** 0x3C values: border follows the white LUT (init) / border held (partial). */
export const BORDER_FOLLOW_WHITE = 0x05;
export const BORDER_HOLD = 0x80;
/** 0x18 0x80: internal temperature sensor. */
export const TEMP_SENSOR_INTERNAL = 0x80;
/** 0x1A 0x64 0x00: 100 °C written to the temperature register (V4 fast waveform). */
export const FAST_TEMP_C = 100;
/** 0x37 byte 6 bit 6: "PingPong for Display Mode 2" (controller copies new -> old). */
export const DISPLAY_OPTION_PINGPONG = 0x40;

/** Datasheet/driver times in ms (§3, §8). A simulator holds BUSY this long. */
export interface PanelTimings {
  /** RST high, low pulse, high again before the first command. */
  resetHighMs: number;
  resetLowMs: number;
  resetAfterMs: number;
  /** BUSY high after a hardware reset / SW reset 0x12. */
  resetBusyMs: number;
  swResetBusyMs: number;
  /** Whole 0x22/0x20 sequences as measured end to end. */
  fullRefreshMs: number;
  partialRefreshMs: number;
  /** Mode-1 refresh with the hot (100 °C) waveform. Not measured for the 2.13" (§8): assumed. */
  fastRefreshMs: number;
  powerOnMs: number;
  powerOffMs: number;
  /** LUT/temperature loads without display (0xB1 / 0x91). */
  loadMs: number;
}

/** One panel: geometry, the 0x01 parameters, timings and waveform facts. §1 §6 */
export interface PanelProfile {
  readonly id: '2in13' | '2in9';
  readonly name: string;
  /** Visible pixels across the source lines (X) and gates (Y), native portrait orientation. */
  readonly width: number;
  readonly height: number;
  /** Controller RAM columns used (a multiple of 8). */
  readonly ramWidth: number;
  readonly bytesPerRow: number;
  /** 0x01 parameters: MUX (gates - 1) low, high, scan direction. */
  readonly driverOutput: readonly [number, number, number];
  readonly timings: PanelTimings;
  /** True when the OTP holds a usable mode-2 (partial) waveform (2.13" V4). */
  readonly otpPartialWaveform: boolean;
}

export const PANEL_2IN13: PanelProfile = {
  id: '2in13',
  name: 'Waveshare 2.13" V4 (SSD1680, 122x250)',
  width: 122,
  height: 250,
  ramWidth: 128,
  bytesPerRow: 16,
  driverOutput: [0xf9, 0x00, 0x00],
  timings: {
    resetHighMs: 20,
    resetLowMs: 2,
    resetAfterMs: 20,
    resetBusyMs: 5,
    swResetBusyMs: 10,
    fullRefreshMs: 3500,
    partialRefreshMs: 455,
    fastRefreshMs: 1500,
    powerOnMs: 95,
    powerOffMs: 140,
    loadMs: 50,
  },
  otpPartialWaveform: true,
};

export const PANEL_2IN9: PanelProfile = {
  id: '2in9',
  name: 'Waveshare 2.9" V2 (SSD1680, 128x296)',
  width: 128,
  height: 296,
  ramWidth: 128,
  bytesPerRow: 16,
  driverOutput: [0x27, 0x01, 0x00],
  timings: {
    resetHighMs: 50,
    resetLowMs: 2,
    resetAfterMs: 50,
    resetBusyMs: 5,
    swResetBusyMs: 10,
    fullRefreshMs: 4000,
    partialRefreshMs: 740,
    fastRefreshMs: 1500,
    powerOnMs: 95,
    powerOffMs: 140,
    loadMs: 50,
  },
  otpPartialWaveform: false,
};

export const PANELS = { '2in13': PANEL_2IN13, '2in9': PANEL_2IN9 } as const;
export type PanelId = keyof typeof PANELS;

export type Rotation = 0 | 90 | 180 | 270;

/** View (rotated) coordinates -> native panel coordinates. `W`/`H`: native visible size. */
export function toNative(x: number, y: number, rotation: Rotation, W: number, H: number): [number, number] {
  switch (rotation) {
    case 0:
      return [x, y];
    case 90:
      return [y, H - 1 - x];
    case 180:
      return [W - 1 - x, H - 1 - y];
    case 270:
      return [W - 1 - y, x];
  }
}

/** Bytes of one full RAM plane. */
export function frameBytes(panel: PanelProfile): number {
  return panel.bytesPerRow * panel.height;
}

/** Length of a custom LUT block: 153 waveform bytes + end option, gate, 3 source, VCOM. */
export const LUT_BLOCK_BYTES = 159;

/** BUSY stayed high past the driver's timeout (a stuck panel, a power problem). Code DEVICE_TIMEOUT. */
export class EinkBusyTimeoutError extends DeviceTimeoutError {}

/** The SPI or a GPIO line failed while talking to the panel; the panel kept its old image. Code EINK_BUS. */
export class EinkBusError extends TransportError {
  constructor(message: string, options: HandsetErrorOptions = {}) {
    super(message, { ...options, code: 'EINK_BUS' });
  }
}

/** A frame of the wrong size, a bad rotation or window: a caller bug. Code EINK_INPUT. */
export class EinkInputError extends ValidationError {
  constructor(message: string, options: HandsetErrorOptions = {}) {
    super(message, { ...options, code: 'EINK_INPUT' });
  }
}
