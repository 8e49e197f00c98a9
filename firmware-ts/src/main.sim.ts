/**
 * Composition root of the SIMULATED handset (STYLE habit 12): a sim platform, the
 * keystore, the uplink with its outbox, and the chain - nothing else. Tests, the HIL
 * sim target, `handset demo` and `handset run` start handsets through this.
 *
 * Storage: `dataDir` -> keystore.json + device.secret (0600) + outbox.sqlite (WAL) +
 * password.json (PIN record, failures, lock; 0600), or `stores` for in-memory ones.
 *
 * PIN step-up: a `PasswordModule` on the platform's simulated PIN pad (scrypt record,
 * masked `pin` screens through the ScreenPresenter, 3 wrong PINs lock) is the chain's
 * `PinStepUp`. A handset whose store has no PIN yet is provisioned with `SIM_DEMO_PIN`
 * (or `pin.provision`). Pass the same stores (and `r307Store`) again to "reboot"
 * the same handset after `crash()`.
 */
import { join } from 'node:path';
import { type Clock, systemClock } from '@handset/device-drivers/core';
import { MemoryR307Store, type R307Store } from '@handset/device-drivers/r307';
import { HandsetChain, type PinStepUp } from './chain';
import { type HandsetConfig, parseConfig } from './config/index';
import { FileKeystoreStorage, Keystore, type KeystoreStorage, loadDeviceSecret, MemoryKeystoreStorage } from './keystore/index';
import { FileLockStore, type LockStore, MemoryLockStore, PasswordModule, type PinVerifier } from './modules/password/index';
import { createSimPlatform, type SimPlatform, type SimPlatformOptions } from './platform';
import { MemoryOutboxStore, type OutboxStore, SqliteOutboxStore, Uplink, type UplinkOptions } from './uplink/index';

export interface SimHandsetStores {
  keystore: KeystoreStorage;
  deviceSecret: Uint8Array;
  outbox: OutboxStore;
  r307: R307Store;
  /** The password module's state (PIN record, failure count, lock). */
  password: LockStore;
}

/**
 * The PIN a simulated handset is provisioned with when its password store has none (the
 * demo handset of `handset run` / `handset demo` and the HIL scenarios). Demo only.
 */
export const SIM_DEMO_PIN = '2468';

/** Fresh in-memory stores (a handset that forgets everything when the process ends). */
export function memoryStores(): SimHandsetStores {
  return {
    keystore: new MemoryKeystoreStorage(),
    deviceSecret: crypto.getRandomValues(new Uint8Array(32)),
    outbox: new MemoryOutboxStore(),
    r307: new MemoryR307Store(),
    password: new MemoryLockStore(),
  };
}

/** File stores under `dir` (keystore.json, device.secret, outbox.sqlite, password.json; the sensor flash stays in memory). */
export function fileStores(dir: string, r307: R307Store = new MemoryR307Store()): SimHandsetStores {
  return {
    keystore: new FileKeystoreStorage(join(dir, 'keystore.json')),
    deviceSecret: loadDeviceSecret(join(dir, 'device.secret')),
    outbox: new SqliteOutboxStore(join(dir, 'outbox.sqlite')),
    r307,
    password: new FileLockStore(join(dir, 'password.json')),
  };
}

export interface SimHandsetOptions {
  config: Partial<HandsetConfig> & Pick<HandsetConfig, 'deviceId' | 'brokerUrl'>;
  stores?: SimHandsetStores;
  /** Runtime clock (timestamps, result waits, pay-code session). Default the system clock. */
  clock?: Clock;
  platform?: Omit<SimPlatformOptions, 'r307Store'>;
  /** Wait this long for the first CONNACK (default: until connected). */
  connectWaitMs?: number;
  uplink?: Pick<UplinkOptions, 'backoff' | 'duplicatePublishes' | 'mqtt'>;
  /**
   * PIN step-up. Default: a `PasswordModule` on the simulated PIN pad with
   * `stores.password`; `false` = no PIN pad (payments that need a PIN are declined
   * PIN_REQUIRED_UNAVAILABLE); or any `PinStepUp`.
   */
  pin?: PinStepUp | false;
  /** Options of the default password module. */
  password?: {
    /** PIN provisioned when the store has none (default `SIM_DEMO_PIN`). */
    provision?: string;
    verifier?: PinVerifier;
    timeoutMs?: number;
    idleTimeoutMs?: number;
  };
}

export interface SimHandset {
  platform: SimPlatform;
  keystore: Keystore;
  uplink: Uplink;
  chain: HandsetChain;
  /** The default PIN step-up (absent when `pin` was given or false). */
  password?: PasswordModule;
  config: HandsetConfig;
  stores: SimHandsetStores;
  /** Clean shutdown (DISCONNECT, stores closed). */
  stop(): Promise<void>;
  /** The process dies: no DISCONNECT, nothing else runs; the stores keep what was written. */
  crash(): Promise<void>;
}

export async function startSimHandset(o: SimHandsetOptions): Promise<SimHandset> {
  const stores = o.stores ?? memoryStores();
  const config = parseConfig({ dataDir: ':memory:', ...o.config });
  const clock = o.clock ?? systemClock;
  const platform = await createSimPlatform({ ...o.platform, r307Store: stores.r307 });
  await platform.open();
  const keystore = Keystore.open({ deviceId: config.deviceId, storage: stores.keystore, deviceSecret: stores.deviceSecret });
  const uplink = new Uplink({
    url: config.brokerUrl,
    deviceId: config.deviceId,
    root: config.topicRoot,
    outbox: stores.outbox,
    clock,
    resendMs: config.resendMs,
    ...o.uplink,
  });
  let password: PasswordModule | undefined;
  let chainRef: HandsetChain | undefined;
  if (o.pin === undefined) {
    const p = o.password ?? {};
    password = new PasswordModule({
      pinpad: platform.pinpad,
      lockStore: stores.password,
      ...(p.verifier ? { verifier: p.verifier } : {}),
      ...(p.timeoutMs ? { timeoutMs: p.timeoutMs } : {}),
      ...(p.idleTimeoutMs ? { idleTimeoutMs: p.idleTimeoutMs } : {}),
      clock: platform.pinpad.clock,
      // the masked PIN screens go through the chain's `screen` event too (the holder, the page)
      show: (screen) => {
        chainRef?.emit('screen', screen);
        return platform.presenter.show(screen);
      },
    });
    if (!(await password.status()).pinSet) await password.setPin(p.provision ?? SIM_DEMO_PIN);
  }
  const pin = o.pin === false ? undefined : (o.pin ?? password);
  const chain = new HandsetChain({ platform, keystore, uplink, config, clock, pin });
  chainRef = chain;
  await uplink.start(o.connectWaitMs);
  await chain.showIdle();
  let done = false;
  return {
    platform,
    keystore,
    uplink,
    chain,
    password,
    config,
    stores,
    async stop() {
      if (done) return;
      done = true;
      chain.dispose();
      await uplink.stop();
      await platform.close();
      await stores.outbox.close();
    },
    async crash() {
      if (done) return;
      done = true;
      uplink.crash();
      chain.dispose();
      await platform.close();
    },
  };
}
