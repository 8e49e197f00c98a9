/**
 * Wire-contract costs on the hot paths of the cloud (decode + verify every authorisation,
 * verify pay codes) and the handset (parse every scanned merchant code), each next to
 * the bare primitive it is built on, measured in the same run.
 */
import * as nc from 'node:crypto';
import {
  decodeMessage,
  encodeMessage,
  generatePaycode,
  nodeCrypto,
  parseMpm,
  signAuthorisation,
  verifyAuthorisation,
  verifyPaycode,
} from '../host-sdk/src/protocol/index';
import type { BenchResult, BenchSuite } from './types';

const SPEC_B7 =
  '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A';

/** Mean microseconds per call over ~`ms` of wall time, after a warm-up. */
function usPer(f: () => unknown, ms = 1500): number {
  for (let i = 0; i < 300; i++) f();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 100; i++) f();
    n += 100;
    t = performance.now();
  }
  return ((t - t0) * 1000) / n;
}

/** Root-level ID-Length-Value split with no checks at all: the floor for any MPM reader. */
function naiveSplit(p: string): number {
  const chars = Array.from(p);
  let i = 0;
  let count = 0;
  while (i + 4 <= chars.length) {
    i += 4 + Number(chars[i + 2]! + chars[i + 3]!);
    count++;
  }
  return count;
}

export const suite: BenchSuite = {
  area: 'protocol',
  async run(): Promise<BenchResult[]> {
    const out: BenchResult[] = [];
    const kp = nodeCrypto.generateEd25519KeyPair();
    const auth = signAuthorisation(nodeCrypto, kp.privateKey, {
      paymentId: '01890a5d-ac96-7a4b-8c3e-1f2a3b4c5d6e',
      deviceId: 'hs-0001',
      account: 'alice',
      merchantId: 'm-cafe',
      orderRef: 'ORD-42',
      amount: 9873n,
      currency: 'USD',
      method: 'fingerprint',
      counter: 7,
      ts: 1_700_000_000_000,
    });
    const bytes = encodeMessage('authorisation', auth);

    const pub = nc.createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(kp.publicKey).toString('base64url') },
      format: 'jwk',
    });
    const msg = Buffer.alloc(160, 7);
    const priv = nc.createPrivateKey({
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        x: Buffer.from(kp.publicKey).toString('base64url'),
        d: Buffer.from(kp.privateKey).toString('base64url'),
      },
      format: 'jwk',
    });
    const rawSig = nc.sign(null, msg, priv);
    const rawVerify = usPer(() => nc.verify(null, msg, pub, rawSig));
    const verify = usPer(() => verifyAuthorisation(nodeCrypto, kp.publicKey, decodeMessage('authorisation', bytes)));
    out.push({
      area: 'protocol',
      name: 'decode + verify one authorisation',
      value: verify,
      unit: 'us',
      baseline: { name: 'bare node:crypto Ed25519 verify', value: rawVerify },
      ratio: verify / rawVerify,
      target: '>= 1,000/s per core (DESIGN §8: 1,000 payments/s)',
      pass: 1e6 / verify >= 1000,
      extra: { perSecondPerCore: Math.round(1e6 / verify) },
    });

    const parse = usPer(() => parseMpm(SPEC_B7));
    const naive = usPer(() => naiveSplit(SPEC_B7));
    out.push({
      area: 'protocol',
      name: 'parseMpm + validate (spec B.7, 248 chars)',
      value: parse,
      unit: 'us',
      baseline: { name: 'unchecked root ILV split', value: naive },
      ratio: parse / naive,
      target: '<= 1 ms per scanned code (frame budget 50 ms)',
      pass: parse <= 1000,
    });

    const seed = new Uint8Array(32).fill(3);
    const now = 1_700_000_000_000;
    const { code } = generatePaycode(nodeCrypto, { seed, index: '0000000042', nowMs: now });
    const pc = usPer(() => verifyPaycode(nodeCrypto, code, { seed, nowMs: now }));
    const hmac5 = usPer(() => {
      for (let i = 0; i < 5; i++) nc.createHmac('sha256', seed).update(msg.subarray(0, 36)).digest();
    });
    out.push({
      area: 'protocol',
      name: 'verify a pay code (5-step window)',
      value: pc,
      unit: 'us',
      baseline: { name: '5 bare HMAC-SHA256', value: hmac5 },
      ratio: pc / hmac5,
      target: '>= 1,000 charges/s per core',
      pass: 1e6 / pc >= 1000,
    });
    return out;
  },
};
