/**
 * The payment scenarios (hil-tests/src/scenarios) on every target: the simulated handset
 * against the real cloud (SQLite, embedded aedes) and the real merchant terminal; the rig
 * when one is attached (HANDSET_RIG / HIL_PORT), otherwise a pending test saying what to
 * attach. After each scenario the cloud's invariants are checked (money conserved,
 * nothing booked twice).
 */
import {
  checkInvariants,
  createSimTarget,
  rigRequirement,
  rigSelected,
  SCENARIOS,
  type Target,
} from '@handset/hil-tests/scenarios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('payments on the sim target', () => {
  let t: Target;
  beforeAll(async () => {
    t = await createSimTarget({ paycodeShowMs: 3_000 });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  for (const s of SCENARIOS) {
    it(`${s.name}: ${s.title}`, async () => {
      const details = await s.run(t, () => undefined);
      expect(details).toBeTypeOf('object');
      const { money } = await checkInvariants(t, s.name);
      expect(money).toBe(200_000n);
    }, 60_000);
  }
});

describe('payments on the rig target', () => {
  if (!rigSelected()) {
    it.todo(rigRequirement());
    return;
  }
  it('rig scenarios need a rig target implementation on the Pi (see docs/handset.md)', () => {
    throw new Error('HANDSET_RIG is set but this build has no rig target wiring; run on the sim target');
  });
});
