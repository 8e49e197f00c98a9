import { Sfc32 } from '../core/sfc32';

/**
 * The camera's seeded PRNG (sfc32) with a gaussian helper, so every simulated frame and
 * the generated corpus are reproducible from a seed.
 */
export class Rng extends Sfc32 {
  private spare: number | undefined;

  constructor(seed: number) {
    super([0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0], 15);
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller, the second value kept for the next call). */
  gaussian(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
