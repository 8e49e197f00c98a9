/**
 * QR scan benchmark (DESIGN.md section 8): on the project's own corpus of ~200 degraded
 * 640x480 frames (bench/scan-corpus.ts), side by side in one run:
 * - naive jsQR: the whole frame as RGBA, default options (RGBA prepared outside timing);
 * - zxing-wasm: the package's public `readBarcodes` on RGBA ImageData, default options
 *   (formats QR only), wasm loaded from the local file;
 * - ours: the firmware's `QrDecoder` cascade on the gray frame (its camera input), each
 *   frame decoded cold (no region tracking across unrelated frames).
 * Decode rate, wrong decodes (a payload other than the ground truth, or any payload on a
 * no-code frame), and median/p95/max time per frame.
 * Targets: rate >= zxing-wasm's, 0 wrong, median >= 5x faster than naive jsQR, max <= 50 ms.
 */
import { QrDecoder, zxingDecodeRgbaPublic } from '@handset/firmware/modules/qr-scan';
import jsQR from 'jsqr';
import { type CorpusFrame, loadCorpus } from './scan-corpus';
import type { BenchResult, BenchSuite } from './types';

interface Run {
  name: string;
  ok: number;
  wrong: number;
  times: number[];
  perCategory: Record<string, string>;
}

function rgbaOf(f: CorpusFrame): Uint8ClampedArray {
  const out = new Uint8ClampedArray(f.data.length * 4);
  for (let i = 0; i < f.data.length; i++) {
    const v = f.data[i]!;
    out[4 * i] = v;
    out[4 * i + 1] = v;
    out[4 * i + 2] = v;
    out[4 * i + 3] = 255;
  }
  return out;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

async function measure(
  name: string,
  corpus: CorpusFrame[],
  decode: (f: CorpusFrame, i: number) => Promise<string | undefined> | string | undefined,
): Promise<Run> {
  const times: number[] = [];
  let ok = 0;
  let wrong = 0;
  const cats: Record<string, [number, number]> = {};
  for (let i = 0; i < corpus.length; i++) {
    const f = corpus[i]!;
    const t0 = performance.now();
    const text = await decode(f, i);
    times.push(performance.now() - t0);
    const c = cats[f.category] ?? [0, 0];
    cats[f.category] = c;
    c[1]++;
    if (text === undefined) continue;
    if (f.payload !== null && text === f.payload) {
      ok++;
      c[0]++;
    } else wrong++;
  }
  times.sort((a, b) => a - b);
  return { name, ok, wrong, times, perCategory: Object.fromEntries(Object.entries(cats).map(([k, [a, b]]) => [k, `${a}/${b}`])) };
}

const summary = (r: Run) => ({
  decoded: r.ok,
  wrong: r.wrong,
  medianMs: +pct(r.times, 0.5).toFixed(2),
  p95Ms: +pct(r.times, 0.95).toFixed(2),
  maxMs: +(r.times[r.times.length - 1] ?? Number.NaN).toFixed(2),
  perCategory: r.perCategory,
});

export const suite: BenchSuite = {
  area: 'scan',
  async run(): Promise<BenchResult[]> {
    const corpus = loadCorpus({ cacheDir: new URL('../.cache/scan-corpus', import.meta.url).pathname });
    const withCode = corpus.filter((f) => f.payload !== null).length;
    const rgba = corpus.map(rgbaOf);
    const decoder = await QrDecoder.create({ track: false });
    // warm-up of each decoder on a few frames (JIT, wasm compile)
    for (let i = 0; i < 5; i++) {
      const f = corpus[i]!;
      jsQR(rgba[i]!, f.width, f.height);
      await zxingDecodeRgbaPublic(rgba[i]!, f.width, f.height);
      decoder.decode(f);
    }
    const naive = await measure('naive jsQR', corpus, (f, i) => jsQR(rgba[i]!, f.width, f.height)?.data);
    const zx = await measure(
      'zxing-wasm',
      corpus,
      async (f, i) => (await zxingDecodeRgbaPublic(rgba[i]!, f.width, f.height))?.text,
    );
    const ours = await measure('ours', corpus, (f) => decoder.decode(f).hit?.text);
    const oursMed = pct(ours.times, 0.5);
    const naiveMed = pct(naive.times, 0.5);
    const oursMax = ours.times[ours.times.length - 1] ?? Number.NaN;
    const extra = { frames: corpus.length, withCode, naiveJsQR: summary(naive), zxingWasm: summary(zx), ours: summary(ours) };
    process.stderr.write(`scan: ${JSON.stringify(extra)}\n`);
    return [
      {
        area: 'scan',
        name: `decode rate, ${corpus.length} degraded frames (${withCode} with a code)`,
        value: ours.ok,
        unit: 'frames',
        baseline: { name: 'zxing-wasm', value: zx.ok },
        ratio: ours.ok / zx.ok,
        target: ">= zxing-wasm's",
        pass: ours.ok >= zx.ok,
        extra: { naiveJsQR: naive.ok },
      },
      {
        area: 'scan',
        name: 'wrong decodes',
        value: ours.wrong,
        unit: 'frames',
        baseline: { name: 'zxing-wasm', value: zx.wrong },
        target: '0',
        pass: ours.wrong === 0,
        extra: { naiveJsQR: naive.wrong },
      },
      {
        area: 'scan',
        name: 'median time per frame',
        value: oursMed,
        unit: 'ms',
        baseline: { name: 'naive jsQR', value: naiveMed },
        ratio: naiveMed / oursMed,
        target: '>= 5x faster than naive jsQR',
        pass: naiveMed / oursMed >= 5,
        extra: { zxingWasmMedianMs: pct(zx.times, 0.5) },
      },
      {
        area: 'scan',
        name: 'p95 time per frame',
        value: pct(ours.times, 0.95),
        unit: 'ms',
        baseline: { name: 'naive jsQR', value: pct(naive.times, 0.95) },
        ratio: pct(naive.times, 0.95) / pct(ours.times, 0.95),
        extra: { zxingWasmP95Ms: pct(zx.times, 0.95) },
      },
      {
        area: 'scan',
        name: 'max time per frame',
        value: oursMax,
        unit: 'ms',
        baseline: { name: 'naive jsQR', value: naive.times[naive.times.length - 1] ?? Number.NaN },
        ratio: (naive.times[naive.times.length - 1] ?? Number.NaN) / oursMax,
        target: '<= 50 ms',
        pass: oursMax <= 50,
        extra: { zxingWasmMaxMs: zx.times[zx.times.length - 1] },
      },
    ];
  },
};
