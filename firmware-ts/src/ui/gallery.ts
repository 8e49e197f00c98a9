/**
 * Sample screens (one per screen kind and the tricky cases) and a renderer that pushes
 * each through the real SSD1680 driver into the simulated panel and saves the glass as
 * PNG - what `handset display screens --out docs/screens` writes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSimEinkRig } from '@handset/device-drivers/ssd1680';
import { renderScreen, type Screen } from './screens';

export const SAMPLE_SCREENS: ReadonlyArray<{ name: string; screen: Screen }> = [
  { name: 'idle', screen: { kind: 'idle', time: '09:41' } },
  {
    name: 'confirm',
    screen: { kind: 'confirm', merchant: 'Corner Coffee Roasters', amount: { minor: 1250n, currency: 'EUR' } },
  },
  {
    name: 'confirm-cjk',
    screen: { kind: 'confirm', merchant: '北京烤鸭店 王府井分店', amount: { minor: 12880n, currency: 'CNY' } },
  },
  {
    name: 'confirm-long-name',
    screen: {
      kind: 'confirm',
      merchant: 'The Extraordinarily Long Named Bakery & Patisserie of Old Town',
      amount: { minor: 123456789n, currency: 'JPY' },
      reference: 'ORD-2026-000417',
    },
  },
  { name: 'finger', screen: { kind: 'finger', amount: { minor: 1250n, currency: 'EUR' }, attemptsLeft: 3 } },
  {
    name: 'pin',
    screen: { kind: 'pin', entered: 4, maxDigits: 6, amount: { minor: 250000n, currency: 'USD' }, attemptsLeft: 2 },
  },
  { name: 'processing', screen: { kind: 'processing', progress: 0.6 } },
  {
    name: 'paid',
    screen: {
      kind: 'paid',
      merchant: '北京烤鸭店',
      amount: { minor: 12880n, currency: 'CNY' },
      reference: 'PAY-7Q2M-91XK',
      time: '09:42',
    },
  },
  {
    name: 'declined',
    screen: {
      kind: 'declined',
      merchant: 'Corner Coffee Roasters',
      amount: { minor: 1250n, currency: 'EUR' },
      reason: 'Insufficient funds',
    },
  },
  {
    name: 'paycode',
    screen: { kind: 'paycode', payload: '91234567890123456782', secondsLeft: 60, totalSeconds: 60 },
  },
  {
    name: 'paycode-amount',
    screen: {
      kind: 'paycode',
      payload: '91234567890123456782',
      amount: { minor: 4200n, currency: 'SGD' },
      secondsLeft: 23,
      totalSeconds: 60,
    },
  },
  {
    name: 'error',
    screen: { kind: 'error', message: 'Cannot reach the service center. The payment was not sent.', code: 'UPLINK_TIMEOUT' },
  },
  { name: 'locked', screen: { kind: 'locked' } },
];

/**
 * Renders every sample through driver + simulated panel (rotation 90, landscape) and writes
 * `<name>.png` (scaled `scale` x, nearest neighbour) into `outDir`. Returns the file paths.
 */
export async function writeScreenPngs(outDir: string, scale = 2): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const rig = await createSimEinkRig({ rotation: 90, record: false });
  const files: string[] = [];
  try {
    for (const { name, screen } of SAMPLE_SCREENS) {
      await rig.display.update(renderScreen(screen), { mode: 'full' });
      const file = join(outDir, `${name}.png`);
      await writeFile(file, await rig.panel.snapshot({ scale }));
      files.push(file);
    }
  } finally {
    await rig.close();
  }
  return files;
}

// `npx tsx firmware-ts/src/ui/gallery.ts [DIR]` (same as `handset display screens --out DIR`)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const f of await writeScreenPngs(process.argv[2] ?? 'docs/screens')) process.stdout.write(`${f}\n`);
}
