/**
 * `handset ota --bundle FILE --device hs-ID --broker mqtt://... [--topic-root R] [--chunk-size N]
 *               [--timeout MS] [--client-id cloud-...] [--username U] [--password P]`
 *
 * Pushes a bundle to one handset over MQTT (provision/ota.ts): offer, chunks (QoS 1),
 * done; resends whatever the handset reports missing; a progress bar on stderr. The
 * handset verifies the release signature and every hash before it switches slots. Exit 0
 * when the handset reports `installed` (one JSON line: updateId, slot, version, chunks);
 * OTA_FAILED with the handset's reason, or OTA_TIMEOUT, otherwise. --update-id resumes
 * an earlier push of the same bundle.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ValidationError } from '@handset/device-drivers/core';
import { connectMqtt } from '@handset/host-sdk/mqtt';
import { CLOUD_ID_RE, createTopics, isDeviceId } from '@handset/host-sdk/protocol';
import type { Command } from 'commander';
import { bytesSource, readBundle } from '../../provision/bundle';
import { BundleError, OtaError } from '../../provision/errors';
import { DEFAULT_CHUNK_SIZE, type OtaFaults, pushOta } from '../../provision/ota';
import { byteProgress } from '../../provision/progress';
import type { CliIo } from '../io';
import { trustedKeysFor } from './flash';

export interface OtaCliOptions {
  bundle: string;
  device: string;
  broker: string;
  topicRoot?: string;
  chunkSize?: string;
  timeout?: string;
  clientId?: string;
  username?: string;
  password?: string;
  updateId?: string;
  key?: string;
  repo?: string;
}

function int(name: string, v: string | undefined, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new ValidationError(`--${name} must be an integer from ${min} to ${max}, got '${v}'`, { code: 'CLI_ARG' });
  return Number(v);
}

export async function runOta(o: OtaCliOptions, io: CliIo, faults?: OtaFaults): Promise<Record<string, unknown>> {
  if (!isDeviceId(o.device)) throw new ValidationError(`--device '${o.device}' is not a device id (hs-...)`, { code: 'CLI_ARG' });
  if (!/^mqtts?:\/\/[^\s/]+(:\d+)?\/?$/.test(o.broker))
    throw new ValidationError(`--broker '${o.broker}' must be mqtt://host:port`, { code: 'CLI_ARG' });
  const clientId = o.clientId ?? `cloud-ota-${randomBytes(4).toString('hex')}`;
  if (!CLOUD_ID_RE.test(clientId)) throw new ValidationError(`--client-id '${clientId}' must be cloud-...`, { code: 'CLI_ARG' });
  const chunkSize = int('chunk-size', o.chunkSize, DEFAULT_CHUNK_SIZE, 512, 48 * 1024);
  const timeoutMs = int('timeout', o.timeout, 10_000, 100, 600_000);
  const topics = createTopics(o.topicRoot ?? '');
  let bundle: Uint8Array;
  try {
    bundle = new Uint8Array(await readFile(resolve(o.bundle)));
  } catch (cause) {
    throw new BundleError('BAD_INPUT', `cannot read bundle ${o.bundle}`, { cause });
  }
  // Check it here too, so a wrong file fails fast instead of on the handset.
  const verified = await readBundle(bytesSource(bundle), { trustedKeys: await trustedKeysFor(o.key, o.repo) });
  const client = await connectMqtt(o.broker, { clientId, username: o.username, password: o.password, clean: true }).catch(
    (cause: unknown) => {
      throw new OtaError('BROKER_UNREACHABLE', `cannot connect to ${o.broker} as ${clientId}`, { cause });
    },
  );
  const progress = byteProgress(io, `ota ${o.device}`);
  try {
    const r = await pushOta({
      client,
      topics,
      deviceId: o.device,
      bundle,
      version: verified.manifest.version,
      chunkSize,
      updateId: o.updateId,
      statusTimeoutMs: timeoutMs,
      onProgress: (d, t) => progress.update(d, t),
      faults,
    });
    progress.stop();
    const summary = {
      device: o.device,
      updateId: r.updateId,
      state: r.status.state,
      slot: r.status.slot ?? null,
      version: r.status.version ?? verified.manifest.version,
      chunks: r.chunks,
      chunksSent: r.chunksSent,
      rounds: r.rounds,
    };
    io.out(`${JSON.stringify(summary)}\n`);
    return summary;
  } finally {
    progress.stop();
    await client.endAsync().catch(() => undefined);
  }
}

export function register(program: Command, io: CliIo): void {
  program
    .command('ota')
    .description('push a firmware bundle to a handset over MQTT (chunked, resumable); the handset verifies and switches slots')
    .requiredOption('--bundle <file>', 'bundle made by `handset build`')
    .requiredOption('--device <id>', 'handset id (hs-...)')
    .requiredOption('--broker <url>', 'MQTT broker, mqtt://host:port')
    .option('--topic-root <root>', 'topic root prefix (tests), e.g. test-1/')
    .option('--chunk-size <bytes>', `chunk size, 512..49152 (default ${DEFAULT_CHUNK_SIZE})`)
    .option('--timeout <ms>', 'wait for each handset status before asking again (default 10000)')
    .option('--client-id <id>', 'MQTT client id, cloud-... (default cloud-ota-<random>)')
    .option('--username <u>', 'MQTT username')
    .option('--password <p>', 'MQTT password')
    .option('--update-id <uuid>', 'resume an earlier push of the same bundle')
    .option('--key <file>', 'trusted release key to pre-check the bundle (default: the dev key in .handset/)')
    .option('--repo <dir>', 'repository root for the default key (default: found from the cwd)')
    .action(async (o: OtaCliOptions) => {
      await runOta(o, io);
    });
}
