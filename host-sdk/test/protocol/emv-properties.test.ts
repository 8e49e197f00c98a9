import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildMpm,
  CURRENCIES,
  decodeBerTlv,
  EmvError,
  encodeMpm,
  type MpmBuildSpec,
  type MpmNode,
  ProtocolError,
  parseCpm,
  parseMpm,
} from '../../src/protocol/index';
import { SPEC_B7 } from './fixtures';

const ANS = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i));
const ansString = (min: number, max: number) =>
  fc
    .array(fc.constantFrom(...ANS), { minLength: min, maxLength: max })
    .map((a) => a.join(''))
    .filter((s) => s.trim().length > 0);
const S_CHARS = [...ANS, 'é', 'ß', '最', '佳', '运', '输', '北', '京', 'ก', 'ข', 'Ω', '€', '😀'];
const sString = (min: number, max: number) =>
  fc.array(fc.constantFrom(...S_CHARS), { minLength: min, maxLength: max }).map((a) => a.join(''));

const specArb: fc.Arbitrary<MpmBuildSpec> = fc.record(
  {
    merchantName: ansString(1, 25),
    merchantCity: ansString(1, 15),
    mcc: fc.stringMatching(/^[0-9]{4}$/),
    currency: fc.constantFrom(...CURRENCIES.map((c) => c.alpha)),
    amount: fc.option(fc.bigInt({ min: 1n, max: 999_999_999_999n }), { nil: undefined }),
    country: fc.stringMatching(/^[A-Z]{2}$/),
    merchantId: fc.stringMatching(/^m-[A-Za-z0-9_-]{1,20}$/),
    reference: fc.option(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,24}$/), { nil: undefined }),
    tip: fc.option(fc.constantFrom({ kind: 'prompt' as const }, { kind: 'percentage' as const, value: '3.50' }), {
      nil: undefined,
    }),
    language: fc.option(
      fc.record({ preference: fc.constantFrom('ZH', 'TH', 'pt'), merchantName: sString(1, 25), merchantCity: sString(1, 15) }),
      { nil: undefined },
    ),
  },
  { requiredKeys: ['merchantName', 'merchantCity', 'mcc', 'currency', 'country', 'merchantId'] },
);

describe('EMV MPM properties', () => {
  it('encode -> parse: every built code is valid and re-encodes byte-exactly', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const payload = buildMpm(spec);
        const r = parseMpm(payload);
        expect(r.ok).toBe(true);
        expect(r.problems.filter((p) => p.severity !== 'should')).toEqual([]);
        expect(encodeMpm(r.objects)).toBe(payload);
        expect(r.data.merchantName).toBe(spec.merchantName);
        if (spec.amount !== undefined) expect(r.data.amount?.minor).toBe(spec.amount);
      }),
      { numRuns: 300, seed: 20261129 },
    );
  });

  it('random ID-Length-Value trees round-trip through encode/parse', () => {
    const leaf = fc.record({ id: fc.stringMatching(/^[0-9]{2}$/), value: sString(1, 40) });
    const node: fc.Arbitrary<MpmNode> = fc.oneof(
      leaf,
      fc.record({ id: fc.constantFrom('26', '62', '64', '80'), children: fc.array(leaf, { minLength: 1, maxLength: 2 }) }),
    );
    fc.assert(
      fc.property(fc.array(node, { minLength: 1, maxLength: 8 }), (nodes) => {
        const clean = nodes.filter((n) => n.id !== '63');
        fc.pre(clean.length > 0);
        const payload = encodeMpm(clean);
        const r = parseMpm(payload);
        expect(r.crcValid).toBe(true);
        expect(encodeMpm(r.objects)).toBe(payload);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('ANY single-character change to a valid payload fails the CRC or the parse', () => {
    const valid = fc.sample(specArb, { numRuns: 40, seed: 99 }).map(buildMpm).concat([SPEC_B7]);
    const replacement = fc.constantFrom(...S_CHARS, '0', '9', 'A', 'a', 'f', 'F');
    fc.assert(
      fc.property(fc.constantFrom(...valid), fc.nat(), replacement, (payload, pos, ch) => {
        const chars = Array.from(payload);
        const i = pos % chars.length;
        fc.pre(chars[i] !== ch);
        chars[i] = ch;
        const r = parseMpm(chars.join(''));
        const onlyCaseOfCrc = i >= chars.length - 4 && ch.toUpperCase() === Array.from(payload)[i]!.toUpperCase();
        if (onlyCaseOfCrc) expect(r.problems.map((p) => p.code)).toContain('CRC_LOWERCASE');
        else expect(r.ok).toBe(false);
      }),
      { numRuns: 1500, seed: 42 },
    );
    // Exhaustive for the spec example: every position x a set of printable replacements.
    const chars = Array.from(SPEC_B7);
    for (let i = 0; i < chars.length; i++) {
      for (const ch of ['0', '1', '5', 'A', 'Z', ' ', '*', '最']) {
        if (chars[i] === ch || (i >= chars.length - 4 && ch.toUpperCase() === chars[i])) continue;
        const changed = [...chars];
        changed[i] = ch;
        expect(parseMpm(changed.join('')).ok, `${i} -> ${ch}`).toBe(false);
      }
    }
  });

  it('random strings and bytes never throw and always give typed results', () => {
    const mutated = fc
      .tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 6 }))
      .map(([a, b, ins]) => SPEC_B7.slice(0, a % SPEC_B7.length) + ins + SPEC_B7.slice((a % SPEC_B7.length) + (b % 5)));
    const ilvish = fc
      .array(fc.constantFrom('0', '1', '2', '5', '6', '3', '4', '9', 'A', '最', '\uD800'), { maxLength: 120 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), mutated, ilvish),
        (text) => {
          const r = parseMpm(text);
          expect(typeof r.ok).toBe('boolean');
          for (const p of r.problems) {
            expect(['error', 'should', 'profile-deviation']).toContain(p.severity);
            expect(Number.isInteger(p.offset)).toBe(true);
          }
          if (r.ok) expect(r.crcValid).toBe(true);
        },
      ),
      { numRuns: 1000, seed: 1 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        expect(typeof parseMpm(bytes).ok).toBe('boolean');
        for (const f of [() => parseCpm(bytes), () => decodeBerTlv(bytes)]) {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(EmvError);
          }
        }
      }),
      { numRuns: 1000, seed: 2 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseCpm(`hQVDUFYw${s}`);
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 1000, seed: 3 },
    );
  });
});
