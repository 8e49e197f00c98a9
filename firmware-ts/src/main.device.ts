/**
 * Composition root of the REAL handset (Raspberry Pi 4/5): board description -> device
 * platform, keystore + outbox files under the data directory, uplink, chain. It wires
 * and starts; the flows are triggered by the holder (touch line, buttons) through the
 * chain. Run: `node firmware-ts/dist/main.device.js` with HANDSET_DEVICE_ID,
 * HANDSET_BROKER_URL, HANDSET_DATA_DIR (default /var/lib/handset) and HANDSET_BOARD.
 */
import { join } from 'node:path';
import { loadBoard, type SbcModelId } from '@handset/schematics';
import { HandsetChain } from './chain';
import { parseConfig } from './config/index';
import { FileKeystoreStorage, Keystore, loadDeviceSecret } from './keystore/index';
import { createDevicePlatform } from './platform';
import { SqliteOutboxStore, Uplink } from './uplink/index';

/* v8 ignore start -- real-hardware entry point */
export async function startDeviceHandset(env: NodeJS.ProcessEnv = process.env) {
  const config = parseConfig({
    deviceId: env.HANDSET_DEVICE_ID ?? '',
    brokerUrl: env.HANDSET_BROKER_URL ?? '',
    dataDir: env.HANDSET_DATA_DIR ?? '/var/lib/handset',
  });
  const board = await loadBoard(env.HANDSET_BOARD);
  const platform = await createDevicePlatform(board, { model: (env.HANDSET_MODEL ?? 'pi4') as SbcModelId });
  await platform.open();
  const keystore = Keystore.open({
    deviceId: config.deviceId,
    storage: new FileKeystoreStorage(join(config.dataDir, 'keystore.json')),
    deviceSecret: loadDeviceSecret(env.HANDSET_DEVICE_SECRET ?? join(config.dataDir, 'device.secret')),
  });
  const outbox = new SqliteOutboxStore(join(config.dataDir, 'outbox.sqlite'));
  const uplink = new Uplink({
    url: config.brokerUrl,
    deviceId: config.deviceId,
    root: config.topicRoot,
    outbox,
    resendMs: config.resendMs,
  });
  const chain = new HandsetChain({ platform, keystore, uplink, config });
  await uplink.start(5_000);
  await chain.showIdle();
  return {
    chain,
    async stop() {
      chain.dispose();
      await uplink.stop();
      await platform.close();
      await outbox.close();
    },
  };
}
/* v8 ignore stop */
