/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): a small, fast, seeded
 * 32-bit PRNG for reproducible simulations. It is not for secrets. Each user seeds the
 * four state words in its own way (camera scenes and the scan corpus, the fleet
 * simulation); the generator and the draws built on it are the same.
 */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Starts from four state words and discards the first `warmUp` outputs. */
  constructor(state: readonly [number, number, number, number], warmUp: number) {
    [this.a, this.b, this.c, this.d] = state;
    for (let i = 0; i < warmUp; i++) this.nextU32();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    const v = items[Math.floor(this.next() * items.length)];
    if (v === undefined) throw new RangeError('pick from an empty list');
    return v;
  }
}
