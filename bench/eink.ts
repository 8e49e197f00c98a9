/**
 * E-ink: a 60-second pay-code session (countdown every second, a new code every 15 s) on
 * the simulated 2.13" panel driven by the real SSD1680 driver, on a virtual clock. Ours
 * (partial refresh of the changed RAM windows, full after 5 partials) side by side with
 * a naive baseline that full-refreshes every update. Figures: bytes over SPI, refresh
 * counts, total BUSY time, frames shown, and the largest window of a countdown partial.
 */
import { ManualClock } from '../device-drivers/src/core';
import { createSimEinkRig } from '../device-drivers/src/ssd1680';
import { QrGenerateModule } from '../firmware-ts/src/modules/qr-generate';
import type { BenchResult, BenchSuite } from './types';

const CODES = [
  '91234567890123456785',
  '91234567890987654328',
  '91234567890555555551',
  '91234567890111111112',
  '91234567890222222223',
];

async function session(firstRefresh: 'full', naive: boolean) {
  const clock = new ManualClock();
  const rig = await createSimEinkRig({ rotation: 90, clock, record: false, driver: naive ? { maxPartials: 0 } : {} });
  const mod = new QrGenerateModule({ display: rig.display, clock, firstRefresh });
  let n = 0;
  let maxCountdownBytes = 0;
  let lastCode = '';
  const t0 = performance.now();
  const r = await mod.showPayCode({
    code: CODES[0] as string,
    nextCode: () => CODES[++n] as string,
    amount: { minor: 1999n, currency: 'EUR' },
    onUpdate: (info, _s, code) => {
      if (info.kind === 'partial' && code === lastCode) maxCountdownBytes = Math.max(maxCountdownBytes, info.bytes);
      lastCode = code;
    },
  });
  const cpuMs = performance.now() - t0;
  const s = rig.panel.stats;
  const out = {
    bytes: s.bytes,
    full: s.refreshes.full + s.refreshes.fast,
    partial: s.refreshes.partial,
    busyMs: s.busyMs,
    frames: r.updates.length,
    faults: rig.panel.faultsOf().length,
    mismatch: rig.panel.mismatchPixels(),
    maxCountdownBytes,
    cpuMs,
    elapsedMs: r.elapsedMs,
  };
  await rig.close();
  return out;
}

export const suite: BenchSuite = {
  area: 'eink',
  async run(): Promise<BenchResult[]> {
    const ours = await session('full', false);
    const naive = await session('full', true);
    const extra = { ours, naive };
    return [
      {
        area: 'eink',
        name: '60 s pay-code session: bytes over SPI',
        value: ours.bytes,
        unit: 'B',
        baseline: { name: 'full refresh every update', value: naive.bytes },
        ratio: ours.bytes / naive.bytes,
        target: 'partials send only the changed windows (< baseline)',
        pass: ours.bytes < naive.bytes && ours.faults === 0 && ours.mismatch === 0,
        extra,
      },
      {
        area: 'eink',
        name: '60 s session: SPI bytes per frame shown',
        value: Math.round(ours.bytes / ours.frames),
        unit: 'B/frame',
        baseline: { name: 'full refresh every update', value: Math.round(naive.bytes / naive.frames) },
        ratio: ours.bytes / ours.frames / (naive.bytes / naive.frames),
        target: '< 0.5 x baseline',
        pass: ours.bytes / ours.frames < 0.5 * (naive.bytes / naive.frames),
      },
      {
        area: 'eink',
        name: '60 s session: frames shown (countdown updates)',
        value: ours.frames,
        unit: 'frames',
        baseline: { name: 'full refresh every update', value: naive.frames },
        ratio: ours.frames / naive.frames,
        target: 'more countdown updates than the baseline',
        pass: ours.frames > naive.frames,
      },
      {
        area: 'eink',
        name: '60 s session: refreshes full / partial',
        value: ours.full,
        unit: `full (+${ours.partial} partial)`,
        baseline: { name: `baseline full (+${naive.partial} partial)`, value: naive.full },
        target: 'full refresh after at most 5 partials',
        pass: ours.partial <= 5 * (ours.full + 1),
      },
      {
        area: 'eink',
        name: '60 s session: panel BUSY time',
        value: ours.busyMs / 1000,
        unit: 's',
        baseline: { name: 'full refresh every update', value: naive.busyMs / 1000 },
        ratio: ours.busyMs / naive.busyMs,
        target: '< baseline',
        pass: ours.busyMs < naive.busyMs,
      },
      {
        area: 'eink',
        name: 'largest countdown partial (both planes + commands)',
        value: ours.maxCountdownBytes,
        unit: 'B',
        baseline: { name: 'one full refresh', value: Math.round(naive.bytes / Math.max(1, naive.full)) },
        ratio: ours.maxCountdownBytes / (naive.bytes / Math.max(1, naive.full)),
        target: 'a pay-code refresh sends only the changed window',
        pass: ours.maxCountdownBytes > 0 && ours.maxCountdownBytes < naive.bytes / Math.max(1, naive.full) / 2,
      },
    ];
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await suite.run(), null, 2));
}
