/**
 * The board description: `schematics/handset.board.json`, the single source of truth for
 * which bus and which pin every part of the handset uses. The firmware reads its pins
 * from it through `boardPins()`; the wiring diagram, pin table and BOM are generated
 * from it. This file holds the TypeScript types and the zod schema (structure only);
 * the electrical rules live in `validate.ts`.
 *
 * Conventions:
 * - Header pins are physical numbers 1..40 on the SBC's 40-pin header (ref `J1`);
 *   GPIO numbers are BCM numbers, which are also the line offsets on the GPIO chip
 *   (`pinctrl-bcm2711` on a Pi 4, `pinctrl-rp1` on a Pi 5).
 * - A net endpoint is written `REF.PIN`: `J1.19` (header pin 19), `U2.DIN` (pin DIN of
 *   part U2).
 * - Voltages are volts (numbers), frequencies hertz, currents milliamps.
 * - One net is one wire: a net names one header pin and the part pin(s) it goes to, so
 *   the diagram shows exactly the wires a technician places. Power and ground nets are
 *   recognised from the header pin they use (5V, 3V3, GND).
 */
import { z } from 'zod';

/** Alternate functions the validator and the accessor understand on header pins. */
export const HEADER_FUNCTIONS = [
  'UART0_TXD',
  'UART0_RXD',
  'SPI0_MOSI',
  'SPI0_MISO',
  'SPI0_SCLK',
  'SPI0_CE0',
  'SPI0_CE1',
  'SPI1_MOSI',
  'SPI1_MISO',
  'SPI1_SCLK',
  'SPI1_CE0',
  'SPI1_CE1',
  'SPI1_CE2',
  'PWM0',
  'PWM1',
  'I2C0_SDA',
  'I2C0_SCL',
  'I2C1_SDA',
  'I2C1_SCL',
  'GPCLK0',
  'GPCLK1',
  'GPCLK2',
  'PCM_CLK',
  'PCM_FS',
  'PCM_DIN',
  'PCM_DOUT',
] as const;
export type HeaderFunction = (typeof HEADER_FUNCTIONS)[number];

/** Part types the validator knows (see `PART_CATALOG` in validate.ts for their pins). */
export const PART_TYPES = ['r307', 'ssd1680', 'fill-light', 'csi-camera', 'usb-hid-pinpad'] as const;
export type PartType = (typeof PART_TYPES)[number];

/** SBC models the accessor can resolve chip labels and device paths for. */
export const SBC_MODELS = ['pi4', 'pi5'] as const;
export type SbcModelId = (typeof SBC_MODELS)[number];

/** What a part pin does, seen from the part. `UART_TX` = the part transmits. */
export const PIN_SIGNALS = ['UART_TX', 'UART_RX', 'SPI_MOSI', 'SPI_MISO', 'SPI_SCLK', 'SPI_CS', 'PWM', 'GPIO'] as const;
export type PinSignal = (typeof PIN_SIGNALS)[number];

const volts = z.number().min(0).max(60);
const hexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #1f77b4');

export const headerPinSchema = z.strictObject({
  /** Physical pin number, 1..40 (1 = square pad, odd pins on the inner row). */
  pin: z.number().int(),
  /** Printed name: `GPIO14`, `3V3`, `5V`, `GND`. */
  name: z.string().min(1),
  kind: z.enum(['gpio', 'power', 'ground']),
  /** BCM GPIO number (= line offset on the GPIO chip), for `kind: 'gpio'`. */
  gpio: z.number().int().min(0).max(27).optional(),
  /** Rail voltage, for `kind: 'power'`. */
  voltage: volts.optional(),
  /** Alternate functions this pin supports (`UART0_TXD`, `SPI0_CE0`, `PWM0`, ...). */
  functions: z.array(z.enum(HEADER_FUNCTIONS)).default([]),
});
export type HeaderPin = z.infer<typeof headerPinSchema>;

const pwmChannelSchema = z.strictObject({
  /** Channel index on the PWM chip (pwmchipN/pwmM). */
  channel: z.number().int().min(0),
  /** `func=` value for the `pwm` device-tree overlay on this pin. */
  func: z.number().int().min(0),
});

export const sbcModelSchema = z.strictObject({
  name: z.string(),
  soc: z.string(),
  /** Label of the GPIO chip holding the header lines (find the chip by it, never by number). */
  gpioChipLabel: z.string(),
  pwm: z.strictObject({
    /** Device-tree `compatible` of the PWM controller, to find `/sys/class/pwm/pwmchipN` at run time. */
    compatible: z.string(),
    /** Platform device name: `/sys/class/pwm/pwmchipN/device` resolves to a path ending in it. */
    sysfsDevice: z.string(),
    /** Hardware-PWM capable GPIOs (BCM number as key) and their channel on this chip. */
    channels: z.record(z.string().regex(/^\d+$/), pwmChannelSchema),
    /** Device-tree overlay name (`pwm`), completed with `pin=` and `func=` by the accessor. */
    overlay: z.string(),
  }),
  /** UARTs by bus id (`UART0`): the device node and the config.txt lines that enable it. */
  uart: z.record(z.string(), z.strictObject({ path: z.string(), config: z.array(z.string()) })),
  /** SPI controllers by bus id (`SPI0`): spidev bus number and config.txt lines. */
  spi: z.record(z.string(), z.strictObject({ bus: z.number().int().min(0), config: z.array(z.string()) })),
  /** Ports the part cables plug into (CSI connector name, USB ports), as printed on this model. */
  ports: z.record(z.string(), z.strictObject({ connector: z.string(), cable: z.string() })),
});
export type SbcModel = z.infer<typeof sbcModelSchema>;

export const sbcSchema = z.strictObject({
  /** Ref designator of the header in net endpoints (`J1`). */
  ref: z.string().regex(/^[A-Z][A-Z0-9]*$/),
  name: z.string(),
  /** GPIO electrical levels: what a GPIO drives high, and the most it tolerates as input. */
  logic: z.strictObject({ outputHighV: volts, maxInputV: volts }),
  header: z.array(headerPinSchema),
  /** Non-header connections (CSI camera connector, USB host ports), by id. */
  ports: z.array(z.strictObject({ id: z.string(), kind: z.enum(['csi', 'usb']), description: z.string() })),
  models: z.strictObject({ pi4: sbcModelSchema, pi5: sbcModelSchema }),
});
export type Sbc = z.infer<typeof sbcSchema>;

export const partPinSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_+-]+$/, 'letters, digits, _ + -'),
  /** Seen from the part: `in` = the part receives, `out` = the part drives. */
  direction: z.enum(['in', 'out', 'bidir', 'power', 'ground']),
  signal: z.enum(PIN_SIGNALS).optional(),
  /** High level this output drives, in volts... */
  outputV: volts.optional(),
  /** ...or: the output swings to the voltage of the rail on this other pin of the part. */
  outputFrom: z.string().optional(),
  /** Highest voltage this input tolerates. */
  maxInputV: volts.optional(),
  /** Acceptable supply range `[min, max]` for a power pin. */
  supplyV: z.tuple([volts, volts]).optional(),
  /** Typical current drawn on a power pin, mA (for the BOM notes and the rail budget). */
  currentMa: z.number().min(0).optional(),
  activeLow: z.boolean().optional(),
  /** An optional pin may stay unconnected. */
  optional: z.boolean().optional(),
  description: z.string(),
});
export type PartPin = z.infer<typeof partPinSchema>;

export const componentSchema = z.strictObject({
  ref: z.string().regex(/^[A-Z]+[0-9]+$/),
  /** `100 Ω`, `AO3400A`, ... */
  value: z.string(),
  part: z.string(),
  manufacturer: z.string(),
  mpn: z.string(),
  /** Component pins in the order of its symbol: `1`/`2`, `G`/`D`/`S`, `A`/`K`. */
  pins: z.array(z.string()).min(1),
  notes: z.string().default(''),
});
export type Component = z.infer<typeof componentSchema>;

export const partSchema = z.strictObject({
  ref: z.string().regex(/^[A-Z]+[0-9]+$/),
  /** One of PART_TYPES; kept a plain string here so an unknown type is reported by its own rule. */
  type: z.string(),
  name: z.string(),
  manufacturer: z.string(),
  mpn: z.string(),
  quantity: z.number().int().min(1).default(1),
  notes: z.string().default(''),
  /** Type-specific settings, checked against the type's schema by the validator. */
  config: z.record(z.string(), z.unknown()).default({}),
  pins: z.array(partPinSchema).default([]),
  /**
   * For sub-assemblies (the fill-light board): its discrete components and the nets
   * between them. Endpoints are `REF.PIN` for components, or a bare part pin name.
   */
  circuit: z
    .strictObject({
      components: z.array(componentSchema).min(1),
      nets: z.array(z.strictObject({ name: z.string(), connects: z.array(z.string()).min(2) })),
    })
    .optional(),
});
export type Part = z.infer<typeof partSchema>;

export const netSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_+-]+$/),
  /** Endpoints, `REF.PIN`: `J1.19`, `U2.DIN`. */
  connects: z.array(z.string().regex(/^[A-Za-z0-9]+\.[A-Za-z0-9_+-]+$/, 'an endpoint like J1.19 or U2.DIN')).min(2),
  /** Wire colour in the diagram (default: by rail, else from the signal palette). */
  color: hexColor.optional(),
  description: z.string().default(''),
});
export type Net = z.infer<typeof netSchema>;

export const bomItemSchema = z.strictObject({
  ref: z.string(),
  part: z.string(),
  manufacturer: z.string(),
  mpn: z.string(),
  quantity: z.number().int().min(1),
  notes: z.string().default(''),
});
export type BomItem = z.infer<typeof bomItemSchema>;

export const boardSchema = z.strictObject({
  $comment: z.string().optional(),
  name: z.string(),
  title: z.string(),
  revision: z.string(),
  description: z.string().default(''),
  sbc: sbcSchema,
  parts: z.array(partSchema),
  nets: z.array(netSchema),
  /** Items without nets: the SBC itself, cables, wires, supply. */
  hardware: z.array(bomItemSchema).default([]),
});

/** A parsed board (defaults applied). Only `validateBoard()` says it is electrically sound. */
export type Board = z.infer<typeof boardSchema>;
/** What the JSON file may omit (defaults filled in by the schema). */
export type BoardInput = z.input<typeof boardSchema>;

/** Per-type settings (`part.config`), checked by the validator once the type is known. */
export const partConfigSchemas = {
  r307: z.strictObject({
    uart: z.string().regex(/^UART\d$/),
    /** 9600 x N, N = 1..12; factory 57600. */
    baudRate: z
      .number()
      .int()
      .refine((b) => b % 9600 === 0 && b / 9600 >= 1 && b / 9600 <= 12, 'baud must be 9600 x N, N = 1..12'),
    address: z
      .string()
      .regex(/^[0-9A-F]{8}$/)
      .default('FFFFFFFF'),
  }),
  ssd1680: z.strictObject({
    spi: z.string().regex(/^SPI\d$/),
    chipSelect: z.number().int().min(0).max(2),
    speedHz: z.number().int().min(100_000).max(20_000_000),
    mode: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
    panel: z.string(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    hatRevision: z.string(),
  }),
  'fill-light': z.strictObject({
    /** >= 20 kHz: inaudible and >= 20 PWM periods per ms of exposure (no rolling-shutter banding). */
    frequencyHz: z.number().int().positive(),
    /** LED forward current at 100 % duty, mA (set by the current resistor). */
    ledCurrentMa: z.number().positive(),
  }),
  'csi-camera': z.strictObject({
    port: z.string(),
    capture: z.enum(['rpicam-vid', 'ffmpeg-v4l2']),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    framerate: z.number().positive(),
  }),
  'usb-hid-pinpad': z.strictObject({
    port: z.string(),
    /** HID usage page / usage the driver matches (1 / 6 = generic desktop keyboard). */
    usagePage: z.number().int().min(0).max(0xffff),
    usage: z.number().int().min(0).max(0xffff),
    /** A specific keypad, when known; null matches any keyboard-class device on the usage. */
    vendorId: z.number().int().min(0).max(0xffff).nullable(),
    productId: z.number().int().min(0).max(0xffff).nullable(),
    /** hidapi backend: libusb detaches the kernel driver so digits never reach a console. */
    driver: z.enum(['libusb', 'hidraw']),
  }),
} as const satisfies Record<PartType, z.ZodType>;

export type PartConfig<T extends PartType> = z.infer<(typeof partConfigSchemas)[T]>;
