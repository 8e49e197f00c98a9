/**
 * Pre-wired simulated e-ink (STYLE habit 2): the real `Ssd1680` driver on a `SimSpi` and
 * `SimGpioController`, with an `Ssd1680Sim` panel on the other side of the wires. Used by
 * tests, the `handset display` CLI, the docs screenshots and the benchmark.
 */
import { type Clock, ManualClock } from '../core/clock';
import type { GpioLine } from '../transport/gpio';
import { SimGpioController } from '../transport/sim/gpio';
import { SimSpi } from '../transport/sim/spi';
import { Ssd1680, type Ssd1680Options } from './driver';
import type { PanelId, Rotation } from './protocol';
import { Ssd1680Sim } from './sim';

/** Waveshare HAT wiring (BCM numbers, reference §2). */
export const WAVESHARE_PINS = { chipLabel: 'pinctrl-bcm2711', dc: 25, rst: 17, busy: 24, pwr: 18 } as const;

export interface SimEinkRig {
  display: Ssd1680;
  panel: Ssd1680Sim;
  spi: SimSpi;
  gpio: SimGpioController;
  clock: Clock;
  /** The host's line handles (for raw sequences in tests). */
  lines: { dc: GpioLine; rst: GpioLine; busy: GpioLine; pwr: GpioLine | undefined };
  /** Releases the lines and the bus. */
  close(): Promise<void>;
}

export interface SimEinkRigOptions {
  panel?: PanelId;
  rotation?: Rotation;
  /** Default: a ManualClock with auto-advance (refreshes take no real time). */
  clock?: Clock;
  /** Keep every SPI chunk in `spi.recording` (default true). */
  record?: boolean;
  maxTransferSize?: number;
  /** Whether the HAT's PWR line is wired (default true). */
  withPwr?: boolean;
  driver?: Partial<Omit<Ssd1680Options, 'spi' | 'dc' | 'rst' | 'busy' | 'pwr' | 'clock' | 'rotation' | 'panel'>>;
}

export async function createSimEinkRig(options: SimEinkRigOptions = {}): Promise<SimEinkRig> {
  const clock = options.clock ?? new ManualClock({ autoAdvance: true });
  const gpio = new SimGpioController({ clock });
  const p = WAVESHARE_PINS;
  const panel = new Ssd1680Sim({ panel: options.panel ?? '2in13', clock, viewRotation: options.rotation ?? 0 });
  const wires = {
    dc: gpio.line(p.chipLabel, p.dc),
    rst: gpio.line(p.chipLabel, p.rst),
    busy: gpio.line(p.chipLabel, p.busy),
    pwr: options.withPwr === false ? undefined : gpio.line(p.chipLabel, p.pwr),
  };
  panel.connect(wires);
  const spi = new SimSpi({ peer: panel, dc: wires.dc, record: options.record ?? true, maxTransferSize: options.maxTransferSize });
  await spi.open();
  const req = (line: number, direction: 'in' | 'out', initial: 0 | 1 = 0) =>
    gpio.requestLine({ chipLabel: p.chipLabel, line, direction, initial, consumer: 'ssd1680' });
  const dc = await req(p.dc, 'out');
  const rst = await req(p.rst, 'out', 1);
  const busy = await req(p.busy, 'in');
  const pwr = wires.pwr ? await req(p.pwr, 'out', 1) : undefined;
  const display = new Ssd1680({
    ...options.driver,
    spi,
    dc,
    rst,
    busy,
    pwr,
    clock,
    panel: options.panel ?? '2in13',
    rotation: options.rotation ?? 0,
  });
  return {
    display,
    panel,
    spi,
    gpio,
    clock,
    lines: { dc, rst, busy, pwr },
    async close() {
      for (const l of [dc, rst, busy, pwr]) await l?.close();
      await spi.close();
    },
  };
}
