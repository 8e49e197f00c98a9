import { describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/protocol/index';
import { hex, RFC_PK, RFC_SK } from './fixtures';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new TextEncoder().encode(s);

/**
 * The contract every CryptoProvider must meet (STYLE habit 7): published vectors for
 * Ed25519 (RFC 8032), SHA-256 (FIPS 180-2) and HMAC-SHA256 (RFC 4231), plus the
 * "never throws on malformed input" rule of ed25519Verify. One line per implementation.
 */
export function describeCryptoProviderContract(name: string, make: () => CryptoProvider): void {
  describe(`CryptoProvider contract: ${name}`, () => {
    const c = make();

    it('Ed25519 matches RFC 8032 test 1 and test 2', () => {
      expect(toHex(c.ed25519PublicKey(RFC_SK))).toBe(toHex(RFC_PK));
      expect(toHex(c.ed25519Sign(RFC_SK, new Uint8Array()))).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      );
      const sk2 = hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');
      expect(toHex(c.ed25519PublicKey(sk2))).toBe('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
      expect(toHex(c.ed25519Sign(sk2, hex('72')))).toBe(
        '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
      );
      expect(c.ed25519Verify(RFC_PK, new Uint8Array(), c.ed25519Sign(RFC_SK, new Uint8Array()))).toBe(true);
    });

    it('ed25519Verify answers false, never throws, for malformed keys and signatures', () => {
      const sig = c.ed25519Sign(RFC_SK, ascii('m'));
      expect(c.ed25519Verify(RFC_PK, ascii('m'), sig)).toBe(true);
      expect(c.ed25519Verify(RFC_PK, ascii('n'), sig)).toBe(false);
      expect(c.ed25519Verify(new Uint8Array(31), ascii('m'), sig)).toBe(false);
      expect(c.ed25519Verify(RFC_PK, ascii('m'), sig.subarray(0, 63))).toBe(false);
      expect(c.ed25519Verify(new Uint8Array(32).fill(0xff), ascii('m'), sig)).toBe(false);
    });

    it('ed25519VerifyAsync (where provided) agrees with ed25519Verify, never rejects', async () => {
      if (!c.ed25519VerifyAsync) return;
      const sig = c.ed25519Sign(RFC_SK, ascii('m'));
      const cases: Array<[Uint8Array, Uint8Array, Uint8Array]> = [
        [RFC_PK, ascii('m'), sig],
        [RFC_PK, ascii('n'), sig],
        [new Uint8Array(31), ascii('m'), sig],
        [RFC_PK, ascii('m'), sig.subarray(0, 63)],
        [new Uint8Array(32).fill(0xff), ascii('m'), sig],
      ];
      const got = await Promise.all(cases.map(([k, m, s]) => c.ed25519VerifyAsync!(k, m, s)));
      expect(got).toEqual(cases.map(([k, m, s]) => c.ed25519Verify(k, m, s)));
      expect(got).toEqual([true, false, false, false, false]);
    });

    it('generates distinct key pairs whose public half matches', () => {
      const a = c.generateEd25519KeyPair();
      const b = c.generateEd25519KeyPair();
      expect(a.privateKey).toHaveLength(32);
      expect(a.publicKey).toHaveLength(32);
      expect(toHex(a.privateKey)).not.toBe(toHex(b.privateKey));
      expect(toHex(c.ed25519PublicKey(a.privateKey))).toBe(toHex(a.publicKey));
    });

    it('SHA-256 and HMAC-SHA256 match their published vectors; randomBytes has the asked length', () => {
      expect(toHex(c.sha256(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      expect(toHex(c.hmacSha256(new Uint8Array(20).fill(0x0b), ascii('Hi There')))).toBe(
        'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
      );
      expect(c.randomBytes(17)).toHaveLength(17);
      expect(toHex(c.randomBytes(16))).not.toBe(toHex(c.randomBytes(16)));
    });
  });
}
