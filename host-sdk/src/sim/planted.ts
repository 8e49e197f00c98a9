/**
 * Known bugs to plant in the cloud, through {@link FleetHooks}, so the checker can be
 * seen to fail (`handset sim fleet --plant NAME`, and the tests). Each one acts on
 * replays - a duplicate or a resend of a payment the cloud already decided - which is
 * exactly where an idempotency bug would hide.
 */
import { ledgerIds, TRANSFER_CODE } from '../cloud/ids';
import type { FleetHooks } from './fleet';

export const PLANTED_BUGS = ['double-book', 'flip-outcome'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

/** Hooks that plant `bug`: `double-book` books an approved payment a second time when it is replayed; `flip-outcome` answers a replayed approval as declined. */
export function plantedBug(bug: PlantedBug): FleetHooks {
  const done = new Set<string>();
  if (bug === 'double-book') {
    return {
      async outcome(o, { center }) {
        if (o.kind !== 'result' || !o.replayed || o.result.status !== 'approved' || done.has(o.result.paymentId))
          return undefined;
        const r = o.result;
        const p = await center.registry.read.getPayment(r.paymentId);
        if (!p) return undefined;
        done.add(r.paymentId);
        await center.ledger.createTransfers([
          {
            id: `pa2-${r.paymentId}`,
            debitAccountId: ledgerIds.user(p.account),
            creditAccountId: ledgerIds.merchant(p.merchantId),
            amount: p.amount,
            currency: p.currency,
            code: TRANSFER_CODE.payment,
            userData: p.paymentId,
          },
        ]);
        return undefined;
      },
    };
  }
  return {
    outcome(o) {
      if (o.kind !== 'result' || !o.replayed || o.result.status !== 'approved') return undefined;
      const { ledgerTransferId: _dropped, ...rest } = o.result;
      return { ...o, result: { ...rest, status: 'declined', reason: 'internal_error', bookedAmount: 0n } };
    },
  };
}
