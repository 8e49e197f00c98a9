/**
 * `Platform` = the drivers of one handset, wired from the board description.
 *
 * Every pin, bus and device path comes from `boardPins(board, model)` (schematics):
 * nothing here types a GPIO number twice. Two builders:
 * - `createSimPlatform()`: the real drivers on simulated devices (SimR307 over a SimUart
 *   pair, Ssd1680 over SimSpi/SimGpio into an `Ssd1680Sim` panel, `SimCamera` lit by a
 *   `SimPwm` LED through the virtual johnny-five IO plugin), plus the control faces of
 *   every simulated device for tests, the demo and the virtual handset page;
 * - `createDevicePlatform(board)`: the Linux transports (serialport, spidev, GPIO character
 *   device, sysfs PWM, rpicam-vid). Thin on purpose: it is only constructed and type-checked
 *   here; the behaviour behind it is the drivers' and the transports' (tested there).
 *
 * Device timings (sensor capture, e-ink BUSY, camera frames) run on `deviceClock`; a
 * simulated platform defaults to a ManualClock with auto-advance, so a verify or a full
 * e-ink refresh costs no real time. Code that waits for a human (a finger placed from a
 * web page) needs a real clock: pass `deviceClock: systemClock`.
 */
import { Camera, createCaptureCamera, SimCamera } from '@handset/device-drivers/camera';
import { type Clock, ManualClock, systemClock } from '@handset/device-drivers/core';
import {
  createLinuxIoPlugin,
  createVirtualIoPlugin,
  FillLight,
  FillLightController,
  type PwmIoPlugin,
} from '@handset/device-drivers/fill-light';
import { createSimPinPad, type PinPad, type SimKeypad } from '@handset/device-drivers/pinpad';
import { MemoryR307Store, R307, type R307Store, type R307Timings, SimR307 } from '@handset/device-drivers/r307';
import { type PanelId, Ssd1680, Ssd1680Sim } from '@handset/device-drivers/ssd1680';
import {
  createSimUartPair,
  type GpioController,
  type GpioLine,
  SimGpioController,
  SimPwm,
  SimSpi,
  type SimUart,
} from '@handset/device-drivers/transport';
import { LinuxGpioController, SerialPortUart, SpiDevSpi, SysfsPwm } from '@handset/device-drivers/transport/linux';
import { type Board, type BoardPins, boardPins, referenceBoard, type SbcModelId } from '@handset/schematics';
import { QrDecoder, QrScanner } from './modules/qr-scan/index';
import { ScreenPresenter } from './ui/presenter';

/** The drivers of one handset. Opened by `open()`, released by `close()`. */
export interface Platform {
  readonly kind: 'sim' | 'device';
  /** The pins every driver was wired with (from the board description). */
  readonly pins: BoardPins;
  /** Clock of the device timings (sensor, panel, camera). */
  readonly deviceClock: Clock;
  readonly r307: R307;
  readonly display: Ssd1680;
  readonly presenter: ScreenPresenter;
  readonly camera: Camera;
  readonly scanner: QrScanner;
  readonly light: FillLightController;
  /** USB HID PIN pad for the PIN step-up (opened lazily by the password module); absent = no PIN possible. */
  readonly pinpad?: PinPad;
  /** Opens the sensor link (handshake). The panel and camera open lazily on first use. */
  open(): Promise<void>;
  /** Releases every line, bus and port (idempotent). */
  close(): Promise<void>;
}

/** Control faces of the simulated devices (tests, demo, virtual handset page). */
export interface SimDevices {
  r307: SimR307;
  /** The host end of the sensor's serial line (fault injection: `faults.write`, `unplug()`). */
  uart: SimUart;
  panel: Ssd1680Sim;
  spi: SimSpi;
  gpio: SimGpioController;
  camera: SimCamera;
  led: SimPwm;
  /** The simulated USB keypad's control face (`type('2468')`, `enter()`, `cancel()`, `unplug()`). */
  keypad: SimKeypad;
}

export interface SimPlatform extends Platform {
  readonly kind: 'sim';
  readonly sim: SimDevices;
  readonly pinpad: PinPad;
}

/** Maps the board's panel name (`2.13in-v4`) to the driver's panel id. */
export function panelIdOf(name: string): PanelId {
  if (/^2\.?13/.test(name) || name.startsWith('2in13')) return '2in13';
  if (/^2\.?9/.test(name) || name.startsWith('2in9')) return '2in9';
  throw new Error(`unsupported e-ink panel ${JSON.stringify(name)} in the board description`);
}

export interface SimPlatformOptions {
  /** Board description (default: the reference board bundled with schematics). */
  board?: Board;
  model?: SbcModelId;
  /** Device timings; default a ManualClock with auto-advance. */
  deviceClock?: Clock;
  /** Clock of the R307 driver's reply timeouts (default the system clock; see below). */
  r307DriverClock?: Clock;
  /** Sensor flash (templates survive "reboots" when the same store is passed again). */
  r307Store?: R307Store;
  /** Sensor timings (default the R307's datasheet figures on `deviceClock`). */
  r307Timings?: Partial<R307Timings>;
  /** Shop light at the merchant's QR, lux (default 300). */
  ambientLux?: number;
  /** Per-frame decode budget (default 40 ms). */
  decodeBudgetMs?: number;
  /** A decoder to share between platforms (zxing-wasm loads once per process). */
  decoder?: QrDecoder;
  camera?: { width?: number; height?: number; fps?: number };
  /**
   * Clock of the PIN pad (entry timeouts, key hold/gap). Default the system clock: under an
   * auto-advancing ManualClock an empty PIN prompt would time out as soon as the process idles.
   */
  pinpadClock?: Clock;
}

let sharedDecoder: Promise<QrDecoder> | undefined;

/** One zxing-wasm decoder per process (loading the wasm module costs ~100 ms). */
export function defaultDecoder(budgetMs = 40): Promise<QrDecoder> {
  sharedDecoder ??= QrDecoder.create({ budgetMs });
  return sharedDecoder;
}

/** The handset on simulated devices: real drivers, simulated peers, pins from the board. */
export async function createSimPlatform(o: SimPlatformOptions = {}): Promise<SimPlatform> {
  const pins = boardPins(o.board ?? referenceBoard(), o.model ?? 'pi4');
  const clock = o.deviceClock ?? new ManualClock({ autoAdvance: true, epochMs: Date.now() });
  const gpio = new SimGpioController({ chips: [{ label: pins.gpioChipLabel, lines: 58 }], clock });

  // R307 on the UART, TOUCH on its GPIO
  const { host: uart, device } = createSimUartPair({ path: pins.r307.uart.path, baudRate: pins.r307.uart.baudRate });
  const t = pins.r307.touch;
  const touchWire = gpio.line(t.chipLabel, t.line);
  const r307Sim = new SimR307({ clock, store: o.r307Store ?? new MemoryR307Store(), timings: o.r307Timings, touch: touchWire });
  r307Sim.liftFinger();
  await r307Sim.attach(device);
  const touch = await gpio.requestLine({
    chipLabel: t.chipLabel,
    line: t.line,
    direction: 'in',
    activeLow: t.activeLow,
    consumer: 'r307-touch',
  });
  // The driver's reply timeouts run on real time: sharing the auto-advancing clock with
  // the simulator would let a timeout fire before the sim's reply has crossed the SimUart
  // (several setImmediate hops). The sensor's own timings stay on `clock`.
  const r307 = new R307({
    uart,
    clock: o.r307DriverClock ?? systemClock,
    touch,
    address: Number.parseInt(pins.r307.address, 16),
  });

  // SSD1680 on SPI + DC/RST/BUSY/PWR
  const e = pins.ssd1680;
  const panelId = panelIdOf(e.panel);
  const panel = new Ssd1680Sim({ panel: panelId, clock, viewRotation: 90 });
  const wire = (p: { chipLabel: string; line: number }) => gpio.line(p.chipLabel, p.line);
  const wires = { dc: wire(e.dc), rst: wire(e.rst), busy: wire(e.busy), pwr: e.pwr ? wire(e.pwr) : undefined };
  panel.connect(wires);
  const spi = new SimSpi({ name: e.spi.path, peer: panel, dc: wires.dc, record: false });
  const einkLines = await requestEinkLines(gpio, pins);
  const display = new Ssd1680({ spi, ...einkLines, clock, panel: panelId, rotation: 90 });

  // camera + LED fill-light
  const led = new SimPwm({ name: `sim:${pins.fillLight.pwm.pinName}`, clock });
  const io = createVirtualIoPlugin({ pwm: { [pins.fillLight.pwm.gpio]: led }, frequencyHz: pins.fillLight.pwm.frequencyHz });
  const cam = new SimCamera({
    clock,
    width: o.camera?.width ?? pins.camera.width,
    height: o.camera?.height ?? pins.camera.height,
    fps: o.camera?.fps ?? pins.camera.framerate,
    ambientLux: o.ambientLux ?? 300,
    light: { pwm: led, fullLux: 250 },
  });
  const camera = new Camera({ source: cam.source, name: 'sim-camera' });
  const decoder = o.decoder ?? (await defaultDecoder(o.decodeBudgetMs));
  const parts = await finish({ io, pinName: pins.fillLight.pwm.pinName, camera, decoder, clock });

  // USB HID PIN pad (boot keyboard reports over a SimHidDevice)
  const { pinpad, keypad } = createSimPinPad({ clock: o.pinpadClock ?? systemClock });

  let closed = false;
  return {
    kind: 'sim',
    pins,
    deviceClock: clock,
    r307,
    display,
    presenter: new ScreenPresenter(display),
    camera,
    scanner: parts.scanner,
    light: parts.controller,
    pinpad,
    sim: { r307: r307Sim, uart, panel, spi, gpio, camera: cam, led, keypad },
    async open() {
      await r307Sim.whenReady();
      await spi.open();
      await r307.open();
    },
    async close() {
      if (closed) return;
      closed = true;
      await parts.fillLight.close().catch(() => undefined);
      await pinpad.close().catch(() => undefined);
      await r307.close().catch(() => undefined);
      await r307Sim.detach().catch(() => undefined);
      for (const l of [touch, einkLines.dc, einkLines.rst, einkLines.busy, einkLines.pwr])
        await l?.close().catch(() => undefined);
      await spi.close().catch(() => undefined);
    },
  };
}

async function requestEinkLines(gpio: GpioController, pins: BoardPins) {
  const e = pins.ssd1680;
  const req = (p: { chipLabel: string; line: number; activeLow: boolean }, direction: 'in' | 'out', initial: 0 | 1 = 0) =>
    gpio.requestLine({ chipLabel: p.chipLabel, line: p.line, direction, initial, consumer: 'ssd1680' });
  // RST is active low on the part; the driver writes physical levels, so it is requested as-is.
  const dc = await req(e.dc, 'out');
  const rst = await req(e.rst, 'out', 1);
  const busy = await req(e.busy, 'in');
  const pwr: GpioLine | undefined = e.pwr ? await req(e.pwr, 'out', 1) : undefined;
  return { dc, rst, busy, pwr };
}

async function finish(o: { io: PwmIoPlugin; pinName: string; camera: Camera; decoder: QrDecoder; clock: Clock }) {
  const fillLight = await FillLight.open({ io: o.io, pin: o.pinName });
  const controller = new FillLightController({ light: fillLight });
  const scanner = new QrScanner({ camera: o.camera, decoder: o.decoder, light: controller, clock: o.clock });
  return { fillLight, controller, scanner };
}

export interface DevicePlatformOptions {
  model?: SbcModelId;
  /** Per-frame decode budget; a Pi core is several times slower than a desktop (default 40 ms). */
  decodeBudgetMs?: number;
}

/**
 * The handset on its real board (Raspberry Pi 4/5): serialport for the R307, spidev +
 * GPIO character device for the SSD1680, sysfs PWM for the LED, rpicam-vid (CSI) or
 * ffmpeg (UVC) for the camera. Native modules load lazily in `open()`/`requestLine()`.
 */
/* v8 ignore start -- real-hardware glue: constructed and type-checked only */
export async function createDevicePlatform(board: Board, o: DevicePlatformOptions = {}): Promise<Platform> {
  const pins = boardPins(board, o.model ?? 'pi4');
  const clock = systemClock;
  const gpio = new LinuxGpioController({ clock });
  const t = pins.r307.touch;
  const uart = new SerialPortUart({ path: pins.r307.uart.path, baudRate: pins.r307.uart.baudRate });
  const touch = await gpio.requestLine({
    chipLabel: t.chipLabel,
    line: t.line,
    direction: 'in',
    bias: t.bias,
    activeLow: t.activeLow,
    consumer: 'r307-touch',
  });
  const r307 = new R307({ uart, clock, touch, touchActiveLevel: 1, address: Number.parseInt(pins.r307.address, 16) });
  const e = pins.ssd1680;
  const spi = new SpiDevSpi({ bus: e.spi.bus, chipSelect: e.spi.chipSelect, speedHz: e.spi.speedHz, mode: e.spi.mode });
  await spi.open();
  const lines = await requestEinkLines(gpio, pins);
  const display = new Ssd1680({ spi, ...lines, clock, panel: panelIdOf(e.panel), rotation: 90 });
  const pwm = new SysfsPwm({ channel: pins.fillLight.pwm.channel, chip: { device: pins.fillLight.pwm.chip.sysfsDevice } });
  const io = createLinuxIoPlugin({
    pwm: { [pins.fillLight.pwm.gpio]: pwm },
    gpio,
    chipLabel: pins.gpioChipLabel,
    frequencyHz: pins.fillLight.pwm.frequencyHz,
  });
  const c = pins.camera;
  const camera =
    c.capture === 'rpicam-vid'
      ? createCaptureCamera({ kind: 'csi', width: c.width, height: c.height, fps: c.framerate }, { clock })
      : createCaptureCamera(
          { kind: 'uvc', device: '/dev/video0', width: c.width, height: c.height, fps: c.framerate },
          { clock },
        );
  const decoder = await defaultDecoder(o.decodeBudgetMs);
  const parts = await finish({ io, pinName: pins.fillLight.pwm.pinName, camera, decoder, clock });
  let closed = false;
  return {
    kind: 'device',
    pins,
    deviceClock: clock,
    r307,
    display,
    presenter: new ScreenPresenter(display),
    camera,
    scanner: parts.scanner,
    light: parts.controller,
    async open() {
      await r307.open();
    },
    async close() {
      if (closed) return;
      closed = true;
      await parts.fillLight.close().catch(() => undefined);
      await r307.close().catch(() => undefined);
      for (const l of [touch, lines.dc, lines.rst, lines.busy, lines.pwr]) await l?.close().catch(() => undefined);
      await spi.close().catch(() => undefined);
      await pwm.close().catch(() => undefined);
    },
  };
}
/* v8 ignore stop */
