import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  nodeCrypto,
  publicKeyFromBase64Url,
  type RegistrationResponse,
  toBase64Url,
  verifyAuthorisation,
  verifyRegistration,
} from '@handset/host-sdk/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { FileKeystoreStorage, Keystore, loadDeviceSecret, MemoryKeystoreStorage } from '../../src/keystore/index';

const dir = mkdtempSync(join(tmpdir(), 'keystore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secret = new Uint8Array(32).fill(7);
const fields = (counter: number) => ({
  paymentId: '01890a5d-ac96-7a4b-8c3e-1f2a3b4c5d6e',
  account: 'alice',
  merchantId: 'm-cafe',
  orderRef: 'ORD-1',
  amount: 1250n,
  currency: 'EUR',
  counter,
  ts: 1_700_000_000_000,
});
const seed = new Uint8Array(32).fill(9);
const grant: RegistrationResponse = {
  v: 1,
  type: 'registration.response',
  requestId: '01890a5d-ac96-7a4b-8c3e-1f2a3b4c5d6f',
  deviceId: 'hs-1',
  status: 'registered',
  account: 'alice',
  paycode: { index: '0123456789', seed: toBase64Url(seed), stepSeconds: 15 },
  ts: 1,
};

describe('keystore', () => {
  it('generates the key once, in a 0600 file, with the private key and seed sealed', () => {
    const path = join(dir, 'ks.json');
    const ks = Keystore.open({ deviceId: 'hs-1', storage: new FileKeystoreStorage(path), deviceSecret: secret });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    ks.acceptRegistration(grant, 5);
    const again = Keystore.open({ deviceId: 'hs-1', storage: new FileKeystoreStorage(path), deviceSecret: secret });
    expect(again.publicKey).toBe(ks.publicKey);
    expect(again.paycode).toEqual({ index: '0123456789', stepSeconds: 15, lastUsedStep: -1 });
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(toBase64Url(seed));
    expect(text).not.toContain(Buffer.from(seed).toString('hex'));
    // sealed blobs do not open with another device secret
    expect(() =>
      Keystore.open({ deviceId: 'hs-1', storage: new FileKeystoreStorage(path), deviceSecret: new Uint8Array(32) }),
    ).toThrow(expect.objectContaining({ code: 'KEYSTORE_SEAL' }));
    expect(() => Keystore.open({ deviceId: 'hs-2', storage: new FileKeystoreStorage(path), deviceSecret: secret })).toThrow(
      expect.objectContaining({ code: 'KEYSTORE_DEVICE_MISMATCH' }),
    );
  });

  it('signs only with a fingerprint grant, once; the signature verifies with the public key', () => {
    const ks = Keystore.open({ deviceId: 'hs-1', storage: new MemoryKeystoreStorage(), deviceSecret: secret });
    const forged = { slot: 1, score: 100, method: 'fingerprint' as const, expiresAt: Number.MAX_SAFE_INTEGER };
    expect(() => ks.signAuthorisation(forged, fields(ks.reserveCounter()))).toThrow(
      expect.objectContaining({ code: 'NOT_UNLOCKED' }),
    );
    const g = ks.unlock({ slot: 1, score: 120 });
    const auth = ks.signAuthorisation(g, fields(ks.reserveCounter()));
    expect(auth.deviceId).toBe('hs-1');
    expect(verifyAuthorisation(nodeCrypto, publicKeyFromBase64Url(ks.publicKey), auth)).toBe(true);
    expect(() => ks.signAuthorisation(g, fields(ks.reserveCounter()))).toThrow(expect.objectContaining({ code: 'NOT_UNLOCKED' }));
  });

  it('a grant expires; a locked handset gives no grant until unlocked', () => {
    let now = 0;
    const ks = Keystore.open({
      deviceId: 'hs-1',
      storage: new MemoryKeystoreStorage(),
      deviceSecret: secret,
      monotonic: () => now,
      grantTtlMs: 1000,
    });
    const g = ks.unlock({ slot: 1, score: 99 });
    now = 1001;
    expect(() => ks.signAuthorisation(g, fields(ks.reserveCounter()))).toThrow(
      expect.objectContaining({ code: 'GRANT_EXPIRED' }),
    );
    ks.lock('test', 1);
    expect(() => ks.unlock({ slot: 1, score: 99 })).toThrow(expect.objectContaining({ code: 'HANDSET_LOCKED' }));
    ks.unlockPayments();
    expect(ks.unlock({ slot: 1, score: 99 }).method).toBe('fingerprint');
  });

  it('the counter is on storage before it is used, so a crash never reuses one', () => {
    const storage = new MemoryKeystoreStorage();
    const ks = Keystore.open({ deviceId: 'hs-1', storage, deviceSecret: secret });
    const writes = storage.writes;
    const c1 = ks.reserveCounter();
    expect(storage.writes).toBe(writes + 1);
    expect(JSON.parse(Buffer.from(storage.bytes!).toString()).counter).toBe(c1);
    // "crash": reopen from what is stored; the next value is higher than any used
    const after = Keystore.open({ deviceId: 'hs-1', storage, deviceSecret: secret });
    expect(after.reserveCounter()).toBe(c1 + 1);
    expect(() => after.signAuthorisation(after.unlock({ slot: 1, score: 1 }), fields(c1 + 5))).toThrow(
      expect.objectContaining({ code: 'COUNTER_NOT_RESERVED' }),
    );
  });

  it('registration request: proof of possession verifies; the seed opens only with a grant', () => {
    const ks = Keystore.open({ deviceId: 'hs-1', storage: new MemoryKeystoreStorage(), deviceSecret: secret });
    const req = ks.registrationRequest({
      requestId: grant.requestId,
      account: 'alice',
      slots: [{ slot: 1, templateSha256: 'a'.repeat(64) }],
      ts: 1,
    });
    expect(verifyRegistration(nodeCrypto, req)).toBe(true);
    ks.acceptRegistration(grant, 2);
    expect(ks.paycodeSeed(ks.unlock({ slot: 1, score: 1 }))).toEqual(seed);
    expect(() => ks.acceptRegistration({ ...grant, status: 'rejected', reason: 'bad_signature', paycode: undefined }, 3)).toThrow(
      expect.objectContaining({ code: 'REGISTRATION_REJECTED' }),
    );
  });

  it('bad files are typed errors', () => {
    const storage = new MemoryKeystoreStorage();
    storage.bytes = new TextEncoder().encode('not json');
    expect(() => Keystore.open({ deviceId: 'hs-1', storage, deviceSecret: secret })).toThrow(
      expect.objectContaining({ code: 'KEYSTORE_CORRUPT' }),
    );
    expect(() => Keystore.open({ deviceId: 'hs-1', storage, deviceSecret: new Uint8Array(8) })).toThrow(
      expect.objectContaining({ code: 'DEVICE_SECRET_INVALID' }),
    );
    const p = join(dir, 'secret');
    const s = loadDeviceSecret(p);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(Buffer.from(loadDeviceSecret(p)).equals(Buffer.from(s))).toBe(true);
  });
});
