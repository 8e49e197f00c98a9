/**
 * The sending side of an over-the-air update (`handset ota`): one bundle, in chunks, on
 * `handset/v1/{deviceId}/ota/{offer,chunk,done}` (QoS 1), answered by the handset on
 * `ota-report/status` (protocol/ota.ts). The handset verifies everything itself; this
 * side only delivers and resumes:
 *
 *   offer  -> status receiving (received, missing)      also how an interrupted push resumes
 *   chunks (all, or only the missing ones)  -> done
 *   done   -> status receiving + missing  => send those, done again
 *          -> status installed            => success (the slot switches; the next start confirms)
 *          -> status failed + reason      => OtaError OTA_FAILED (nothing switched on the handset)
 *
 * Each wait for a status has a timeout; on timeout the last request (offer or done) is
 * sent again, up to `maxRounds` times in all. Fault hooks let tests drop, duplicate or
 * alter chunks on the wire.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  decodeOtaMessage,
  encodeOtaMessage,
  OTA_MAX_CHUNK_BYTES,
  type OtaOffer,
  type OtaStatus,
  PROTOCOL_VERSION,
  type Topics,
  toBase64Url,
} from '@handset/host-sdk/protocol';
import type { MqttClient } from 'mqtt';
import { OtaError } from './errors';

export const DEFAULT_CHUNK_SIZE = 32 * 1024;

export interface OtaFaults {
  /** Per chunk send: 'drop' (not sent), 'dup' (sent twice), bytes (sent instead), undefined (normal). */
  chunk?(index: number, data: Uint8Array, attempt: number): 'drop' | 'dup' | Uint8Array | undefined;
  /** Rewrites the offer before it is sent (a tampering sender). */
  offer?(offer: OtaOffer): OtaOffer;
}

export interface PushOtaOptions {
  client: MqttClient;
  topics: Topics;
  deviceId: string;
  bundle: Uint8Array;
  version: string;
  chunkSize?: number;
  /** Same id = resume an earlier push of the same bundle. Default: a fresh UUID. */
  updateId?: string;
  /** Wait for each status. Default 10 s. */
  statusTimeoutMs?: number;
  /** Offers + dones in all before giving up. Default 20. */
  maxRounds?: number;
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  onStatus?: (status: OtaStatus) => void;
  faults?: OtaFaults;
  now?: () => number;
}

export interface PushOtaResult {
  updateId: string;
  status: OtaStatus;
  chunks: number;
  chunksSent: number;
  rounds: number;
}

export async function pushOta(o: PushOtaOptions): Promise<PushOtaResult> {
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 512 || chunkSize > OTA_MAX_CHUNK_BYTES)
    throw new OtaError('OTA_REFUSED', `chunk size must be 512..${OTA_MAX_CHUNK_BYTES} bytes`);
  const now = o.now ?? Date.now;
  const updateId = o.updateId ?? randomUUID();
  const chunks = Math.ceil(o.bundle.length / chunkSize);
  const statusTopic = o.topics.otaReport(o.deviceId, 'status');
  const timeoutMs = o.statusTimeoutMs ?? 10_000;
  const maxRounds = o.maxRounds ?? 20;

  let offer: OtaOffer = {
    v: PROTOCOL_VERSION,
    type: 'ota.offer',
    updateId,
    version: o.version,
    size: o.bundle.length,
    chunkSize,
    chunks,
    sha256: createHash('sha256').update(o.bundle).digest('hex'),
    ts: now(),
  };
  if (o.faults?.offer) offer = o.faults.offer(offer);

  const waiting: ((s: OtaStatus) => void)[] = [];
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic !== statusTopic) return;
    let s: OtaStatus;
    try {
      s = decodeOtaMessage('ota.status', payload);
    } catch {
      return;
    }
    if (s.updateId !== updateId) return;
    o.onStatus?.(s);
    waiting.shift()?.(s);
  };
  const nextStatus = () =>
    new Promise<OtaStatus | undefined>((resolve) => {
      const timer = setTimeout(() => {
        const i = waiting.indexOf(done);
        if (i >= 0) waiting.splice(i, 1);
        resolve(undefined);
      }, timeoutMs);
      const done = (s: OtaStatus) => {
        clearTimeout(timer);
        resolve(s);
      };
      waiting.push(done);
    });

  o.client.on('message', onMessage);
  const publish = (name: string, bytes: Uint8Array) =>
    o.client.publishAsync(o.topics.ota(o.deviceId, name), Buffer.from(bytes), { qos: 1 });
  let chunksSent = 0;
  let sentBytes = 0;
  const attempts = new Map<number, number>();
  const sendChunk = async (index: number) => {
    const start = index * chunkSize;
    let data = o.bundle.subarray(start, Math.min(o.bundle.length, start + chunkSize));
    const attempt = attempts.get(index) ?? 0;
    attempts.set(index, attempt + 1);
    const fault = o.faults?.chunk?.(index, data, attempt);
    if (fault instanceof Uint8Array) data = fault;
    if (fault !== 'drop') {
      const msg = encodeOtaMessage('ota.chunk', {
        v: PROTOCOL_VERSION,
        type: 'ota.chunk',
        updateId,
        index,
        data: toBase64Url(data),
      });
      await publish('chunk', msg);
      if (fault === 'dup') await publish('chunk', msg);
      chunksSent++;
    }
    sentBytes = Math.min(o.bundle.length, sentBytes + data.length);
    o.onProgress?.(sentBytes, o.bundle.length);
  };

  try {
    await o.client.subscribeAsync(statusTopic, { qos: 1 });
    let rounds = 0;
    let request: 'offer' | 'done' = 'offer';
    for (;;) {
      if (rounds >= maxRounds)
        throw new OtaError('OTA_TIMEOUT', `no final status from ${o.deviceId} after ${rounds} rounds`, {
          details: { updateId, deviceId: o.deviceId },
        });
      rounds++;
      const answer = nextStatus();
      if (request === 'offer') await publish('offer', encodeOtaMessage('ota.offer', offer));
      else await publish('done', encodeOtaMessage('ota.done', { v: PROTOCOL_VERSION, type: 'ota.done', updateId }));
      const s = await answer;
      if (!s) continue; // timed out: ask again
      if (s.state === 'installed') return { updateId, status: s, chunks, chunksSent, rounds };
      if (s.state === 'failed')
        throw new OtaError('OTA_FAILED', `${o.deviceId} refused update ${updateId}: ${s.reason}`, {
          details: { updateId, reason: s.reason, deviceId: o.deviceId },
        });
      if (s.state === 'receiving') {
        const todo =
          s.received === 0 && request === 'offer'
            ? Array.from({ length: chunks }, (_, i) => i)
            : s.missing && s.missing.length > 0
              ? s.missing
              : s.received < chunks && request === 'offer'
                ? Array.from({ length: chunks }, (_, i) => i)
                : [];
        if (request === 'offer' && s.received > 0) sentBytes = Math.min(o.bundle.length, s.received * chunkSize);
        for (const i of todo) if (i < chunks) await sendChunk(i);
        request = 'done';
      }
      // verifying: wait for the next status by asking again
    }
  } finally {
    o.client.off('message', onMessage);
    await o.client.unsubscribeAsync(statusTopic).catch(() => undefined);
  }
}
