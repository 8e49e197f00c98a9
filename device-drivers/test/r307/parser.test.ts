import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePacket, type Packet, R307Parser } from '../../src/r307';
import { h } from './helpers';

const ACK = h('EF01 FFFFFFFF 07 0003 00 000A');
const TNUM = h('EF01 FFFFFFFF 07 0005 00 0003 000F');

function cat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

describe('R307Parser', () => {
  it('one frame', () => {
    const p = new R307Parser();
    expect(p.push(ACK)).toEqual([{ address: 0xffffffff, pid: 7, content: h('00') }]);
    expect(p.pending).toBe(0);
  });

  it('garbage before the header (a 0x55 ready byte, noise, a lone EF) is skipped and counted', () => {
    const p = new R307Parser();
    const garbage: number[] = [];
    p.on('garbage', (n) => garbage.push(n));
    expect(p.push(cat(h('55 00 EF 02 EF'), ACK))).toHaveLength(1);
    expect(p.stats.garbageBytes).toBe(5);
    expect(garbage).toEqual([5]);
  });

  it('a frame split in two chunks', () => {
    const p = new R307Parser();
    expect(p.push(TNUM.subarray(0, 5))).toEqual([]);
    expect(p.pending).toBe(5);
    expect(p.push(TNUM.subarray(5))).toEqual([{ address: 0xffffffff, pid: 7, content: h('000003') }]);
  });

  it('a bad checksum is reported and the following good frame still comes out', () => {
    const p = new R307Parser();
    const bad: unknown[] = [];
    p.on('badChecksum', (e) => bad.push(e));
    const out = p.push(cat(h('EF01 FFFFFFFF 07 0003 00 000B'), TNUM));
    expect(out).toHaveLength(1);
    expect(out[0]!.content).toEqual(h('000003'));
    expect(bad).toEqual([{ address: 0xffffffff, pid: 7, length: 3, received: 0x0b, expected: 0x0a }]);
    expect(p.stats.badChecksum).toBe(1);
  });

  it('a false header with a long length field inside garbage does not swallow a good frame', () => {
    const p = new R307Parser();
    const out = p.push(cat(h('EF01 00000000 02 0080 11 22'), ACK, new Uint8Array(140)));
    expect(out).toEqual([{ address: 0xffffffff, pid: 7, content: h('00') }]);
  });

  it('frames for another address are reported and dropped', () => {
    const p = new R307Parser({ address: 0xffffffff });
    const wrong: Packet[] = [];
    p.on('wrongAddress', (x) => wrong.push(x));
    const out = p.push(cat(h('EF01 11223344 07 0003 00 000A'), ACK));
    expect(out).toHaveLength(1);
    expect(wrong.map((w) => w.address)).toEqual([0x11223344]);
    expect(p.stats.wrongAddress).toBe(1);
  });

  it('impossible PID or length is a false start', () => {
    const p = new R307Parser();
    expect(p.push(cat(h('EF01 FFFFFFFF 09 0003'), ACK))).toHaveLength(1);
    expect(p.push(cat(h('EF01 FFFFFFFF 07 FFFF'), ACK))).toHaveLength(1);
    expect(p.push(cat(h('EF01 FFFFFFFF 07 0001'), ACK))).toHaveLength(1);
  });

  it('reset() drops a partial frame', () => {
    const p = new R307Parser();
    p.push(TNUM.subarray(0, 10));
    p.reset();
    expect(p.push(ACK)).toHaveLength(1);
  });
});

const packetArb = fc.record({
  address: fc.constantFrom(0xffffffff, 0x12345678),
  pid: fc.constantFrom(1, 2, 7, 8),
  content: fc.uint8Array({ minLength: 1, maxLength: 256 }),
});

describe('R307Parser properties', () => {
  it('random chunking of a valid stream yields the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(packetArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 64 })),
        (pkts, cuts) => {
          const stream = cat(...pkts.map(encodePacket));
          const p = new R307Parser();
          const out: Packet[] = [];
          let pos = 0;
          let i = 0;
          while (pos < stream.length) {
            const n = cuts.length ? cuts[i++ % cuts.length]! : stream.length;
            out.push(...p.push(stream.subarray(pos, pos + n)));
            pos += n;
          }
          expect(out).toEqual(pkts);
          expect(p.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes never throw, and a good frame after them is still found once the junk is flushed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (junk) => {
        const p = new R307Parser();
        expect(() => p.push(junk)).not.toThrow();
        // 270 zero bytes complete any false frame the junk may have started.
        const out = p.push(cat(new Uint8Array(270), ACK));
        expect(out.at(-1)).toEqual({ address: 0xffffffff, pid: 7, content: h('00') });
      }),
      { numRuns: 300 },
    );
  });

  it('valid frames separated by header-free garbage all come out, in order', () => {
    const junkArb = fc.uint8Array({ maxLength: 20 }).map((b) => b.map((x) => (x === 0xef ? 0x00 : x)));
    fc.assert(
      fc.property(fc.array(fc.tuple(junkArb, packetArb), { minLength: 1, maxLength: 8 }), (items) => {
        const p = new R307Parser();
        const out = p.push(cat(...items.flatMap(([j, pk]) => [j, encodePacket(pk)])));
        expect(out).toEqual(items.map(([, pk]) => pk));
      }),
      { numRuns: 300 },
    );
  });
});
