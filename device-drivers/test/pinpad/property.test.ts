import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core';
import {
  BOOT_REPORT_KEY_SLOTS,
  createSimPinPad,
  encodeBootReport,
  KeyEdgeDetector,
  PinPadReportError,
  parseBootReport,
} from '../../src/pinpad';

/** Usages biased towards what a keypad sends, plus the error codes and anything else. */
const usage = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 4, arbitrary: fc.integer({ min: 0x58, max: 0x63 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x1e, max: 0x2a }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const report8 = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.array(usage, { minLength: 6, maxLength: 6 }))
  .map(([m, r, keys]) => Uint8Array.from([m, r, ...keys]));

describe('pinpad properties (fast-check)', () => {
  it('any bytes: parseBootReport returns a report or throws PinPadReportError (wrong length only)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 16 }), fc.option(fc.integer({ min: 0, max: 255 })), (bytes, id) => {
        const opts = id === null ? {} : { reportId: id };
        try {
          const r = parseBootReport(bytes, opts);
          expect(bytes.length).toBe(id === null ? 8 : 9);
          expect(r.keys.every((u) => u > 3)).toBe(true);
          expect(new Set(r.keys).size).toBe(r.keys.length);
          expect(r.keys.length).toBeLessThanOrEqual(6);
        } catch (err) {
          expect(err).toBeInstanceOf(PinPadReportError);
          expect(bytes.length !== (id === null ? 8 : 9) || bytes[0] !== id).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random report sequences: key-down/up edges match a per-usage state model, never throw', () => {
    fc.assert(
      fc.property(fc.array(report8, { maxLength: 60 }), (reports) => {
        const d = new KeyEdgeDetector();
        const held = new Array<boolean>(256).fill(false);
        for (const bytes of reports) {
          const edges = d.next(parseBootReport(bytes));
          const slots = Array.from(bytes.subarray(2));
          // model: a report with any slot in 1..3 is the phantom state and changes nothing
          if (slots.some((u) => u >= 1 && u <= 3)) {
            expect(edges).toEqual({ down: [], up: [] });
            continue;
          }
          const now = new Array<boolean>(256).fill(false);
          for (const u of slots) if (u !== 0) now[u] = true;
          const expDown: number[] = [];
          for (const u of slots) if (u !== 0 && !held[u] && !expDown.includes(u)) expDown.push(u);
          const expUp: number[] = [];
          for (let u = 4; u < 256; u++) if (held[u] && !now[u]) expUp.push(u);
          expect(edges.down).toEqual(expDown);
          expect([...edges.up].sort((a, b) => a - b)).toEqual(expUp);
          for (let u = 0; u < 256; u++) held[u] = now[u] as boolean;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('physical model: random press/release with shuffled slots -> exactly the presses, in order', () => {
    const action = fc.record({ press: fc.boolean(), key: fc.integer({ min: 0x59, max: 0x62 }), shuffle: fc.integer() });
    fc.assert(
      fc.property(fc.array(action, { maxLength: 80 }), (actions) => {
        const d = new KeyEdgeDetector();
        let held: number[] = [];
        const pressed: number[] = [];
        const seen: number[] = [];
        for (const a of actions) {
          if (a.press) {
            if (held.includes(a.key) || held.length === BOOT_REPORT_KEY_SLOTS) continue;
            held.push(a.key);
            pressed.push(a.key);
          } else {
            if (!held.includes(a.key)) continue;
            held = held.filter((k) => k !== a.key);
          }
          // devices may list held keys in any slot order
          const order = held.slice();
          for (let i = order.length - 1; i > 0; i--) {
            const j = Math.abs(a.shuffle + i) % (i + 1);
            [order[i], order[j]] = [order[j] as number, order[i] as number];
          }
          seen.push(...d.next(parseBootReport(encodeBootReport({ keys: order }))).down);
        }
        expect(seen).toEqual(pressed);
      }),
      { numRuns: 1000 },
    );
  });

  it('driver + sim: any PIN typed (rolling or not) among bad reports and foreign keys reads back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[0-9]{4,12}$/),
        fc.boolean(),
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 7 }), fc.uint8Array({ minLength: 9, maxLength: 20 })), { maxLength: 5 }),
        fc.array(fc.integer({ min: 0x04, max: 0x1d }), { maxLength: 3 }),
        async (pin, overlap, garbage, foreign) => {
          const sim = createSimPinPad({ clock: new ManualClock({ autoAdvance: false }) });
          await sim.pinpad.open();
          try {
            const p = sim.pinpad.readPin({ maxLength: 12 });
            for (const g of garbage) sim.keypad.sendRaw(g);
            for (const u of foreign) await sim.keypad.press(u);
            await sim.keypad.type(pin, { overlap });
            await sim.keypad.enter();
            const got = await p;
            expect(new TextDecoder().decode(got.bytes())).toBe(pin);
            expect(sim.pinpad.stats.badReports).toBe(garbage.length);
          } finally {
            await sim.pinpad.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
