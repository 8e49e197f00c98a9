/**
 * The firmware's view of the board: every bus, line and channel it opens, resolved for
 * one SBC model, so pins are never typed twice. The shapes line up with the transport
 * interfaces in `@handset/device-drivers/transport` (`UartOptions`, `SpiOptions`,
 * `GpioLineRequest`, the PWM chip lookup).
 */
import type { Board, HeaderPin, Part, PartConfig, PartType, SbcModelId } from './board';
import { SBC_MODELS } from './board';
import { BoardError } from './errors';
import { describePartPin, indexBoard } from './netlist';

/** One GPIO line, ready for `GpioController.requestLine({chipLabel, line, ...})`. */
export interface GpioPin {
  /** GPIO chip label for the model (`pinctrl-bcm2711` / `pinctrl-rp1`). */
  chipLabel: string;
  /** Line offset on that chip = BCM GPIO number. */
  line: number;
  /** Kernel line name (`GPIO25`). */
  name: string;
  /** Physical header pin (for humans and the wiring diagram). */
  headerPin: number;
  /** True when the part's pin is active low. */
  activeLow: boolean;
}

export interface BoardPins {
  model: SbcModelId;
  /** `Raspberry Pi 4 Model B`, `Raspberry Pi 5`. */
  modelName: string;
  gpioChipLabel: string;
  r307: {
    /** `UartOptions` for the sensor: `{path, baudRate}` + which UART and its pins. */
    uart: { path: string; baudRate: number; bus: string; txHeaderPin: number; rxHeaderPin: number };
    /** Finger-detect line: low while a finger is on the window; watch the falling edge. */
    touch: GpioPin & { edge: 'falling' | 'rising'; bias: 'pull-up' | 'pull-down' };
    /** Module address (hex, 8 digits). */
    address: string;
  };
  ssd1680: {
    /** `SpiOptions` for the panel, plus the spidev path it resolves to. */
    spi: { bus: number; chipSelect: number; speedHz: number; mode: 0 | 1 | 2 | 3; path: string };
    dc: GpioPin;
    rst: GpioPin;
    busy: GpioPin;
    /** HAT rev 2.3 power switch (drive high), or null on panels without it. */
    pwr: GpioPin | null;
    panel: string;
    width: number;
    height: number;
  };
  fillLight: {
    pwm: {
      /** Find `/sys/class/pwm/pwmchipN` whose device is `sysfsDevice` (or whose of_node is `compatible`). */
      chip: { sysfsDevice: string; compatible: string };
      channel: number;
      frequencyHz: number;
      /** 1e9 / frequencyHz, rounded: what sysfs `period` wants. */
      periodNs: number;
      gpio: number;
      /** Pin name for an IO plugin (`GPIO12`). */
      pinName: string;
      headerPin: number;
      /** The config.txt line that routes the channel to the pin. */
      overlay: string;
    };
    ledCurrentMa: number;
  };
  pinpad: {
    usagePage: number;
    usage: number;
    vendorId: number | null;
    productId: number | null;
    driver: 'libusb' | 'hidraw';
    port: { connector: string; cable: string };
  };
  camera: {
    capture: 'rpicam-vid' | 'ffmpeg-v4l2';
    width: number;
    height: number;
    framerate: number;
    port: { connector: string; cable: string };
  };
  /** Every config.txt line the board needs on this model (UART, SPI, PWM overlay). */
  bootConfig: string[];
}

function onePart<T extends PartType>(board: Board, type: T): { part: Part; config: PartConfig<T> } {
  const part = board.parts.find((p) => p.type === type);
  if (!part)
    throw new BoardError(board.name, [{ rule: 'missing-part', message: `the handset needs a ${type} part; the board has none` }]);
  return { part, config: part.config as PartConfig<T> };
}

/**
 * Resolves the handset's pins for one SBC model. Expects a board that passed
 * `validateBoard` (use `loadBoard()`); throws `BoardError` if a pin it needs is not wired.
 */
export function boardPins(board: Board, model: SbcModelId = 'pi4'): BoardPins {
  if (!SBC_MODELS.includes(model))
    throw new BoardError(board.name, [
      { rule: 'model', message: `unknown SBC model '${model}' (known: ${SBC_MODELS.join(', ')})` },
    ]);
  const idx = indexBoard(board);
  const m = board.sbc.models[model];

  const header = (part: Part, pin: string): HeaderPin => {
    const h = idx.headerPinsOf(part.ref, pin)[0];
    if (!h)
      throw new BoardError(board.name, [
        {
          rule: 'unconnected',
          part: part.ref,
          pin,
          message: `${describePartPin(part, part.ref, pin)} is not wired to a header pin`,
        },
      ]);
    return h;
  };
  const gpio = (part: Part, pin: string): GpioPin => {
    const h = header(part, pin);
    if (h.gpio === undefined)
      throw new BoardError(board.name, [
        {
          rule: 'bus-pin',
          part: part.ref,
          pin,
          headerPin: h.pin,
          message: `${describePartPin(part, part.ref, pin)} is on header pin ${h.pin} (${h.name}), not a GPIO`,
        },
      ]);
    const activeLow = part.pins.find((p) => p.name === pin)?.activeLow ?? false;
    return { chipLabel: m.gpioChipLabel, line: h.gpio, name: `GPIO${h.gpio}`, headerPin: h.pin, activeLow };
  };
  const missingModel = (message: string) => new BoardError(board.name, [{ rule: 'model', message }]);

  const r307 = onePart(board, 'r307');
  const uart = m.uart[r307.config.uart];
  if (!uart) throw missingModel(`sbc.models.${model}.uart has no ${r307.config.uart}`);
  const touch = gpio(r307.part, 'TOUCH');

  const epd = onePart(board, 'ssd1680');
  const spi = m.spi[epd.config.spi];
  if (!spi) throw missingModel(`sbc.models.${model}.spi has no ${epd.config.spi}`);
  const hasPwr = idx.headerPinsOf(epd.part.ref, 'PWR').length > 0;

  const light = onePart(board, 'fill-light');
  const pwmHeader = header(light.part, 'PWM');
  const channel = m.pwm.channels[String(pwmHeader.gpio)];
  if (!channel || pwmHeader.gpio === undefined)
    throw missingModel(`sbc.models.${model}.pwm.channels has no GPIO${pwmHeader.gpio}`);
  const overlay = `dtoverlay=${m.pwm.overlay},pin=${pwmHeader.gpio},func=${channel.func}`;

  const pad = onePart(board, 'usb-hid-pinpad');
  const padPort = m.ports[pad.config.port];
  const cam = onePart(board, 'csi-camera');
  const camPort = m.ports[cam.config.port];
  if (!padPort || !camPort) throw missingModel(`sbc.models.${model}.ports lacks ${!padPort ? pad.config.port : cam.config.port}`);

  return {
    model,
    modelName: m.name,
    gpioChipLabel: m.gpioChipLabel,
    r307: {
      uart: {
        path: uart.path,
        baudRate: r307.config.baudRate,
        bus: r307.config.uart,
        txHeaderPin: header(r307.part, 'RXD').pin,
        rxHeaderPin: header(r307.part, 'TXD').pin,
      },
      touch: { ...touch, edge: touch.activeLow ? 'falling' : 'rising', bias: touch.activeLow ? 'pull-up' : 'pull-down' },
      address: r307.config.address,
    },
    ssd1680: {
      spi: {
        bus: spi.bus,
        chipSelect: epd.config.chipSelect,
        speedHz: epd.config.speedHz,
        mode: epd.config.mode,
        path: `/dev/spidev${spi.bus}.${epd.config.chipSelect}`,
      },
      dc: gpio(epd.part, 'DC'),
      rst: gpio(epd.part, 'RST'),
      busy: gpio(epd.part, 'BUSY'),
      pwr: hasPwr ? gpio(epd.part, 'PWR') : null,
      panel: epd.config.panel,
      width: epd.config.width,
      height: epd.config.height,
    },
    fillLight: {
      pwm: {
        chip: { sysfsDevice: m.pwm.sysfsDevice, compatible: m.pwm.compatible },
        channel: channel.channel,
        frequencyHz: light.config.frequencyHz,
        periodNs: Math.round(1e9 / light.config.frequencyHz),
        gpio: pwmHeader.gpio,
        pinName: `GPIO${pwmHeader.gpio}`,
        headerPin: pwmHeader.pin,
        overlay,
      },
      ledCurrentMa: light.config.ledCurrentMa,
    },
    pinpad: {
      usagePage: pad.config.usagePage,
      usage: pad.config.usage,
      vendorId: pad.config.vendorId,
      productId: pad.config.productId,
      driver: pad.config.driver,
      port: padPort,
    },
    camera: {
      capture: cam.config.capture,
      width: cam.config.width,
      height: cam.config.height,
      framerate: cam.config.framerate,
      port: camPort,
    },
    bootConfig: [...new Set([...uart.config, ...spi.config, overlay])],
  };
}
