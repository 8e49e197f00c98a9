import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Amount,
  applyRefund,
  applyResult,
  cancelOrder,
  compareAmounts,
  expireOrder,
  InvalidOrderError,
  newOrder,
  type OrderRecord,
  openOrder,
  type PaymentResult,
  type TransitionEvent,
  unknownOrderComparison,
} from '../../src/merchant/amount-comparison';

const eur = (minor: bigint): Amount => ({ minor, currency: 'EUR' });
const T0 = Date.UTC(2026, 0, 1, 12);

function openEurOrder(minor = 1234n): OrderRecord {
  return openOrder(newOrder({ merchantId: 'M1', reference: 'R1', due: eur(minor), createdAt: T0, expiresAt: T0 + 60_000 })).order;
}

function result(over: Partial<PaymentResult> = {}): PaymentResult {
  return {
    paymentId: 'p1',
    merchantId: 'M1',
    orderReference: 'R1',
    status: 'booked',
    authorised: eur(1234n),
    booked: eur(1234n),
    at: T0 + 1000,
    ...over,
  };
}

const codes = (c: { reasons: readonly { code: string }[] }) => c.reasons.map((r) => r.code);
const eventCodes = (e: TransitionEvent) => ('comparison' in e ? codes(e.comparison) : []);

describe('compareAmounts', () => {
  it('all three equal -> PAID, not flagged, no reasons', () => {
    const c = compareAmounts({ due: eur(1234n), authorised: eur(1234n), booked: eur(1234n) });
    expect(c).toMatchObject({ verdict: 'PAID', flagged: false, reasons: [] });
  });

  it.each([
    ['underpaid booked', eur(1234n), eur(1233n), ['UNDERPAID']],
    ['overpaid booked', eur(1234n), eur(1235n), ['OVERPAID']],
    ['wrong currency', eur(1234n), { minor: 1234n, currency: 'USD' }, ['WRONG_CURRENCY']],
    ['missing booked', eur(1234n), null, ['MISSING_BOOKED']],
    ['zero booked', eur(1234n), eur(0n), ['INVALID_AMOUNT']],
    ['negative booked', eur(1234n), eur(-1234n), ['INVALID_AMOUNT']],
  ] as const)('%s -> REJECTED with the reason', (_name, authorised, booked, expected) => {
    const c = compareAmounts({ due: eur(1234n), authorised, booked });
    expect(c.verdict).toBe('REJECTED');
    expect(c.flagged).toBe(true);
    expect(codes(c)).toEqual(expected);
    expect(c.reasons[0]?.field).toBe('booked');
  });

  it('reports both fields when authorised and booked are both off', () => {
    const c = compareAmounts({ due: eur(1000n), authorised: eur(900n), booked: eur(1100n) });
    expect(c.reasons.map((r) => [r.code, r.field])).toEqual([
      ['UNDERPAID', 'authorised'],
      ['OVERPAID', 'booked'],
    ]);
  });

  it('missing authorised is rejected even when booked matches', () => {
    expect(codes(compareAmounts({ due: eur(5n), authorised: undefined, booked: eur(5n) }))).toEqual(['MISSING_AUTHORISED']);
  });

  it('a malformed due or a float-like number is never PAID (no crash)', () => {
    const bad = { minor: 12.34, currency: 'EUR' } as unknown as Amount;
    expect(compareAmounts({ due: bad, authorised: bad, booked: bad }).verdict).toBe('REJECTED');
    expect(compareAmounts({ due: eur(1n), authorised: bad, booked: eur(1n) }).verdict).toBe('REJECTED');
    expect(compareAmounts({ due: { minor: 1n, currency: 'eur' }, authorised: eur(1n), booked: eur(1n) }).verdict).toBe(
      'REJECTED',
    );
    expect(compareAmounts({ due: null, authorised: null, booked: null }).verdict).toBe('REJECTED');
  });
});

const currency = fc.constantFrom('EUR', 'USD', 'GBP', 'JPY', 'CNY');
const minor = fc.bigInt({ min: 1n, max: 10n ** 15n });
const amount = fc.record({ minor, currency });

describe('compareAmounts properties', () => {
  it('equality (any positive amount, any currency) is always PAID', () => {
    fc.assert(
      fc.property(amount, (a) => {
        const c = compareAmounts({ due: a, authorised: { ...a }, booked: { ...a } });
        return c.verdict === 'PAID' && c.reasons.length === 0 && !c.flagged;
      }),
    );
  });

  it('any difference in any of the three amounts or currencies is never PAID', () => {
    fc.assert(
      fc.property(amount, amount, amount, (due, authorised, booked) => {
        fc.pre(
          !(due.minor === authorised.minor && due.minor === booked.minor) ||
            new Set([due, authorised, booked].map((a) => a.currency)).size > 1,
        );
        const c = compareAmounts({ due, authorised, booked });
        return c.verdict === 'REJECTED' && c.flagged && c.reasons.length > 0;
      }),
    );
  });

  it('perturbing one field of a matching triple by any non-zero delta or another currency is REJECTED', () => {
    fc.assert(
      fc.property(
        amount,
        fc.constantFrom('due', 'authorised', 'booked'),
        fc.oneof(
          fc
            .bigInt({ min: -(10n ** 15n), max: 10n ** 15n })
            .filter((d) => d !== 0n)
            .map((d) => ({ delta: d })),
          currency.map((c) => ({ currency: c })),
        ),
        (a, which, change) => {
          const changed: Amount =
            'delta' in change
              ? { minor: a.minor + change.delta, currency: a.currency }
              : { minor: a.minor, currency: change.currency };
          fc.pre(changed.currency !== a.currency || changed.minor !== a.minor);
          const triple = { due: a, authorised: a, booked: a, [which]: changed };
          const c = compareAmounts(triple);
          expect(c.verdict).toBe('REJECTED');
          if (changed.currency !== a.currency) expect(codes(c)).toContain('WRONG_CURRENCY');
          else if (which !== 'due' && changed.minor > 0n)
            expect(codes(c)).toContain(changed.minor < a.minor ? 'UNDERPAID' : 'OVERPAID');
        },
      ),
    );
  });

  it('the state machine never settles an order as paid for a mismatched result', () => {
    fc.assert(
      fc.property(amount, amount, amount, fc.constantFrom<'booked' | 'declined'>('booked', 'declined'), (due, au, bo, status) => {
        const o = openOrder(newOrder({ merchantId: 'M', reference: 'R', due, createdAt: 0, expiresAt: 10 })).order;
        const t = applyResult(
          o,
          { paymentId: 'p', merchantId: 'M', orderReference: 'R', status, authorised: au, booked: bo, at: 5 },
          5,
        );
        const equal = [au, bo].every((x) => x.minor === due.minor && x.currency === due.currency);
        expect(t.order.state === 'paid').toBe(equal && status === 'booked');
      }),
    );
  });
});

describe('order state machine', () => {
  it('created -> awaiting_payment -> paid', () => {
    const o = openEurOrder();
    expect(o.state).toBe('awaiting_payment');
    const t = applyResult(o, result(), T0 + 1000);
    expect(t.order.state).toBe('paid');
    expect(t.order.settledBy).toBe('p1');
    expect(t.event).toMatchObject({ kind: 'settled', comparison: { verdict: 'PAID' } });
  });

  it('a mismatched booked result -> rejected (settled, refundable), never paid', () => {
    const t = applyResult(openEurOrder(), result({ booked: eur(1000n), authorised: eur(1000n) }), T0 + 1000);
    expect(t.order.state).toBe('rejected');
    expect(t.event.kind).toBe('settled');
    const r = applyRefund(t.order, 'p1', eur(1000n));
    expect(r.order.state).toBe('rejected');
    expect(r.order.payments[0]?.refundedMinor).toBe(1000n);
  });

  it('identical redelivery is ignored; a second payment is DUPLICATE_RESULT and flagged', () => {
    const paid = applyResult(openEurOrder(), result(), T0 + 1000).order;
    const again = applyResult(paid, result(), T0 + 1100);
    expect(again.event.kind).toBe('redelivery');
    expect(again.order).toBe(paid);
    const second = applyResult(paid, result({ paymentId: 'p2' }), T0 + 1200);
    expect(second.event).toMatchObject({ kind: 'flagged', comparison: { verdict: 'REJECTED' } });
    expect(eventCodes(second.event)).toEqual(['DUPLICATE_RESULT']);
    expect(second.order.state).toBe('paid');
    expect(second.order.payments).toHaveLength(2);
  });

  it('the same payment id with changed content is DUPLICATE_RESULT, the first outcome stands', () => {
    const paid = applyResult(openEurOrder(), result(), T0 + 1000).order;
    const t = applyResult(paid, result({ booked: eur(9999n) }), T0 + 1100);
    expect(t.event.kind).toBe('flagged');
    expect(t.order.state).toBe('paid');
  });

  it('a result after expiry or cancel is LATE_RESULT and flagged, the order stays closed', () => {
    const o = openEurOrder();
    expect(expireOrder(o, T0 + 59_999)).toBeNull();
    const expired = expireOrder(o, T0 + 60_000)!.order;
    expect(expired.state).toBe('expired');
    const late = applyResult(expired, result({ at: T0 + 61_000 }), T0 + 61_000);
    expect(late.event.kind).toBe('flagged');
    expect(late.order.state).toBe('expired');
    expect(late.order.payments).toHaveLength(1);
    const cancelled = cancelOrder(openEurOrder(), T0 + 10).order;
    const c = applyResult(cancelled, result(), T0 + 20);
    expect(eventCodes(c.event)).toContain('LATE_RESULT');
  });

  it('a booking stamped after expiresAt is late even before the expiry timer fired', () => {
    const t = applyResult(openEurOrder(), result({ at: T0 + 60_001 }), T0 + 60_001);
    expect(t.event.kind).toBe('flagged');
    expect(t.order.state).toBe('awaiting_payment');
  });

  it('a decline keeps the order payable; a later good payment settles it', () => {
    const d = applyResult(
      openEurOrder(),
      result({ status: 'declined', booked: null, declineReason: 'INSUFFICIENT_FUNDS' }),
      T0 + 500,
    );
    expect(d.event.kind).toBe('declined');
    expect(d.order.state).toBe('awaiting_payment');
    const p = applyResult(d.order, result({ paymentId: 'p2' }), T0 + 900);
    expect(p.order.state).toBe('paid');
  });

  it('a declined second attempt on a paid or closed order is a decline, not an anomaly', () => {
    const paid = applyResult(openEurOrder(), result(), T0 + 1000).order;
    const refused = result({ paymentId: 'p2', status: 'declined', booked: null, declineReason: 'order_closed' });
    const t = applyResult(paid, refused, T0 + 1100);
    expect(t.event.kind).toBe('declined');
    expect(eventCodes(t.event)).toContain('DECLINED');
    expect(eventCodes(t.event)).not.toContain('DUPLICATE_RESULT');
    expect(t.order.state).toBe('paid');
    expect(t.order.settledBy).toBe('p1');
    expect(t.order.payments).toHaveLength(2);
    const expired = expireOrder(openEurOrder(), T0 + 60_000)!.order;
    const late = applyResult(expired, { ...refused, at: T0 + 61_000 }, T0 + 61_000);
    expect(late.event.kind).toBe('declined');
    expect(late.order.state).toBe('expired');
    // the same decline delivered twice is a redelivery
    expect(applyResult(t.order, refused, T0 + 1200).event.kind).toBe('redelivery');
  });

  it('a declined result that carries a booked amount is flagged, never paid', () => {
    const o = openEurOrder();
    const t = applyResult(o, result({ status: 'declined', declineReason: 'internal_error' }), T0 + 500);
    expect(t.event.kind).toBe('flagged');
    expect(t.order.state).toBe('awaiting_payment');
    expect(eventCodes(t.event)).toContain('DECLINED');
    const paid = applyResult(o, result({ paymentId: 'p9' }), T0 + 600).order;
    expect(eventCodes(applyResult(paid, result({ status: 'declined' }), T0 + 700).event)).toContain('DUPLICATE_RESULT');
  });

  it('a result for another merchant is flagged and changes nothing', () => {
    const o = openEurOrder();
    const t = applyResult(o, result({ merchantId: 'M2' }), T0 + 1);
    expect(t.order).toBe(o);
    expect(t.event.kind).toBe('flagged');
  });

  it('unknown order -> REJECTED, flagged', () => {
    const c = unknownOrderComparison(result({ orderReference: 'NOPE' }));
    expect(c).toMatchObject({ verdict: 'REJECTED', flagged: true });
    expect(codes(c)).toEqual(['UNKNOWN_ORDER']);
  });

  it('refunds: partial then the rest; over-refund, wrong currency and unknown payment are typed errors', () => {
    const paid = applyResult(openEurOrder(), result(), T0 + 1000).order;
    const part = applyRefund(paid, 'p1', eur(234n)).order;
    expect(part.state).toBe('partially_refunded');
    expect(() => applyRefund(part, 'p1', eur(1001n))).toThrow(InvalidOrderError);
    expect(() => applyRefund(part, 'p1', { minor: 1n, currency: 'USD' })).toThrow(InvalidOrderError);
    expect(() => applyRefund(part, 'nope', eur(1n))).toThrow(InvalidOrderError);
    expect(() => applyRefund(part, 'p1', eur(0n))).toThrow(InvalidOrderError);
    expect(applyRefund(part, 'p1', eur(1000n)).order.state).toBe('refunded');
  });

  it('void reverses the whole payment only', () => {
    const paid = applyResult(openEurOrder(), result(), T0 + 1000).order;
    expect(() => applyRefund(paid, 'p1', eur(1n), 'void')).toThrow(InvalidOrderError);
    expect(applyRefund(paid, 'p1', eur(1234n), 'void').order.state).toBe('voided');
  });

  it('illegal transitions and bad orders are typed errors', () => {
    expect(() => cancelOrder(applyResult(openEurOrder(), result(), T0 + 1).order, T0 + 2)).toThrow(InvalidOrderError);
    expect(() => newOrder({ merchantId: 'M', reference: 'R', due: eur(0n), createdAt: 0, expiresAt: 1 })).toThrow(
      InvalidOrderError,
    );
    expect(() => newOrder({ merchantId: 'M', reference: 'R', due: eur(1n), createdAt: 5, expiresAt: 5 })).toThrow(
      InvalidOrderError,
    );
    expect(() => openOrder(openEurOrder())).toThrow(InvalidOrderError);
  });
});
