/**
 * Factory provisioning of one handset's data directory (DESIGN §4 Registration, done at
 * the bench): the device secret, the keystore with the Ed25519 device key, the cloud
 * registration with the enrolment record, the sealed pay-code seed, the handset config.
 *
 * The data directory is exactly what the runtime reads (firmware-ts main.device.ts):
 *
 * | file            | what                                                                |
 * | --------------- | ------------------------------------------------------------------- |
 * | `device.secret` | 32 random bytes, 0600 (the keystore's sealing key is derived from it) |
 * | `keystore.json` | firmware `Keystore`: device key, enrolment digests, sealed seed, 0600 |
 * | `handset.env`   | `HANDSET_DEVICE_ID`, `HANDSET_BROKER_URL` - the systemd unit's EnvironmentFile (/etc/handset/handset.env) |
 *
 * Nothing here re-implements the handset: the key is generated and kept by the firmware's
 * `Keystore`, the request is signed by `Keystore.registrationRequest` (the protocol's
 * canonical signing), template digests come from the firmware's `FingerprintModule.digest`
 * (LoadChar + UpChar of the stored template, SHA-256; the bytes are zeroed there), and the
 * seed is sealed by `Keystore.acceptRegistration`.
 *
 * Order, so that a failure leaves nothing half-done and a rerun always converges:
 * 1. read the existing files (never overwrite a key: an existing keystore is reused, a
 *    keystore for another device or without its secret is refused);
 * 2. read the sensor (every slot's digest) - all before anything is written;
 * 3. ask the cloud: `/health` (broker URL) and the device record; a device the cloud
 *    knows under another key is refused here, nothing written;
 * 4. a NEW key is written (secret, keystore; each atomically: temp, fsync, rename) before
 *    the registration is sent, so a crash after the cloud's commit still has the key;
 *    the request id is derived from (device id, account, public key), so the rerun is a
 *    replay and the cloud answers the same grant;
 * 5. POST /v1/registrations; a refusal removes the files step 4 created;
 * 6. the seed is sealed into the keystore, then the config is written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HandsetError, type HandsetErrorOptions, ValidationError } from '@handset/device-drivers/core';
import type { R307 } from '@handset/device-drivers/r307';
import { parseConfig } from '@handset/firmware/config';
import { Keystore, MemoryKeystoreStorage, writeFileAtomic } from '@handset/firmware/keystore';
import { FingerprintModule } from '@handset/firmware/modules/fingerprint';
import { ACCOUNT_RE, DEVICE_ID_RE } from '../protocol/index';
import { CloudHttpError, type FleetClient, type FleetDevice } from './fleet-client';

const NS = 'provision';

/**
 * | code                  | when                                                                   |
 * | --------------------- | ---------------------------------------------------------------------- |
 * | SECRET_MISSING        | keystore.json exists but device.secret does not (the key cannot open)   |
 * | ACCOUNT_MISMATCH      | the keystore is registered for another account                          |
 * | DEVICE_KEY_MISMATCH   | the cloud knows the device under another public key                     |
 * | NO_ENROLMENT          | the sensor holds no template (or none of `slots`), or neither a port nor --no-fingerprint |
 * | SLOT_EMPTY            | a requested slot holds no template                                      |
 * | REGISTRATION_REJECTED | the cloud refused (`details.reason`: device_exists, unknown_account, ...) |
 * | ENROLMENT_MISMATCH    | a replay, but the cloud's enrolment record differs from the sensor's    |
 * | BROKER_UNKNOWN        | no --broker and the cloud's /health names no broker                     |
 */
export class ProvisionError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: NS, ...options });
  }
}

export const DATA_DIR_FILES = { secret: 'device.secret', keystore: 'keystore.json', config: 'handset.env' } as const;

export interface ProvisionOptions {
  deviceId: string;
  account: string;
  dataDir: string;
  cloud: FleetClient;
  /**
   * The R307 to read the enrolled templates from (an open driver). Without it, `fingerprint:
   * false` must be given: the directory gets its key and config but no registration (the
   * wire contract needs at least one enrolled slot; the handset registers itself after its
   * first enrolment).
   */
  r307?: R307;
  fingerprint?: boolean;
  /** Slots to register; default every occupied slot of the sensor. */
  slots?: number[];
  /** Broker URL for the config; default the cloud's `/health` `broker`. */
  brokerUrl?: string;
  now?: () => number;
}

export interface ProvisionResult {
  deviceId: string;
  account: string;
  dataDir: string;
  publicKey: string;
  /** True when this run generated the device key. */
  keyCreated: boolean;
  /** `registered` (new), `replayed` (the cloud already had this device and key), `skipped` (--no-fingerprint). */
  registration: 'registered' | 'replayed' | 'skipped';
  enrolments: { slot: number; templateSha256: string }[];
  paycodeIndex?: string;
  brokerUrl: string;
  files: string[];
}

/** Provisions `dataDir` for `deviceId`; see the module comment for the order of steps. */
export async function provisionHandset(o: ProvisionOptions): Promise<ProvisionResult> {
  if (!DEVICE_ID_RE.test(o.deviceId)) throw new ValidationError(`device id '${o.deviceId}' must be hs- + 1-61 of [A-Za-z0-9_-]`);
  if (!ACCOUNT_RE.test(o.account)) throw new ValidationError(`account '${o.account}' must match [A-Za-z0-9][A-Za-z0-9_-]{0,63}`);
  const fingerprint = o.fingerprint ?? true;
  if (fingerprint && !o.r307)
    throw new ProvisionError('NO_ENROLMENT', 'no sensor to read the enrolled templates from: give --port, or --no-fingerprint');
  const now = o.now ?? Date.now;
  const dir = resolve(o.dataDir);
  const paths = {
    secret: join(dir, DATA_DIR_FILES.secret),
    keystore: join(dir, DATA_DIR_FILES.keystore),
    config: join(dir, DATA_DIR_FILES.config),
  };

  // 1. existing files
  const oldSecret = readIfExists(paths.secret);
  const oldKeystore = readIfExists(paths.keystore);
  if (oldKeystore && !oldSecret)
    throw new ProvisionError(
      'SECRET_MISSING',
      `${paths.keystore} exists but ${paths.secret} does not: the device key cannot be opened`,
    );
  if (oldSecret && oldSecret.length !== 32)
    throw new ProvisionError('SECRET_INVALID', `${paths.secret} must hold 32 bytes (has ${oldSecret.length})`);
  const secret = oldSecret ?? new Uint8Array(randomBytes(32));
  const storage = new MemoryKeystoreStorage();
  storage.bytes = oldKeystore;
  const keystore = Keystore.open({ deviceId: o.deviceId, storage, deviceSecret: secret });
  const keyCreated = !oldKeystore;
  const previous = keystore.registration;
  if (previous && previous.account !== o.account)
    throw new ProvisionError(
      'ACCOUNT_MISMATCH',
      `${paths.keystore} is registered for account '${previous.account}', not '${o.account}'`,
    );

  // 2. the sensor
  const enrolments = fingerprint && o.r307 ? await readEnrolments(o.r307, keystore, o.slots) : [];

  // 3. the cloud
  let brokerUrl = o.brokerUrl;
  const health = await o.cloud.health();
  brokerUrl ??= health.broker;
  if (!brokerUrl) throw new ProvisionError('BROKER_UNKNOWN', `the cloud at ${o.cloud.baseUrl} names no broker; give --broker`);
  const configText = handsetEnv(parseConfig({ deviceId: o.deviceId, dataDir: dir, brokerUrl }));
  const known = fingerprint ? await o.cloud.findDevice(o.deviceId) : undefined;
  if (known && known.publicKey !== keystore.publicKey)
    throw new ProvisionError(
      'DEVICE_KEY_MISMATCH',
      `the cloud already has ${o.deviceId} with another device key (registered ${new Date(known.registeredAt).toISOString()}); ` +
        `this data directory ${keyCreated ? 'had no key' : 'holds a different key'} - nothing written`,
      { details: { registeredAt: known.registeredAt } },
    );

  // 4. a new key reaches the disk before the cloud hears of it
  const created: string[] = [];
  const files: string[] = [];
  if (!oldSecret) {
    writeFileAtomic(paths.secret, secret);
    created.push(paths.secret);
  }
  if (enrolments.length) keystore.setEnrolments(enrolments);
  if (keyCreated) {
    writeFileAtomic(paths.keystore, storage.bytes ?? new Uint8Array());
    created.push(paths.keystore);
  }

  // 5. registration
  let registration: ProvisionResult['registration'] = 'skipped';
  if (enrolments.length) {
    const requestId = previous?.requestId ?? provisionRequestId(o.deviceId, o.account, keystore.publicKey);
    const req = keystore.registrationRequest({ requestId, account: o.account, slots: enrolments, ts: now() });
    let res: Awaited<ReturnType<FleetClient['register']>>;
    try {
      res = await o.cloud.register(req);
    } catch (err) {
      // refused or never delivered: the cloud did not register this key; an unknown outcome
      // (timeout, 5xx) keeps the key so the rerun replays
      if (err instanceof CloudHttpError && (err.code === 'CLOUD_BAD_REQUEST' || /ECONNREFUSED|ENOTFOUND/.test(err.message)))
        removeAll(created);
      throw err;
    }
    if (res.status !== 'registered') {
      removeAll(created);
      throw new ProvisionError(
        'REGISTRATION_REJECTED',
        `the cloud refused to register ${o.deviceId}: ${res.reason ?? 'no reason'}`,
        {
          details: { reason: res.reason },
        },
      );
    }
    const device = await o.cloud.getDevice(o.deviceId);
    if (!sameEnrolments(device, enrolments))
      throw new ProvisionError(
        'ENROLMENT_MISMATCH',
        `the cloud registered ${o.deviceId} with slots ${slotList(device.enrolments ?? [])}, the sensor holds ${slotList(enrolments)}; ` +
          'the cloud has no re-enrolment call - lock the device and provision a new id',
      );
    registration = known ? 'replayed' : 'registered';
    keystore.acceptRegistration(res, now());
  }

  // 6. keystore (with the sealed seed), then the config
  if (!keyCreated || registration !== 'skipped') writeFileAtomic(paths.keystore, storage.bytes ?? new Uint8Array());
  writeFileAtomic(paths.config, Buffer.from(configText));
  files.push(paths.secret, paths.keystore, paths.config);
  return {
    deviceId: o.deviceId,
    account: o.account,
    dataDir: dir,
    publicKey: keystore.publicKey,
    keyCreated,
    registration,
    enrolments: [...keystore.enrolments],
    paycodeIndex: keystore.paycode?.index,
    brokerUrl,
    files,
  };
}

/** Digests of the stored templates: every occupied slot, or `slots` (each must be occupied). */
async function readEnrolments(
  r307: R307,
  keystore: Keystore,
  slots: number[] | undefined,
): Promise<{ slot: number; templateSha256: string }[]> {
  const occupied = await r307.listTemplates();
  const wanted = slots ?? occupied;
  for (const s of wanted)
    if (!occupied.includes(s))
      throw new ProvisionError(
        'SLOT_EMPTY',
        `slot ${s} of the sensor holds no template (occupied: ${slotList(occupied.map((slot) => ({ slot })))})`,
      );
  if (wanted.length === 0)
    throw new ProvisionError('NO_ENROLMENT', 'the sensor holds no template: enrol a finger first (handset enroll)');
  if (wanted.length > 16)
    throw new ProvisionError('NO_ENROLMENT', `at most 16 slots can be registered (got ${wanted.length}); pick them with --slots`);
  const fp = new FingerprintModule({ r307, keystore });
  const out: { slot: number; templateSha256: string }[] = [];
  for (const slot of [...wanted].sort((a, b) => a - b)) out.push({ slot, templateSha256: await fp.digest(slot) });
  return out;
}

/**
 * The registration's request id for a provisioning run: a UUID (version 8) from
 * SHA-256(device id, account, public key), so every run with the same key is the same
 * request and the cloud replays its grant.
 */
export function provisionRequestId(deviceId: string, account: string, publicKey: string): string {
  const h = createHash('sha256').update(`handset/v1/provision\0${deviceId}\0${account}\0${publicKey}`).digest();
  h[6] = 0x80 | ((h[6] ?? 0) & 0x0f);
  h[8] = 0x80 | ((h[8] ?? 0) & 0x3f);
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** The config as the systemd unit's EnvironmentFile reads it. */
function handsetEnv(c: { deviceId: string; brokerUrl: string }): string {
  return (
    '# handset runtime config, written by `handset provision`; install as /etc/handset/handset.env\n' +
    `HANDSET_DEVICE_ID=${c.deviceId}\nHANDSET_BROKER_URL=${c.brokerUrl}\n`
  );
}

function sameEnrolments(d: FleetDevice, local: { slot: number; templateSha256: string }[]): boolean {
  const key = (l: { slot: number; templateSha256: string }[]) =>
    [...l]
      .sort((a, b) => a.slot - b.slot)
      .map((e) => `${e.slot}:${e.templateSha256}`)
      .join(',');
  return key(d.enrolments ?? []) === key(local);
}

function slotList(l: { slot: number }[]): string {
  return l.length ? l.map((e) => e.slot).join(',') : '(none)';
}

function readIfExists(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ProvisionError('DATA_DIR_IO', `cannot read ${path}`, { cause: err });
  }
}

function removeAll(paths: string[]): void {
  for (const p of paths) rmSync(p, { force: true });
}
