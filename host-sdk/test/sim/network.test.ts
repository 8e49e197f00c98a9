/** The fleet simulation's building blocks: the seeded PRNG, the event queue, the network's fault knobs. */
import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../../src/protocol/index';
import { CLEAN_LINK, EventQueue, FAULT_PRESETS, Prng, presetForSeed, SimNetwork, seededCrypto } from '../../src/sim/index';

describe('Prng', () => {
  it('is a function of its seed', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const xs = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.u32())).not.toEqual(xs);
    // seeds above 2^32 are not folded onto small ones
    expect(new Prng(2 ** 32 + 42).u32()).not.toBe(new Prng(42).u32());
  });

  it('int() stays in range and reaches both ends; bytes() has the asked length', () => {
    const r = new Prng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const x = r.int(3, 7);
      expect(x >= 3 && x <= 7).toBe(true);
      seen.add(x);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    expect(r.bytes(33)).toHaveLength(33);
    expect(r.chance(0)).toBe(false);
  });

  it('seededCrypto: the same seed gives the same keys, and they really sign', () => {
    const k1 = seededCrypto(new Prng(9)).generateEd25519KeyPair();
    const c2 = seededCrypto(new Prng(9));
    const k2 = c2.generateEd25519KeyPair();
    expect(Buffer.from(k2.publicKey)).toEqual(Buffer.from(k1.publicKey));
    expect(Buffer.from(k2.publicKey)).toEqual(Buffer.from(nodeCrypto.ed25519PublicKey(k2.privateKey)));
    const msg = new TextEncoder().encode('pay 12.50');
    const sig = c2.ed25519Sign(k2.privateKey, msg);
    expect(nodeCrypto.ed25519Verify(k2.publicKey, msg, sig)).toBe(true);
    expect(nodeCrypto.ed25519Verify(k2.publicKey, new TextEncoder().encode('pay 99.99'), sig)).toBe(false);
  });
});

describe('EventQueue', () => {
  it('pops by time, equal times in insertion order', () => {
    const q = new EventQueue<string>();
    const r = new Prng(5);
    const input = Array.from({ length: 500 }, (_, i) => ({ at: r.int(0, 50), name: `e${i}` }));
    for (const e of input) q.push(e.at, e.name);
    const want = [...input].sort((a, b) => a.at - b.at).map((e) => e.name); // Array.sort is stable
    const got: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) got.push(e.event);
    expect(got).toEqual(want);
    expect(q.size).toBe(0);
  });
});

describe('SimNetwork', () => {
  it('a clean link delivers each message once, within the delay range', () => {
    const n = new SimNetwork(new Prng(1), CLEAN_LINK);
    for (let i = 0; i < 200; i++) {
      const d = n.deliveries(1000);
      expect(d).toHaveLength(1);
      expect(d[0]! >= 1002 && d[0]! <= 1030).toBe(true);
    }
    expect(n.stats).toMatchObject({ sent: 200, delivered: 200, dropped: 0, duplicated: 0, reordered: 0 });
  });

  it('loss, duplication and reordering happen at about their rates', () => {
    const n = new SimNetwork(new Prng(2), { delayMs: [2, 30], drop: 0.2, duplicate: 0.3, reorder: 0.3 });
    let late = 0;
    for (let i = 0; i < 5000; i++) for (const at of n.deliveries(0)) if (at > 30) late++;
    expect(n.stats.duplicated / 5000).toBeCloseTo(0.3, 1);
    expect(n.stats.dropped / (n.stats.dropped + n.stats.delivered)).toBeCloseTo(0.2, 1);
    expect(late).toBe(n.stats.reordered);
    expect(n.stats.reordered / n.stats.delivered).toBeCloseTo(0.3, 1);
  });

  it('a link that drops everything delivers nothing', () => {
    const n = new SimNetwork(new Prng(3), { ...CLEAN_LINK, drop: 1 });
    expect(n.deliveries(0)).toEqual([]);
  });
});

describe('fault presets', () => {
  it('consecutive seeds cycle through every preset', () => {
    const names = new Set(Array.from({ length: 11 }, (_, i) => presetForSeed(i + 100).name));
    expect(names).toEqual(new Set(Object.keys(FAULT_PRESETS)));
  });
});
