import { describe, expect, it } from 'vitest';
import {
  AUTH_DOMAIN,
  type AuthorisationFields,
  authorisationSigningBytes,
  ed25519PrivateKeyFromPem,
  ed25519PrivateKeyToPem,
  ed25519PublicKeyFromPem,
  ed25519PublicKeyToPem,
  fromBase64Url,
  nodeCrypto,
  registrationSigningBytes,
  SigningError,
  toBase64Url,
  verifyAuthorisation,
  verifyRegistration,
} from '../../src/protocol/index';
import { describeCryptoProviderContract } from './crypto-contract';
import { AUTH_FIELDS, hex, RFC_PK, signedAuth, signedRegistration } from './fixtures';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describeCryptoProviderContract('nodeCrypto (node:crypto)', () => nodeCrypto);

describe('node:crypto key forms', () => {
  it('generates key pairs and moves keys through raw and PEM forms', () => {
    const kp = nodeCrypto.generateEd25519KeyPair();
    expect(kp.privateKey.length).toBe(32);
    expect(toHex(nodeCrypto.ed25519PublicKey(kp.privateKey))).toBe(toHex(kp.publicKey));
    const pem = ed25519PrivateKeyToPem(kp.privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(toHex(ed25519PrivateKeyFromPem(pem))).toBe(toHex(kp.privateKey));
    expect(toHex(ed25519PublicKeyFromPem(ed25519PublicKeyToPem(kp.publicKey)))).toBe(toHex(kp.publicKey));
    expect(toHex(ed25519PublicKeyFromPem(pem))).toBe(toHex(kp.publicKey));
    expect(() => ed25519PrivateKeyFromPem('nope')).toThrow(SigningError);
    expect(() => nodeCrypto.ed25519Sign(new Uint8Array(31), new Uint8Array())).toThrow(SigningError);
    expect(nodeCrypto.ed25519Verify(new Uint8Array(3), new Uint8Array(), new Uint8Array(64))).toBe(false);
  });
});

describe('authorisation signing', () => {
  it('has a fixed canonical encoding (committed vector)', () => {
    expect(toHex(authorisationSigningBytes(AUTH_FIELDS))).toBe(
      '001868616e647365742f76312f617574686f7269736174696f6e010a01002430313839306135642d616339362d376134622d386333652d31663261336234633564366502000768732d30303031030005616c6963650400066d2d636166650500064f52442d3432060008000000000000269107000355534408000f66696e6765727072696e742b70696e09000800000000000000070a00080000018bcfe56800',
    );
    expect(
      Buffer.from(authorisationSigningBytes(AUTH_FIELDS))
        .subarray(2, 2 + AUTH_DOMAIN.length)
        .toString(),
    ).toBe(AUTH_DOMAIN);
  });

  it('gives a fixed signature for the fixed key and message (committed vector)', () => {
    const auth = signedAuth();
    expect(auth.signature).toBe('4iyMTBacT-2uSTqtN5TU-ViSIRIgE58cgWMAjh2hKBAWJruQd3imUeaxwUXTCJ6p1vkGFGgKE_FHJwRqAl1dBw');
    expect(verifyAuthorisation(nodeCrypto, RFC_PK, auth)).toBe(true);
    expect(verifyAuthorisation(nodeCrypto, toBase64Url(RFC_PK), auth)).toBe(true);
  });

  const flipString = (s: string) => s.slice(0, -1) + String.fromCharCode(s.charCodeAt(s.length - 1) ^ 1);
  const mutations: Record<keyof AuthorisationFields, (f: AuthorisationFields) => AuthorisationFields> = {
    paymentId: (f) => ({ ...f, paymentId: flipString(f.paymentId) }),
    deviceId: (f) => ({ ...f, deviceId: flipString(f.deviceId) }),
    account: (f) => ({ ...f, account: flipString(f.account) }),
    merchantId: (f) => ({ ...f, merchantId: flipString(f.merchantId) }),
    orderRef: (f) => ({ ...f, orderRef: flipString(f.orderRef) }),
    amount: (f) => ({ ...f, amount: f.amount ^ 1n }),
    currency: (f) => ({ ...f, currency: 'USE' }),
    method: (f) => ({ ...f, method: 'fingerprint' }),
    counter: (f) => ({ ...f, counter: f.counter ^ 1 }),
    ts: (f) => ({ ...f, ts: f.ts ^ 1 }),
  };

  it('fails verification when any single field changes', () => {
    const auth = signedAuth();
    for (const [field, mutate] of Object.entries(mutations)) {
      const changed = { ...auth, ...mutate(AUTH_FIELDS) };
      expect(verifyAuthorisation(nodeCrypto, RFC_PK, changed), field).toBe(false);
    }
    expect(Object.keys(mutations).length).toBe(10);
  });

  it('fails verification for every single-bit flip of the signed bytes and of the signature', () => {
    const bytes = authorisationSigningBytes(AUTH_FIELDS);
    const sig = fromBase64Url(signedAuth().signature) as Uint8Array;
    for (let i = 0; i < bytes.length * 8; i++) {
      const b = bytes.slice();
      b[i >> 3]! ^= 1 << (i & 7);
      expect(nodeCrypto.ed25519Verify(RFC_PK, b, sig)).toBe(false);
    }
    for (let i = 0; i < 512; i++) {
      const s = sig.slice();
      s[i >> 3]! ^= 1 << (i & 7);
      expect(nodeCrypto.ed25519Verify(RFC_PK, bytes, s)).toBe(false);
    }
  });

  it('is unambiguous: moving a character between adjacent fields changes the bytes', () => {
    const a = authorisationSigningBytes({ ...AUTH_FIELDS, account: 'alice', merchantId: 'm-cafe' });
    const b = authorisationSigningBytes({ ...AUTH_FIELDS, account: 'alicem', merchantId: '-cafe' });
    expect(toHex(a)).not.toBe(toHex(b));
  });

  it('never throws on hostile input when verifying', () => {
    const auth = signedAuth();
    expect(verifyAuthorisation(nodeCrypto, 'short', auth)).toBe(false);
    expect(verifyAuthorisation(nodeCrypto, RFC_PK, { ...auth, signature: '!!' })).toBe(false);
    expect(verifyAuthorisation(nodeCrypto, RFC_PK, { ...auth, amount: -1n })).toBe(false);
    expect(verifyAuthorisation(nodeCrypto, hex('00'.repeat(32)), auth)).toBe(false);
    expect(() => authorisationSigningBytes({ ...AUTH_FIELDS, amount: 12.5 as unknown as bigint })).toThrow(SigningError);
    expect(() => authorisationSigningBytes({ ...AUTH_FIELDS, counter: -1 })).toThrow(SigningError);
  });
});

describe('registration proof of possession', () => {
  it('verifies with the key it carries and fails when a digest changes', () => {
    const reg = signedRegistration();
    expect(verifyRegistration(nodeCrypto, reg)).toBe(true);
    const tampered = { ...reg, slots: [reg.slots[0]!, { slot: 1, templateSha256: 'b'.repeat(64) }] };
    expect(verifyRegistration(nodeCrypto, tampered)).toBe(false);
    expect(verifyRegistration(nodeCrypto, { ...reg, account: 'bob' })).toBe(false);
    expect(registrationSigningBytes(reg).length).toBeGreaterThan(100);
  });
});
