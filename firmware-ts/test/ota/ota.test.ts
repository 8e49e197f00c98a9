/**
 * End to end over a real broker (the embedded aedes with the protocol's ACL hooks): the
 * host's `handset ota` sender and the handset's OtaAgent on a simulated device root in a
 * temp dir, then the boot-time health check.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type EmbeddedBroker, startEmbeddedBroker } from '@handset/host-sdk/cloud';
import { ed25519PrivateKeyToPem, nodeCrypto } from '@handset/host-sdk/protocol';
import { bytesSource, installBundle, readSlotState } from '@handset/host-sdk/provision';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runOta } from '../../../host-sdk/src/cli/commands/ota';
import { recordingIo } from '../../../host-sdk/src/cli/io';
import { main } from '../../../host-sdk/src/cli/program';
import { OtaError } from '../../../host-sdk/src/provision/errors';
import { KEY, OTHER_KEY, PUB, sampleBundle, sampleFiles, snapshot, tempDir } from '../../../host-sdk/test/provision/helpers';
import { beginBoot, confirmBoot, OtaAgent, runHealthChecked } from '../../src/ota/index';

const ROOT = `ota-${process.pid}-${Date.now().toString(36)}/`;
const DEVICE = 'hs-ota-1';

describe('OTA over MQTT: host sender -> handset agent -> A/B slots -> health check', () => {
  let broker: EmbeddedBroker;
  let t: { dir: string; cleanup: () => Promise<void> };
  let root: string;
  let keyFile: string;
  let device: MqttClient;
  let agent: OtaAgent;

  const writeBundle = async (version: string, seed: number, big: number, key = KEY) => {
    const path = join(t.dir, `fw-${version}.tar`);
    await writeFile(path, sampleBundle(version, seed, big, key).bytes);
    return path;
  };
  const ota = (bundle: string, extra: Record<string, string> = {}) => ({
    bundle,
    device: DEVICE,
    broker: broker.url,
    topicRoot: ROOT,
    chunkSize: '1024',
    timeout: '3000',
    key: keyFile,
    ...extra,
  });

  beforeEach(async () => {
    broker = await startEmbeddedBroker({ root: ROOT });
    t = await tempDir('ota-');
    root = join(t.dir, 'device');
    keyFile = join(t.dir, 'release.key');
    await writeFile(keyFile, ed25519PrivateKeyToPem(KEY));
    // the handset as it left the factory: v1 in slot a, confirmed
    await installBundle(root, bytesSource(sampleBundle('1.0.0', 1, 3000).bytes), { trustedKeys: [PUB] });
    await confirmBoot(root);
    device = await mqtt.connectAsync(broker.url, { clientId: DEVICE, reconnectPeriod: 0 });
    const { createTopics } = await import('@handset/host-sdk/protocol');
    agent = new OtaAgent({ root, deviceId: DEVICE, topics: createTopics(ROOT), client: device, trustedKeys: [PUB] });
    await agent.start();
  });

  afterEach(async () => {
    await agent.stop();
    await device.endAsync();
    await broker.close();
    await t.cleanup();
  });

  it('installs an update into the other slot; the next healthy start confirms it', async () => {
    const io = recordingIo();
    const r = await runOta(ota(await writeBundle('2.0.0', 2, 20_000)), io);
    expect(r).toMatchObject({ state: 'installed', slot: 'b', version: '2.0.0' });
    expect(r.chunksSent).toBe(r.chunks);
    expect(r.chunks).toBeGreaterThan(20);
    expect(io.stderr).toMatch(/ota hs-ota-1: 100% \(\d+\/\d+ bytes/);
    expect(await readlink(join(root, 'current'))).toBe('slots/b');
    expect(await readFile(join(root, 'current/firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 2');\n");
    expect(await readSlotState(root)).toMatchObject({ slot: 'b', confirmed: false, previous: { slot: 'a', version: '1.0.0' } });
    expect(existsSync(join(root, 'slots', 'b.staging'))).toBe(false);

    const { boot } = await runHealthChecked(root, async () => 'started');
    expect(boot).toMatchObject({ slot: 'b', rolledBack: false });
    expect(await readSlotState(root)).toMatchObject({ slot: 'b', version: '2.0.0', confirmed: true, bootCount: 0 });
  });

  it('recovers a lost chunk and ignores a duplicated one', async () => {
    const r = await runOta(ota(await writeBundle('2.0.1', 3, 12_000)), recordingIo(), {
      chunk: (index, _data, attempt) => (index === 3 && attempt === 0 ? 'drop' : index === 5 ? 'dup' : undefined),
    });
    expect(r).toMatchObject({ state: 'installed', slot: 'b', version: '2.0.1' });
    // dropped chunk 3 counts once (its resend), duplicated chunk 5 once: every chunk delivered, none lost
    expect(r.chunksSent).toBe(r.chunks);
    expect(r.rounds).toBe(3); // offer, done (-> missing [3]), done (-> installed)
    const blob = sampleFiles(3, 12_000).find((f) => f.path === 'firmware/blob.bin')!;
    expect(new Uint8Array(await readFile(join(root, 'current/firmware/blob.bin')))).toEqual(blob.data);
  });

  it('resumes an interrupted push with the same update id: only the missing chunks are sent', async () => {
    const bundle = await writeBundle('2.1.0', 4, 15_000);
    const updateId = '0190a3f2-1c2d-7e3f-8a4b-5c6d7e8f9a0b';
    const first = await runOta(ota(bundle, { updateId }), recordingIo(), {
      chunk: (index) => (index >= 10 ? 'drop' : undefined),
    }).catch((e: unknown) => e);
    // the sender keeps asking; the handset keeps answering "missing 10.."; give up after maxRounds
    expect(first).toBeInstanceOf(OtaError);
    expect((first as OtaError).code).toBe('OTA_TIMEOUT');
    expect(await readlink(join(root, 'current'))).toBe('slots/a');
    const second = await runOta(ota(bundle, { updateId }), recordingIo());
    expect(second).toMatchObject({ state: 'installed', slot: 'b' });
    expect(second.chunksSent).toBe((second.chunks as number) - 10);
  }, 60_000);

  it('resumes after a handset restart: the received-chunk bitmap is persisted beside the staging file', async () => {
    const bundle = await writeBundle('2.2.0', 9, 15_000);
    const updateId = '0190a3f2-1c2d-7e3f-8a4b-5c6d7e8f9a0c';
    const first = await runOta(ota(bundle, { updateId }), recordingIo(), {
      chunk: (index) => (index >= 12 ? 'drop' : undefined),
    }).catch((e: unknown) => e);
    expect((first as OtaError).code).toBe('OTA_TIMEOUT');
    expect(existsSync(join(root, 'slots', 'b.staging.json'))).toBe(true);
    // the handset restarts: a new agent (new process) over the same root
    await agent.stop();
    const { createTopics } = await import('@handset/host-sdk/protocol');
    agent = new OtaAgent({ root, deviceId: DEVICE, topics: createTopics(ROOT), client: device, trustedKeys: [PUB] });
    await agent.start();
    const second = await runOta(ota(bundle, { updateId }), recordingIo());
    expect(second).toMatchObject({ state: 'installed', slot: 'b', version: '2.2.0' });
    expect(second.chunksSent).toBe((second.chunks as number) - 12);
    expect(existsSync(join(root, 'slots', 'b.staging'))).toBe(false);
    expect(existsSync(join(root, 'slots', 'b.staging.json'))).toBe(false);
  }, 60_000);

  it('a tampered chunk is refused and nothing switches (transport hash, and a consistent forger: signature/manifest hashes)', async () => {
    const path = await writeBundle('6.6.6', 6, 10_000);
    const good = new Uint8Array(await readFile(path));
    const before = await snapshot(root);
    const flip = (data: Uint8Array) => {
      const d = Uint8Array.from(data);
      d[100]! ^= 0x20;
      return d;
    };
    const e1 = await runOta(ota(path), recordingIo(), { chunk: (i, d) => (i === 4 ? flip(d) : undefined) }).catch(
      (e: unknown) => e,
    );
    expect(e1).toBeInstanceOf(OtaError);
    expect((e1 as OtaError).details?.reason).toBe('HASH_MISMATCH');
    expect(await snapshot(root)).toEqual(before);

    // the forger also rewrites the offer's SHA-256 to match the tampered bytes
    const forged = Uint8Array.from(good);
    forged.set(flip(good.subarray(4 * 1024, 5 * 1024)), 4 * 1024);
    const forgedSha = nodeCrypto.sha256(forged);
    const e2 = await runOta(ota(path), recordingIo(), {
      chunk: (i, d) => (i === 4 ? flip(d) : undefined),
      offer: (o) => ({ ...o, sha256: Buffer.from(forgedSha).toString('hex') }),
    }).catch((e: unknown) => e);
    expect((e2 as OtaError).code).toBe('OTA_FAILED');
    expect(['HASH_MISMATCH', 'BAD_FORMAT', 'BAD_SIGNATURE']).toContain((e2 as OtaError).details?.reason);
    // state.json, current and slot a are as before; slot b may hold a partial copy only if the
    // install got past verification, which it must not: the bundle is checked before any write
    expect(await snapshot(root)).toEqual(before);
  });

  it('a bundle signed by an unknown key is refused by the handset (UNKNOWN_KEY), nothing switches', async () => {
    const before = await snapshot(root);
    const path = await writeBundle('7.0.0', 7, 2000, OTHER_KEY);
    const otherPem = join(t.dir, 'other.key');
    await writeFile(otherPem, ed25519PrivateKeyToPem(OTHER_KEY));
    const io = recordingIo();
    const code = await main(
      [
        'ota',
        '--bundle',
        path,
        '--device',
        DEVICE,
        '--broker',
        broker.url,
        '--topic-root',
        ROOT,
        '--key',
        otherPem,
        '--timeout',
        '3000',
      ],
      io,
    );
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/handset: OTA_FAILED: hs-ota-1 refused update [0-9a-f-]+: UNKNOWN_KEY/);
    expect(await snapshot(root)).toEqual(before);
  });

  it('a failed health check rolls back to the previous slot after N unconfirmed starts', async () => {
    await runOta(ota(await writeBundle('3.0.0', 8, 5000)), recordingIo());
    expect(await readlink(join(root, 'current'))).toBe('slots/b');
    const crash = async () => {
      throw new Error('platform open failed');
    };
    for (let i = 1; i <= 3; i++) {
      await expect(runHealthChecked(root, crash, { maxBoots: 3 })).rejects.toThrow('platform open failed');
      expect(await readSlotState(root)).toMatchObject({ slot: 'b', bootCount: i, confirmed: false });
    }
    const boot = await beginBoot(root, { maxBoots: 3 });
    expect(boot).toMatchObject({ slot: 'a', rolledBack: true });
    expect(await readlink(join(root, 'current'))).toBe('slots/a');
    expect(await readSlotState(root)).toMatchObject({
      slot: 'a',
      version: '1.0.0',
      rolledBackFrom: { slot: 'b', version: '3.0.0' },
    });
    await confirmBoot(root);
    expect(await readSlotState(root)).toMatchObject({ slot: 'a', confirmed: true, bootCount: 0 });
    expect(await readFile(join(root, 'current/firmware/handsetd.js'), 'utf8')).toBe("console.log('handset 1');\n");
  });
});

describe('OTA over Mosquitto (127.0.0.1:1883, a random topic root)', () => {
  it('updates a handset and recovers a lost chunk through the real broker', async () => {
    const { createTopics } = await import('@handset/host-sdk/protocol');
    const root = `ota-mq-${process.pid}-${Date.now().toString(36)}/`;
    const id = `hs-ota-mq-${process.pid}`;
    const t = await tempDir('ota-mq-');
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883', { clientId: id, reconnectPeriod: 0 });
    const dev = new OtaAgent({
      root: join(t.dir, 'device'),
      deviceId: id,
      topics: createTopics(root),
      client,
      trustedKeys: [PUB],
    });
    try {
      await installBundle(join(t.dir, 'device'), bytesSource(sampleBundle('1.0.0', 1).bytes), { trustedKeys: [PUB] });
      await dev.start();
      const key = join(t.dir, 'release.key');
      await writeFile(key, ed25519PrivateKeyToPem(KEY));
      const bundle = join(t.dir, 'fw.tar');
      await writeFile(bundle, sampleBundle('4.0.0', 11, 40_000).bytes);
      const r = await runOta(
        { bundle, device: id, broker: 'mqtt://127.0.0.1:1883', topicRoot: root, chunkSize: '4096', timeout: '3000', key },
        recordingIo(),
        { chunk: (i, _d, attempt) => (i === 2 && attempt === 0 ? 'drop' : undefined) },
      );
      expect(r).toMatchObject({ state: 'installed', slot: 'b', version: '4.0.0', rounds: 3 });
      expect(await readlink(join(t.dir, 'device', 'current'))).toBe('slots/b');
    } finally {
      await dev.stop();
      await client.endAsync();
      await t.cleanup();
    }
  });
});
