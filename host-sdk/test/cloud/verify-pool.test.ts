/**
 * Ed25519 checks on worker threads, a batch per message: same answers as inline
 * verification for good, forged and malformed input; wired into the center, a forged
 * authorisation in a batch is declined and the rest approved.
 */
import { ManualClock } from '@handset/device-drivers/core';
import { afterAll, describe, expect, it } from 'vitest';
import { CloudCenter } from '../../src/cloud/center';
import { SeedVault } from '../../src/cloud/registry/vault';
import { Ed25519VerifyPool } from '../../src/cloud/verify-pool';
import { nodeCrypto } from '../../src/protocol/index';
import { freshStores, TEST_KEY } from './fixtures';

const pool = new Ed25519VerifyPool({ threads: 2 });
afterAll(() => pool.close());

describe('Ed25519VerifyPool', () => {
  it('answers like inline verification, in order, across threads', async () => {
    const keys = Array.from({ length: 5 }, () => nodeCrypto.generateEd25519KeyPair());
    const checks = Array.from({ length: 200 }, (_, i) => {
      const k = keys[i % keys.length]!;
      const message = new TextEncoder().encode(`payment ${i}`);
      const signature = nodeCrypto.ed25519Sign(k.privateKey, message);
      if (i % 7 === 3) signature[5] = signature[5]! ^ 1; // forged
      if (i % 11 === 4) return { publicKey: k.publicKey.subarray(0, 31), message, signature }; // malformed key
      if (i % 13 === 5) return { publicKey: keys[(i + 1) % keys.length]!.publicKey, message, signature }; // someone else's key
      return { publicKey: k.publicKey, message, signature };
    });
    const halves = await Promise.all([pool.verify(checks.slice(0, 100)), pool.verify(checks.slice(100))]);
    const want = checks.map((c) => nodeCrypto.ed25519Verify(c.publicKey, c.message, c.signature));
    expect(halves.flat()).toEqual(want);
    expect(want.filter(Boolean).length).toBeGreaterThan(100);
    expect(want.filter((x) => !x).length).toBeGreaterThan(20);
    expect(await pool.verify([])).toEqual([]);
    const bad = { publicKey: new Uint8Array(31), message: new Uint8Array(3), signature: new Uint8Array(64) };
    expect(await pool.verify([bad, { ...bad, publicKey: new Uint8Array(32), signature: new Uint8Array(63) }])).toEqual([
      false,
      false,
    ]);
  });

  it('a closed pool refuses with a typed error', async () => {
    const p = new Ed25519VerifyPool({ threads: 1 });
    await p.close();
    await expect(
      p.verify([{ publicKey: new Uint8Array(32), message: new Uint8Array(), signature: new Uint8Array(64) }]),
    ).rejects.toMatchObject({
      code: 'VERIFY_POOL_CLOSED',
    });
  });

  it('in the center: a forged authorisation in a batch is declined, the others approved', async () => {
    const clock = new ManualClock({ autoAdvance: false });
    const { stores, cleanup } = await freshStores('sqlite', clock);
    try {
      const center = new CloudCenter({
        registry: stores.registry,
        ledger: stores.ledger,
        unitOfWork: stores.unitOfWork,
        verifier: pool.verify,
        vault: new SeedVault(TEST_KEY),
        clock,
      });
      const { SimHandset } = await import('../../src/cloud/sim');
      await center.createUser({ account: 'alice', currency: 'EUR' });
      await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
      await center.deposit('alice', 10_000n, 'initial');
      const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
      alice.accept(await center.register(alice.registrationRequest(clock.now())));
      const auths = [];
      for (let i = 0; i < 6; i++) {
        await center.createOrder({ merchantId: 'm-shop', orderRef: `o-${i}`, amount: 100n, currency: 'EUR' });
        auths.push(
          alice.authorise({ merchantId: 'm-shop', orderRef: `o-${i}`, amount: 100n, currency: 'EUR', nowMs: clock.now() }),
        );
      }
      auths[2] = { ...auths[2]!, amount: 1n }; // changed after signing
      const out = await center.authorise(auths.map((payload) => ({ payload })));
      const st = out.map((o) =>
        o.kind === 'result' ? `${o.result.status}${o.result.reason ? `:${o.result.reason}` : ''}` : o.code,
      );
      expect(st).toEqual(['approved', 'approved', 'declined:bad_signature', 'approved', 'approved', 'approved']);
      expect((await center.checkInvariants()).violations).toEqual([]);
    } finally {
      await cleanup();
    }
  });
});
