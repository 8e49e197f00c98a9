/**
 * One measured figure. `make bench` prints every result side by side with its baseline
 * and the ratio, and writes them all to bench/results.json.
 */
export interface BenchResult {
  /** Area: 'r307', 'scan', 'eink', 'ledger', 'e2e', 'fleet', ... */
  area: string;
  /** What was measured, e.g. 'template upload 512 B @57600'. */
  name: string;
  value: number;
  unit: string;
  /** What it is compared with, measured in the same run (or a physical bound like UART wire time). */
  baseline?: { name: string; value: number };
  /** value / baseline.value unless the bench says otherwise (e.g. speed-up = baseline / value). */
  ratio?: number;
  /** The target, in words: '<= 1.05 x wire time', '>= 5x faster than naive jsQR'. */
  target?: string;
  /** Whether the target was met. */
  pass?: boolean;
  /** Anything else worth keeping (percentiles, counts). */
  extra?: Record<string, unknown>;
}

export type BenchSuite = { area: string; run: () => Promise<BenchResult[]> };
