import type { AuthorisationFields } from '../../src/protocol/index';
import { nodeCrypto, publicKeyToBase64Url, signAuthorisation, signRegistration } from '../../src/protocol/index';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** RFC 8032 §7.1 test 1 key pair. */
export const RFC_SK = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
export const RFC_PK = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');

export const AUTH_FIELDS: AuthorisationFields = {
  paymentId: '01890a5d-ac96-7a4b-8c3e-1f2a3b4c5d6e',
  deviceId: 'hs-0001',
  account: 'alice',
  merchantId: 'm-cafe',
  orderRef: 'ORD-42',
  amount: 9873n,
  currency: 'USD',
  method: 'fingerprint+pin',
  counter: 7,
  ts: 1_700_000_000_000,
};

export const signedAuth = () => signAuthorisation(nodeCrypto, RFC_SK, AUTH_FIELDS);

export const signedRegistration = () =>
  signRegistration(nodeCrypto, RFC_SK, {
    requestId: '01890a5d-ac96-7a4b-8c3e-000000000001',
    deviceId: 'hs-0001',
    account: 'alice',
    publicKey: publicKeyToBase64Url(RFC_PK),
    slots: [
      { slot: 0, templateSha256: 'a'.repeat(64) },
      { slot: 1, templateSha256: '0123456789abcdef'.repeat(4) },
    ],
    ts: 1_700_000_000_000,
  });

export const wire = (m: unknown): Record<string, unknown> =>
  JSON.parse(JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

/** MPM v1.0 Annex B.7 (reference emv-qr.md §2): dynamic, Chinese language template. */
export const SPEC_B7 =
  '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A';
