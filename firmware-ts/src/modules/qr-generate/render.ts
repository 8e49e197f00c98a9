/**
 * One-shot rendering for host tools (`handset display render`): the real SSD1680 driver
 * drives the simulated panel; the PNG is the panel's glass.
 */
import { createSimEinkRig, type PanelId } from '@handset/device-drivers/ssd1680';
import type { Money } from '../../ui/money';
import type { QrLayout } from '../../ui/qr';
import { QrGenerateModule } from './index';

export interface RenderPayCodeOptions {
  payload: string;
  amount?: Money;
  secondsLeft?: number;
  panel?: PanelId;
  /** PNG scale (nearest neighbour). Default 1: one PNG pixel per panel pixel. */
  scale?: number;
}

export interface RenderPayCodeResult {
  png: Buffer;
  qr: QrLayout;
  width: number;
  height: number;
  /** What went over SPI and what the panel did. */
  spiBytes: number;
  refresh: string;
  busyMs: number;
}

export async function renderPayCodePng(o: RenderPayCodeOptions): Promise<RenderPayCodeResult> {
  const rig = await createSimEinkRig({ panel: o.panel ?? '2in13', rotation: 90, record: false });
  try {
    const mod = new QrGenerateModule({ display: rig.display, clock: rig.clock });
    const qr = mod.layout(o.payload);
    const info = await rig.display.update(mod.frame(o.payload, o.secondsLeft ?? 60, o.amount, qr), { mode: 'full' });
    const png = await rig.panel.snapshot({ scale: o.scale ?? 1 });
    return {
      png,
      qr,
      width: rig.display.width,
      height: rig.display.height,
      spiBytes: rig.panel.stats.bytes,
      refresh: info.kind,
      busyMs: rig.panel.stats.busyMs,
    };
  } finally {
    await rig.close();
  }
}
