/**
 * The handset's keystore: the Ed25519 device key, the monotonic signature counter, the
 * pay-code grant (index + seed) and the enrolment digests, in ONE file.
 *
 * - The file is written atomically (temp file, fsync, rename, fsync of the directory)
 *   with mode 0600; secrets inside are sealed with AES-256-GCM under a key derived
 *   (HKDF-SHA256) from a device secret that is not in the file (on a Pi: a 0600 file on
 *   another partition, or a TPM/secure-element secret; here `device.secret` next to it).
 *   The device id is the AEAD's associated data: a sealed blob copied to another
 *   device's file does not open.
 * - WebAuthn model (reference §4.2): the private key never leaves this module, and it
 *   signs only with a `SigningGrant`, which the fingerprint module obtains with a match
 *   (`unlock()`); a grant is single-use and short-lived.
 * - The counter is persisted BEFORE it is used (`reserveCounter()` writes n+1, then
 *   returns it): after a crash at any point the next value is higher than any value that
 *   may have been signed, so the cloud's strict-increase check never sees a reuse.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HandsetError } from '@handset/device-drivers/core';
import {
  type Authorisation,
  type AuthorisationFields,
  type CryptoProvider,
  fromBase64Url,
  nodeCrypto,
  publicKeyToBase64Url,
  type RegistrationFields,
  type RegistrationRequest,
  type RegistrationResponse,
  signAuthorisation,
  signRegistration,
  toBase64Url,
} from '@handset/host-sdk/protocol';

const NS = 'keystore';

export class KeystoreError extends HandsetError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { device: NS, cause });
  }
}

/** Where the keystore's bytes live. Writes must be atomic (all or nothing). */
export interface KeystoreStorage {
  read(): Uint8Array | undefined;
  write(bytes: Uint8Array): void;
  /** Human-readable location for errors. */
  readonly location: string;
}

/** A file, replaced atomically, mode 0600. */
export class FileKeystoreStorage implements KeystoreStorage {
  constructor(readonly location: string) {}
  read(): Uint8Array | undefined {
    try {
      return readFileSync(this.location);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new KeystoreError('KEYSTORE_IO', `cannot read ${this.location}`, err);
    }
  }
  write(bytes: Uint8Array): void {
    writeFileAtomic(this.location, bytes);
  }
}

/** In memory (unit tests). `bytes` is what a file would hold. */
export class MemoryKeystoreStorage implements KeystoreStorage {
  readonly location = 'memory';
  bytes: Uint8Array | undefined;
  writes = 0;
  read() {
    return this.bytes;
  }
  write(bytes: Uint8Array) {
    this.bytes = new Uint8Array(bytes);
    this.writes++;
  }
}

/** Writes `bytes` to `path` atomically with mode 0600 (temp + fsync + rename + dir fsync). */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFileSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    throw new KeystoreError('KEYSTORE_IO', `cannot write ${path}`, err);
  }
}

/**
 * The device secret: 32 random bytes in a 0600 file, created on first use. On a real
 * handset put it where the keystore file is not (or take it from a secure element).
 */
export function loadDeviceSecret(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    if (b.length !== 32) throw new KeystoreError('DEVICE_SECRET_INVALID', `${path} must hold 32 bytes`);
    return b;
  } catch (err) {
    if (err instanceof KeystoreError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new KeystoreError('KEYSTORE_IO', `cannot read ${path}`, err);
  }
  const secret = randomBytes(32);
  writeFileAtomic(path, secret);
  return secret;
}

interface Sealed {
  iv: string;
  ct: string;
  tag: string;
}

interface KeystoreFile {
  v: 1;
  deviceId: string;
  publicKey: string;
  privateKey: Sealed;
  /** Highest counter value that may have been used. */
  counter: number;
  enrolments: { slot: number; templateSha256: string }[];
  registration?: { account: string; requestId: string; registeredAt: number };
  paycode?: { index: string; stepSeconds: number; seed: Sealed; lastUsedStep: number };
  /** Payments locked on the handset (fingerprint fallback impossible); a host unlocks. */
  locked?: { reason: string; at: number };
}

/** What a fingerprint match yields: permission for ONE signature before `expiresAt` (monotonic ms). */
export interface SigningGrant {
  readonly slot: number;
  readonly score: number;
  readonly method: 'fingerprint' | 'fingerprint+pin';
  readonly expiresAt: number;
}

export interface KeystoreOptions {
  deviceId: string;
  storage: KeystoreStorage;
  /** 32+ bytes the sealing key is derived from. */
  deviceSecret: Uint8Array;
  crypto?: CryptoProvider;
  /** Monotonic ms for grant expiry. Default performance.now. */
  monotonic?: () => number;
  /** How long a grant lives. Default 60 s (confirm -> sign happens right after the match). */
  grantTtlMs?: number;
}

export class Keystore {
  readonly deviceId: string;
  readonly crypto: CryptoProvider;
  private readonly storage: KeystoreStorage;
  private readonly key: Buffer;
  private readonly monotonic: () => number;
  private readonly grantTtlMs: number;
  private readonly live = new WeakSet<SigningGrant>();
  private data: KeystoreFile;

  private constructor(o: KeystoreOptions, data: KeystoreFile, key: Buffer) {
    this.deviceId = o.deviceId;
    this.crypto = o.crypto ?? nodeCrypto;
    this.storage = o.storage;
    this.key = key;
    this.monotonic = o.monotonic ?? (() => performance.now());
    this.grantTtlMs = o.grantTtlMs ?? 60_000;
    this.data = data;
  }

  /** Opens the keystore, generating and persisting the device key pair if absent. */
  static open(o: KeystoreOptions): Keystore {
    if (o.deviceSecret.length < 32) throw new KeystoreError('DEVICE_SECRET_INVALID', 'device secret must be >= 32 bytes');
    const key = Buffer.from(hkdfSync('sha256', o.deviceSecret, Buffer.from(o.deviceId), 'handset/v1/keystore', 32));
    const crypto = o.crypto ?? nodeCrypto;
    const raw = o.storage.read();
    if (!raw) {
      const pair = crypto.generateEd25519KeyPair();
      const data: KeystoreFile = {
        v: 1,
        deviceId: o.deviceId,
        publicKey: publicKeyToBase64Url(pair.publicKey),
        privateKey: seal(key, pair.privateKey, o.deviceId),
        counter: 0,
        enrolments: [],
      };
      const ks = new Keystore(o, data, key);
      ks.save();
      return ks;
    }
    let data: KeystoreFile;
    try {
      data = JSON.parse(Buffer.from(raw).toString('utf8')) as KeystoreFile;
    } catch (err) {
      throw new KeystoreError('KEYSTORE_CORRUPT', `${o.storage.location} is not a keystore`, err);
    }
    if (data?.v !== 1 || typeof data.counter !== 'number' || !data.privateKey)
      throw new KeystoreError('KEYSTORE_CORRUPT', `${o.storage.location} is not a v1 keystore`);
    if (data.deviceId !== o.deviceId)
      throw new KeystoreError('KEYSTORE_DEVICE_MISMATCH', `${o.storage.location} belongs to ${data.deviceId}, not ${o.deviceId}`);
    const ks = new Keystore(o, data, key);
    ks.privateKey(); // fails now (KEYSTORE_SEAL) if the device secret is wrong
    return ks;
  }

  /** Wire form (base64url) of the public key. */
  get publicKey(): string {
    return this.data.publicKey;
  }

  /** Highest counter value reserved so far. */
  get counter(): number {
    return this.data.counter;
  }

  get enrolments(): readonly { slot: number; templateSha256: string }[] {
    return this.data.enrolments;
  }

  get registration(): KeystoreFile['registration'] {
    return this.data.registration;
  }

  /** Pay-code routing index and step, if registered (the seed stays sealed). */
  get paycode(): { index: string; stepSeconds: number; lastUsedStep: number } | undefined {
    const p = this.data.paycode;
    return p && { index: p.index, stepSeconds: p.stepSeconds, lastUsedStep: p.lastUsedStep };
  }

  get locked(): KeystoreFile['locked'] {
    return this.data.locked;
  }

  /** A fingerprint (or fingerprint + PIN) match turns into one signing permission. */
  unlock(match: { slot: number; score: number; method?: SigningGrant['method'] }): SigningGrant {
    if (this.data.locked) throw new KeystoreError('HANDSET_LOCKED', `payments are locked (${this.data.locked.reason})`);
    const grant: SigningGrant = Object.freeze({
      slot: match.slot,
      score: match.score,
      method: match.method ?? 'fingerprint',
      expiresAt: this.monotonic() + this.grantTtlMs,
    });
    this.live.add(grant);
    return grant;
  }

  /** Reserves the next counter value; it is on disk before this returns. */
  reserveCounter(): number {
    const next = this.data.counter + 1;
    this.data = { ...this.data, counter: next };
    this.save();
    return next;
  }

  /**
   * Signs an authorisation with a grant from `unlock()` (consumed). The counter must come
   * from `reserveCounter()`; the method comes from the grant.
   */
  signAuthorisation(grant: SigningGrant, fields: Omit<AuthorisationFields, 'deviceId' | 'method'>): Authorisation {
    this.consume(grant);
    if (fields.counter > this.data.counter)
      throw new KeystoreError('COUNTER_NOT_RESERVED', `counter ${fields.counter} was not reserved (at ${this.data.counter})`);
    return signAuthorisation(this.crypto, this.privateKey(), { ...fields, deviceId: this.deviceId, method: grant.method });
  }

  /** The signed registration request (proof of possession of the device key). */
  registrationRequest(fields: Omit<RegistrationFields, 'deviceId' | 'publicKey'>): RegistrationRequest {
    return signRegistration(this.crypto, this.privateKey(), { ...fields, deviceId: this.deviceId, publicKey: this.publicKey });
  }

  /** Keeps the enrolment digests (hashes only; templates stay in the sensor). */
  setEnrolments(list: { slot: number; templateSha256: string }[]): void {
    this.data = { ...this.data, enrolments: list.map((e) => ({ slot: e.slot, templateSha256: e.templateSha256 })) };
    this.save();
  }

  /** Stores the cloud's registration answer: the seed is sealed before it touches the disk. */
  acceptRegistration(res: RegistrationResponse, registeredAt: number): void {
    if (res.status !== 'registered' || !res.paycode || !res.account)
      throw new KeystoreError('REGISTRATION_REJECTED', `registration ${res.status}: ${res.reason ?? 'no pay-code grant'}`);
    const seed = fromBase64Url(res.paycode.seed);
    if (!(seed instanceof Uint8Array) || seed.length !== 32)
      throw new KeystoreError('SEED_INVALID', 'pay-code seed must be 32 bytes');
    this.data = {
      ...this.data,
      registration: { account: res.account, requestId: res.requestId, registeredAt },
      paycode: {
        index: res.paycode.index,
        stepSeconds: res.paycode.stepSeconds,
        seed: seal(this.key, seed, this.deviceId),
        lastUsedStep: this.data.paycode?.lastUsedStep ?? -1,
      },
    };
    this.save();
  }

  /** The clear seed, for one pay code, with a grant (consumed). */
  paycodeSeed(grant: SigningGrant): Uint8Array {
    this.consume(grant);
    const p = this.data.paycode;
    if (!p) throw new KeystoreError('NOT_REGISTERED', 'no pay-code seed: register the handset first');
    return open(this.key, p.seed, this.deviceId);
  }

  /** Remembers the highest pay-code step shown, so the next session never shows the same step again. */
  markPaycodeStep(step: number): void {
    const p = this.data.paycode;
    if (!p || step <= p.lastUsedStep) return;
    this.data = { ...this.data, paycode: { ...p, lastUsedStep: step } };
    this.save();
  }

  lock(reason: string, at: number): void {
    this.data = { ...this.data, locked: { reason, at } };
    this.save();
  }

  /** A host action (after checking the holder). */
  unlockPayments(): void {
    const { locked: _, ...rest } = this.data;
    this.data = rest;
    this.save();
  }

  private consume(grant: SigningGrant): void {
    if (!this.live.has(grant))
      throw new KeystoreError('NOT_UNLOCKED', 'the device key needs a fingerprint match (no valid grant)');
    this.live.delete(grant);
    if (this.monotonic() > grant.expiresAt) throw new KeystoreError('GRANT_EXPIRED', 'the fingerprint match has expired');
    if (this.data.locked) throw new KeystoreError('HANDSET_LOCKED', `payments are locked (${this.data.locked.reason})`);
  }

  private privateKey(): Uint8Array {
    return open(this.key, this.data.privateKey, this.deviceId);
  }

  private save(): void {
    this.storage.write(Buffer.from(`${JSON.stringify(this.data, null, 1)}\n`));
  }
}

function seal(key: Buffer, plain: Uint8Array, aad: string): Sealed {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { iv: toBase64Url(iv), ct: toBase64Url(ct), tag: toBase64Url(c.getAuthTag()) };
}

function open(key: Buffer, s: Sealed, aad: string): Uint8Array {
  try {
    const iv = fromBase64Url(s.iv);
    const ct = fromBase64Url(s.ct);
    const tag = fromBase64Url(s.tag);
    const d = createDecipheriv('aes-256-gcm', key, iv as Uint8Array);
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(tag as Uint8Array);
    return new Uint8Array(Buffer.concat([d.update(ct as Uint8Array), d.final()]));
  } catch (err) {
    throw new KeystoreError('KEYSTORE_SEAL', 'sealed secret does not open (wrong device secret or tampered file)', err);
  }
}
