/**
 * Composition root of the SIMULATED handset (STYLE habit 12): a sim platform, the
 * keystore, the uplink with its outbox, and the chain - nothing else. Tests, the HIL
 * sim target, `handset demo` and `handset run` start handsets through this.
 *
 * Storage: `dataDir` -> keystore.json + device.secret (0600) + outbox.sqlite (WAL), or
 * `stores` for in-memory ones. Pass the same stores (and `r307Store`) again to "reboot"
 * the same handset after `crash()`.
 */
import { join } from 'node:path';
import { type Clock, systemClock } from '@handset/device-drivers/core';
import { MemoryR307Store, type R307Store } from '@handset/device-drivers/r307';
import { HandsetChain, type PinStepUp } from './chain';
import { type HandsetConfig, parseConfig } from './config/index';
import { FileKeystoreStorage, Keystore, type KeystoreStorage, loadDeviceSecret, MemoryKeystoreStorage } from './keystore/index';
import { createSimPlatform, type SimPlatform, type SimPlatformOptions } from './platform';
import { MemoryOutboxStore, type OutboxStore, SqliteOutboxStore, Uplink, type UplinkOptions } from './uplink/index';

export interface SimHandsetStores {
  keystore: KeystoreStorage;
  deviceSecret: Uint8Array;
  outbox: OutboxStore;
  r307: R307Store;
}

/** Fresh in-memory stores (a handset that forgets everything when the process ends). */
export function memoryStores(): SimHandsetStores {
  return {
    keystore: new MemoryKeystoreStorage(),
    deviceSecret: crypto.getRandomValues(new Uint8Array(32)),
    outbox: new MemoryOutboxStore(),
    r307: new MemoryR307Store(),
  };
}

/** File stores under `dir` (keystore.json, device.secret, outbox.sqlite; the sensor flash stays in memory). */
export function fileStores(dir: string, r307: R307Store = new MemoryR307Store()): SimHandsetStores {
  return {
    keystore: new FileKeystoreStorage(join(dir, 'keystore.json')),
    deviceSecret: loadDeviceSecret(join(dir, 'device.secret')),
    outbox: new SqliteOutboxStore(join(dir, 'outbox.sqlite')),
    r307,
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
  pin?: PinStepUp;
}

export interface SimHandset {
  platform: SimPlatform;
  keystore: Keystore;
  uplink: Uplink;
  chain: HandsetChain;
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
  const chain = new HandsetChain({ platform, keystore, uplink, config, clock, pin: o.pin });
  await uplink.start(o.connectWaitMs);
  await chain.showIdle();
  let done = false;
  return {
    platform,
    keystore,
    uplink,
    chain,
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
