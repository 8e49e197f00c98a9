/**
 * The fleet simulation's one source of randomness: the shared sfc32 generator
 * (`@handset/device-drivers/core`), its state from splitmix32 of the seed. Every key,
 * payment id, amount, delay and fault of a run is drawn from one instance, in the order
 * the single-threaded event loop asks, so the same seed replays exactly.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import { Sfc32 } from '@handset/device-drivers/core';
import { type CryptoProvider, type Ed25519KeyPair, nodeCrypto } from '../protocol/index';

export class Prng extends Sfc32 {
  /** `seed`: any non-negative safe integer (all 53 bits count). */
  constructor(seed: number) {
    super(splitmixState(seed), 12);
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    return this.nextU32();
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
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

/** sfc32's four state words from splitmix32 of the seed. */
function splitmixState(seed: number): [number, number, number, number] {
  let s = (seed >>> 0) ^ Math.floor(seed / 2 ** 32) ^ 0x9e3779b9;
  const mix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
  return [mix(), mix(), mix(), mix()];
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
