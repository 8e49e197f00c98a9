/**
 * The fleet simulation's one source of randomness: a small seeded PRNG (sfc32, state
 * from splitmix32 of the seed). Every key, payment id, amount, delay and fault of a run
 * is drawn from one instance, in the order the single-threaded event loop asks, so the
 * same seed replays exactly.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { type CryptoProvider, type Ed25519KeyPair, nodeCrypto } from '../protocol/index';

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`: any non-negative safe integer. */
  constructor(seed: number) {
    let s = (seed >>> 0) ^ Math.floor(seed / 2 ** 32) ^ 0x9e3779b9;
    const mix = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
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
    return this.u32() / 2 ** 32;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    const x = items[Math.floor(this.next() * items.length)];
    if (x === undefined) throw new RangeError('pick from an empty list');
    return x;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }
}

/**
 * The real node crypto with its randomness taken from `rng`: deterministic Ed25519 keys
 * (a private key is 32 random bytes), payment ids and pay-code seeds. Signing and
 * verification stay the real thing. Each generated private key is imported once (as a
 * real handset keeps its key), not once per signature.
 */
export function seededCrypto(rng: Prng, base: CryptoProvider = nodeCrypto): CryptoProvider {
  const keys = new Map<Uint8Array, KeyObject>();
  return {
    ...base,
    randomBytes: (n) => rng.bytes(n),
    generateEd25519KeyPair: (): Ed25519KeyPair => {
      const privateKey = rng.bytes(32);
      const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(privateKey)]);
      const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      keys.set(privateKey, key);
      const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
      return { privateKey, publicKey: new Uint8Array(spki.subarray(spki.length - 32)) };
    },
    ed25519Sign: (privateKey, message) => {
      const key = keys.get(privateKey);
      return key ? new Uint8Array(sign(null, message, key)) : base.ed25519Sign(privateKey, message);
    },
  };
}
