/**
 * The handset's OTA agent: receives a bundle in chunks over MQTT, verifies it, installs
 * it into the inactive A/B slot and switches (protocol/ota.ts for the messages,
 * host-sdk/src/provision/slots.ts for the slots, ./boot.ts for the health check that
 * confirms or rolls back on the next start).
 *
 * - Bounded memory: each chunk is written at its offset into the staging file
 *   `ROOT/slots/<inactive>.staging` (pre-sized to the offered size, at most
 *   OTA_MAX_BUNDLE_BYTES); in memory there is one chunk and a bitmap of received indices.
 * - Resumable: an offer with the same updateId and SHA-256 keeps the staging file and
 *   bitmap and answers which chunks are still missing, also after a handset restart
 *   (the bitmap is persisted beside the staging file); duplicates are rewritten in
 *   place (harmless); chunks of another update, out of range or of the wrong length are
 *   dropped (they stay missing).
 * - Trust: after the last chunk the staging file's SHA-256 must equal the offer's, then
 *   `installBundle` checks the release-key signature and every hash BEFORE it writes the
 *   slot; any refusal is reported as `failed` with the error code and nothing switches.
 * - Messages are handled one at a time, in arrival order.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HandsetError } from '@handset/device-drivers/core';
import {
  decodeAnyOtaMessage,
  encodeOtaMessage,
  fromBase64Url,
  OTA_MAX_BUNDLE_BYTES,
  type OtaOffer,
  type OtaStatus,
  otaOfferSchema,
  PROTOCOL_VERSION,
  type Topics,
  toBase64Url,
} from '@handset/host-sdk/protocol';
import { activeSlot, fileSource, installBundle, otherSlot, type SlotName } from '@handset/host-sdk/provision';
import type { MqttClient } from 'mqtt';

const NS = 'firmware:ota';

export interface OtaAgentOptions {
  /** Slot root (slots/a, slots/b, current, state.json). */
  root: string;
  deviceId: string;
  topics: Topics;
  client: MqttClient;
  /** Raw 32-byte release public keys the handset trusts. */
  trustedKeys: readonly Uint8Array[];
  maxBundleBytes?: number;
  now?: () => number;
  /** Diagnostics (never bundle contents). */
  log?: (event: string, fields: Record<string, unknown>) => void;
}

type StatusBody = Omit<OtaStatus, 'v' | 'type' | 'ts'>;

interface Transfer {
  offer: OtaOffer;
  path: string;
  fh: FileHandle;
  have: Uint8Array;
  received: number;
  /** Chunks received since the bitmap was last persisted. */
  sinceSave: number;
}

/** Persist the bitmap after this many new chunks. */
const SAVE_EVERY = 64;

export class OtaAgent {
  private transfer: Transfer | undefined;
  /** Final status per finished update, answered again on a repeated done/offer. */
  private readonly finished = new Map<string, StatusBody>();
  private queue: Promise<void> = Promise.resolve();
  private readonly onMessage = (topic: string, payload: Buffer) => {
    this.queue = this.queue.then(() => this.handle(topic, payload)).catch((err) => this.log('ota.error', { err: String(err) }));
  };

  constructor(private readonly o: OtaAgentOptions) {}

  private log(event: string, fields: Record<string, unknown>): void {
    this.o.log?.(event, { ns: NS, ...fields });
  }

  async start(): Promise<void> {
    await this.restore();
    this.o.client.on('message', this.onMessage);
    const names = ['offer', 'chunk', 'done'];
    await this.o.client.subscribeAsync(
      names.map((n) => this.o.topics.ota(this.o.deviceId, n)),
      { qos: 1 },
    );
  }

  async stop(): Promise<void> {
    this.o.client.off('message', this.onMessage);
    await this.queue;
    await this.transfer?.fh.close().catch(() => undefined);
    this.transfer = undefined;
  }

  /**
   * Persists the received-chunk bitmap next to the staging file (`<staging>.json`), after
   * an fsync of the staging file, so every chunk it marks is on disk: a push resumes
   * across a handset restart; chunks received after the last persist are asked for again.
   */
  private async persist(t: Transfer): Promise<void> {
    await t.fh.sync();
    const tmp = `${t.path}.json.tmp`;
    await writeFile(tmp, JSON.stringify({ offer: t.offer, have: toBase64Url(t.have) }));
    await rename(tmp, `${t.path}.json`);
    t.sinceSave = 0;
  }

  private async discard(t: Transfer): Promise<void> {
    await t.fh.close().catch(() => undefined);
    await rm(t.path, { force: true });
    await rm(`${t.path}.json`, { force: true });
  }

  /** Picks up an unfinished transfer left by an earlier run (see persist). */
  private async restore(): Promise<void> {
    if (this.transfer) return;
    for (const slot of ['a', 'b'] as const) {
      const path = join(this.o.root, 'slots', `${slot}.staging`);
      let saved: { offer?: unknown; have?: unknown };
      try {
        saved = JSON.parse(await readFile(`${path}.json`, 'utf8')) as typeof saved;
      } catch {
        continue;
      }
      const offer = otaOfferSchema.safeParse(saved.offer);
      const have = typeof saved.have === 'string' ? fromBase64Url(saved.have) : undefined;
      const size = await stat(path).then(
        (st) => st.size,
        () => -1,
      );
      if (!offer.success || !(have instanceof Uint8Array) || have.length !== offer.data.chunks || size !== offer.data.size) {
        await rm(path, { force: true });
        await rm(`${path}.json`, { force: true });
        continue;
      }
      const fh = await open(path, 'r+');
      const received = have.reduce((n, b) => n + (b ? 1 : 0), 0);
      this.transfer = { offer: offer.data, path, fh, have, received, sinceSave: 0 };
      this.log('ota.restored', { updateId: offer.data.updateId, received });
      return;
    }
  }

  /** Resolves when every message received so far has been handled (tests). */
  idle(): Promise<void> {
    return this.queue;
  }

  private async report(s: StatusBody): Promise<void> {
    const msg: OtaStatus = { v: PROTOCOL_VERSION, type: 'ota.status', ...s, ts: (this.o.now ?? Date.now)() };
    await this.o.client.publishAsync(
      this.o.topics.otaReport(this.o.deviceId, 'status'),
      Buffer.from(encodeOtaMessage('ota.status', msg)),
      {
        qos: 1,
      },
    );
  }

  private missing(t: Transfer): number[] {
    const out: number[] = [];
    for (let i = 0; i < t.have.length && out.length < 256; i++) if (!t.have[i]) out.push(i);
    return out;
  }

  private async receiving(t: Transfer): Promise<void> {
    await this.report({
      updateId: t.offer.updateId,
      state: 'receiving',
      received: t.received,
      chunks: t.offer.chunks,
      missing: this.missing(t),
      version: t.offer.version,
    });
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    let kind: string;
    try {
      const parsed = this.o.topics.parse(topic);
      if (parsed.kind !== 'ota' || parsed.deviceId !== this.o.deviceId) return;
      kind = parsed.name;
    } catch {
      return;
    }
    let msg: ReturnType<typeof decodeAnyOtaMessage>;
    try {
      msg = decodeAnyOtaMessage(payload);
    } catch (err) {
      this.log('ota.bad_message', { topic, code: err instanceof HandsetError ? err.code : 'INVALID' });
      return;
    }
    if (msg.type === 'ota.offer' && kind === 'offer') return this.onOffer(msg);
    if (msg.type === 'ota.chunk' && kind === 'chunk') return this.onChunk(msg.updateId, msg.index, msg.data);
    if (msg.type === 'ota.done' && kind === 'done') return this.onDone(msg.updateId);
  }

  private async onOffer(offer: OtaOffer): Promise<void> {
    const done = this.finished.get(offer.updateId);
    if (done) return this.report({ ...done });
    const t = this.transfer;
    if (
      t &&
      t.offer.updateId === offer.updateId &&
      t.offer.sha256 === offer.sha256 &&
      t.offer.size === offer.size &&
      t.offer.chunkSize === offer.chunkSize
    )
      return this.receiving(t);
    if (offer.size > (this.o.maxBundleBytes ?? OTA_MAX_BUNDLE_BYTES))
      return this.fail(offer.updateId, offer.chunks, 'TOO_LARGE', offer.version);
    if (t) {
      await this.discard(t);
      this.transfer = undefined;
    }
    const active = await activeSlot(this.o.root);
    const target: SlotName = active ? otherSlot(active) : 'a';
    await mkdir(join(this.o.root, 'slots'), { recursive: true });
    const path = join(this.o.root, 'slots', `${target}.staging`);
    const fh = await open(path, 'w+', 0o600);
    await fh.truncate(offer.size);
    this.transfer = { offer, path, fh, have: new Uint8Array(offer.chunks), received: 0, sinceSave: 0 };
    await this.persist(this.transfer);
    this.log('ota.offer', { updateId: offer.updateId, version: offer.version, size: offer.size });
    return this.receiving(this.transfer);
  }

  private async onChunk(updateId: string, index: number, data: string): Promise<void> {
    const t = this.transfer;
    if (!t || t.offer.updateId !== updateId || index >= t.offer.chunks) return;
    const bytes = fromBase64Url(data);
    const want = Math.min(t.offer.chunkSize, t.offer.size - index * t.offer.chunkSize);
    if (!(bytes instanceof Uint8Array) || bytes.length !== want) {
      this.log('ota.bad_chunk', { updateId, index });
      return;
    }
    await t.fh.write(bytes, 0, bytes.length, index * t.offer.chunkSize);
    if (!t.have[index]) {
      t.have[index] = 1;
      t.received++;
      if (++t.sinceSave >= SAVE_EVERY) await this.persist(t);
    }
  }

  private async fail(updateId: string, chunks: number, reason: string, version?: string): Promise<void> {
    const s: StatusBody = { updateId, state: 'failed', received: 0, chunks, reason, version };
    this.finished.set(updateId, s);
    await this.report(s);
  }

  private async onDone(updateId: string): Promise<void> {
    const done = this.finished.get(updateId);
    if (done) return this.report({ ...done });
    const t = this.transfer;
    if (!t || t.offer.updateId !== updateId) return;
    if (t.received < t.offer.chunks) {
      if (t.sinceSave > 0) await this.persist(t);
      return this.receiving(t);
    }
    await t.fh.sync();
    await t.fh.close();
    this.transfer = undefined;
    let result: StatusBody;
    try {
      const h = createHash('sha256');
      for await (const c of createReadStream(t.path)) h.update(c as Buffer);
      if (h.digest('hex') !== t.offer.sha256)
        throw new HandsetError('HASH_MISMATCH', 'staged bundle differs from the offered SHA-256');
      const src = await fileSource(t.path);
      try {
        const r = await installBundle(this.o.root, src, { trustedKeys: this.o.trustedKeys, now: this.o.now });
        result = {
          updateId,
          state: 'installed',
          received: t.received,
          chunks: t.offer.chunks,
          version: r.manifest.version,
          slot: r.slot,
        };
      } finally {
        await src.close?.();
      }
    } catch (err) {
      const reason = err instanceof HandsetError && /^[A-Z0-9_]{1,40}$/.test(err.code) ? err.code : 'INSTALL_FAILED';
      this.log('ota.refused', { updateId, reason });
      result = { updateId, state: 'failed', received: t.received, chunks: t.offer.chunks, reason, version: t.offer.version };
    } finally {
      await rm(t.path, { force: true });
      await rm(`${t.path}.json`, { force: true });
    }
    this.finished.set(updateId, result);
    await this.report(result);
  }
}
