/**
 * Release keys: Ed25519, stored as PKCS#8 PEM (private, 0600) and SPKI PEM (public),
 * the same files `openssl genpkey -algorithm ed25519` makes, so a release key can live
 * in an HSM or a CI secret and be handed over as a file.
 *
 * Without `--key`, `handset build` uses (and on first use generates) a DEVELOPMENT key
 * in `.handset/release-dev.key` and warns: bundles signed with it are for the bench only.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  ed25519PrivateKeyFromPem,
  ed25519PrivateKeyToPem,
  ed25519PublicKeyFromPem,
  ed25519PublicKeyToPem,
  nodeCrypto,
} from '@handset/host-sdk/protocol';
import { keyIdOf } from './bundle';
import { KeyError } from './errors';

export const DEV_KEY_DIR = '.handset';
export const DEV_KEY_FILE = 'release-dev.key';
export const DEV_PUB_FILE = 'release-dev.pub';

export interface ReleaseKey {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  keyId: string;
}

/** Reads a private key PEM file. */
export async function loadReleaseKey(path: string): Promise<ReleaseKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new KeyError('KEY_MISSING', `cannot read release key ${path}`, { cause });
  }
  if (!text.includes('PRIVATE KEY')) throw new KeyError('BAD_KEY', `${path} is not a PKCS#8 PEM private key`);
  try {
    const privateKey = ed25519PrivateKeyFromPem(text);
    const publicKey = nodeCrypto.ed25519PublicKey(privateKey);
    return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
  } catch (cause) {
    throw new KeyError('BAD_KEY', `${path} is not an Ed25519 private key`, { cause });
  }
}

/** Reads a public key from a public or private PEM file (raw 32 bytes). */
export async function loadTrustedKey(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new KeyError('KEY_MISSING', `cannot read key ${path}`, { cause });
  }
  try {
    if (text.includes('PRIVATE KEY')) return nodeCrypto.ed25519PublicKey(ed25519PrivateKeyFromPem(text));
    return ed25519PublicKeyFromPem(text);
  } catch (cause) {
    throw new KeyError('BAD_KEY', `${path} is not an Ed25519 PEM key`, { cause });
  }
}

/** Writes a fresh key pair: `path` (private, 0600) and `path` with .pub (public). */
export async function generateReleaseKey(path: string): Promise<ReleaseKey> {
  const kp = nodeCrypto.generateEd25519KeyPair();
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, ed25519PrivateKeyToPem(kp.privateKey), { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
  await writeFile(path.replace(/\.key$/, '') + '.pub', ed25519PublicKeyToPem(kp.publicKey));
  return { ...kp, keyId: keyIdOf(kp.publicKey) };
}

/** The development key under `<base>/.handset/`, generated on first use. */
export async function devReleaseKey(base: string): Promise<ReleaseKey & { path: string; created: boolean }> {
  const path = join(base, DEV_KEY_DIR, DEV_KEY_FILE);
  if (existsSync(path)) return { ...(await loadReleaseKey(path)), path, created: false };
  return { ...(await generateReleaseKey(path)), path, created: true };
}
