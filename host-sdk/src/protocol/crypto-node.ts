import * as nc from 'node:crypto';
import type { CryptoProvider, Ed25519KeyPair } from './crypto';
import { SigningError } from './errors';

/** DER prefixes of PKCS#8 (private) and SPKI (public) Ed25519 keys; the raw 32 bytes follow. */
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function check32(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32)
    throw new SigningError('BAD_KEY', `${what} must be 32 bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`);
}

/**
 * Importing a raw key into a KeyObject costs more than the Ed25519 operation itself
 * (~0.6 ms vs ~0.1 ms), so imported keys are kept in small LRU maps: a cloud worker
 * verifies many payments per device key, a handset signs with one key.
 */
class KeyCache {
  private readonly map = new Map<string, nc.KeyObject>();
  constructor(private readonly limit: number) {}
  get(raw: Uint8Array, make: () => nc.KeyObject): nc.KeyObject {
    const k = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
    const hit = this.map.get(k);
    if (hit) {
      this.map.delete(k);
      this.map.set(k, hit);
      return hit;
    }
    const made = make();
    this.map.set(k, made);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value!);
    return made;
  }
}
const privateKeys = new KeyCache(16);
const publicKeys = new KeyCache(50_000);

function privateKeyObject(privateKey: Uint8Array): nc.KeyObject {
  check32(privateKey, 'Ed25519 private key');
  return privateKeys.get(privateKey, () =>
    nc.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' }),
  );
}

function publicKeyObject(publicKey: Uint8Array): nc.KeyObject {
  check32(publicKey, 'Ed25519 public key');
  return publicKeys.get(publicKey, () =>
    nc.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
  );
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function rawPublic(key: nc.KeyObject): Uint8Array {
  return u8(key.export({ format: 'der', type: 'spki' })).slice(SPKI_PREFIX.length);
}

function rawPrivate(key: nc.KeyObject): Uint8Array {
  return u8(key.export({ format: 'der', type: 'pkcs8' })).slice(PKCS8_PREFIX.length);
}

/** The node:crypto implementation of CryptoProvider. */
export const nodeCrypto: CryptoProvider = {
  generateEd25519KeyPair(): Ed25519KeyPair {
    const { privateKey, publicKey } = nc.generateKeyPairSync('ed25519');
    return { privateKey: rawPrivate(privateKey), publicKey: rawPublic(publicKey) };
  },
  ed25519PublicKey(privateKey) {
    return rawPublic(nc.createPublicKey(privateKeyObject(privateKey)));
  },
  ed25519Sign(privateKey, message) {
    return u8(nc.sign(null, message, privateKeyObject(privateKey)));
  },
  ed25519Verify(publicKey, message, signature) {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false;
    try {
      return nc.verify(null, message, publicKeyObject(publicKey), signature);
    } catch {
      return false;
    }
  },
  ed25519VerifyAsync(publicKey, message, signature) {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        nc.verify(null, message, publicKeyObject(publicKey), signature, (err, ok) => resolve(!err && ok));
      } catch {
        resolve(false);
      }
    });
  },
  sha256: (data) => u8(nc.createHash('sha256').update(data).digest()),
  hmacSha256: (key, data) => u8(nc.createHmac('sha256', key).update(data).digest()),
  randomBytes: (n) => u8(nc.randomBytes(n)),
};

/** PEM (PKCS#8) of a raw 32-byte Ed25519 private key, for the handset keystore. */
export function ed25519PrivateKeyToPem(privateKey: Uint8Array): string {
  return privateKeyObject(privateKey).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** PEM (SPKI) of a raw 32-byte Ed25519 public key. */
export function ed25519PublicKeyToPem(publicKey: Uint8Array): string {
  return publicKeyObject(publicKey).export({ format: 'pem', type: 'spki' }).toString();
}

/** Raw 32-byte private key from a PKCS#8 PEM; SigningError BAD_KEY for anything else. */
export function ed25519PrivateKeyFromPem(pem: string): Uint8Array {
  let key: nc.KeyObject;
  try {
    key = nc.createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new SigningError('BAD_KEY', 'not a PEM private key', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new SigningError('BAD_KEY', `expected an ed25519 key, got ${key.asymmetricKeyType}`);
  return rawPrivate(key);
}

/** Raw 32-byte public key from an SPKI PEM (or the public half of a private PEM). */
export function ed25519PublicKeyFromPem(pem: string): Uint8Array {
  let key: nc.KeyObject;
  try {
    key = nc.createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new SigningError('BAD_KEY', 'not a PEM public key', { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519')
    throw new SigningError('BAD_KEY', `expected an ed25519 key, got ${key.asymmetricKeyType}`);
  return rawPublic(key);
}
