import { createHash } from 'node:crypto';
import type { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { type BackoffOptions, connectMqtt } from '../../mqtt/index';
import {
  createTopics,
  decodeMessage,
  encodeMessage,
  type MerchantOrder,
  type ParsedTopic,
  type RegistrationResponse,
  type Topics,
} from '../../protocol/index';
import type { AuthInput, ChargeInput, CloudCenter, Outcome } from '../center';
import type { Decider } from '../decision-thread';
import { type CloudLogger, silentLogger } from '../log';

/**
 * The in-process path to an embedded aedes broker: the cloud subscribes and publishes
 * inside the broker (QoS 1 to the devices), with no TCP client of its own - half the
 * packet work per payment compared to connecting to itself.
 */
export interface AedesLink {
  aedes: Aedes;
}

export interface IngestOptions {
  center: CloudCenter;
  /**
   * Decides the payment batches (authorisations and charges) instead of `center`: a
   * `DecisionThread`, so the stores' work stays off the event loop. Default `center`.
   */
  decider?: Decider;
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. Ignored when `aedes` is given. */
  url?: string;
  /** Embedded broker to attach to in-process instead of connecting over TCP. */
  embedded?: AedesLink;
  /** Client id = MQTT username = ACL identity: `cloud` or `cloud-<n>`. Default `cloud`. */
  clientId?: string;
  password?: string;
  /** Topic root prefix (tests on a shared broker). Default ''. */
  root?: string;
  /**
   * Subscribe with MQTT 5 shared subscriptions `$share/cloud/...` so N workers split the
   * load (Mosquitto >= 1.6, EMQX). Needs protocolVersion 5. aedes: false.
   */
  shared?: boolean;
  /** Default 5 when shared, else 4 (aedes speaks 3.1.1). */
  protocolVersion?: 4 | 5;
  /** Most messages decided in one batch. Default 256. */
  maxBatch?: number;
  /**
   * Batches decided at the same time (default 4): while one waits for its ledger fsync
   * the next runs its registry claim, so disk waits overlap. Decisions stay consistent:
   * claims are serialised per device inside the store.
   */
  concurrency?: number;
  backoff?: BackoffOptions;
  logger?: CloudLogger;
}

interface Incoming {
  raw: string;
  topic: ParsedTopic;
  payload: Buffer;
  receivedAt: number;
}

/** Who sent a message, as far as ordering goes: its device, or its merchant. */
function senderOf(t: ParsedTopic): string {
  return 'deviceId' in t ? `d:${t.deviceId}` : `m:${t.merchantId}`;
}

/** First 16 hex digits of the payload's SHA-256: names a rejected message in the log without its content. */
export function payloadDigest(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('hex').slice(0, 16);
}

/**
 * MQTT ingest: subscribes (QoS 1) to the handset and merchant topics, decides what
 * arrived in one event-loop turn as one batch (one registry claim, one ledger commit,
 * one finalise), and publishes each result to `handset/v1/{deviceId}/result` and
 * `merchant/v1/{merchantId}/results`.
 *
 * Delivery: QoS 1 is at-least-once and the broker is not a durable queue; the handset's
 * outbox resends an unanswered payment with the same payment id, and every duplicate
 * gets the first outcome again. Nothing here relies on exactly-once delivery.
 */
export class CloudIngest {
  readonly topics: Topics;
  readonly stats = { received: 0, rejected: 0, results: 0, batches: 0, maxBatch: 0, errors: 0 };
  client: MqttClient | undefined;
  private queue: Incoming[] = [];
  /** Senders (`d:<deviceId>`, `m:<merchantId>`) with a message in a batch being decided. */
  private readonly busy = new Set<string>();
  private inflight = 0;
  private scheduled = false;
  private waiters: Array<() => void> = [];
  private readonly log: CloudLogger;
  private readonly maxBatch: number;
  private readonly concurrency: number;

  constructor(private readonly o: IngestOptions) {
    this.topics = createTopics(o.root ?? '');
    this.log = o.logger ?? silentLogger;
    this.maxBatch = o.maxBatch ?? 256;
    this.concurrency = o.concurrency ?? 4;
  }

  private aedesSubs: Array<{ topic: string; fn: (p: { topic: string; payload: unknown }, cb: () => void) => void }> = [];

  async start(): Promise<void> {
    if (this.o.embedded) return this.startEmbedded(this.o.embedded.aedes);
    const shared = this.o.shared ?? false;
    const clientId = this.o.clientId ?? 'cloud';
    if (!this.o.url) throw new Error('CloudIngest needs a broker url or an embedded broker');
    const client = await connectMqtt(this.o.url, {
      clientId,
      username: clientId,
      password: this.o.password,
      clean: true,
      protocolVersion: this.o.protocolVersion ?? (shared ? 5 : 4),
      keepalive: 30,
      backoff: this.o.backoff,
    });
    this.client = client;
    const filters = this.topics
      .cloudSubscriptions({ shared })
      .filter((f) => /\/(register|auth|orders|charges)$/.test(f))
      .map((f) => [f, { qos: 1 as const }]);
    const subscribe = () =>
      new Promise<void>((resolve, reject) =>
        client.subscribe(Object.fromEntries(filters), (err, granted) => {
          if (err) return reject(err);
          const refused = (granted ?? []).filter((g) => g.qos > 2);
          if (refused.length) return reject(new Error(`subscription refused: ${refused.map((g) => g.topic).join(', ')}`));
          resolve();
        }),
      );
    await subscribe();
    client.on('connect', (ack) => {
      if (!ack.sessionPresent) subscribe().catch((err) => this.log.error('mqtt.resubscribe_failed', { error: String(err) }));
      this.log.info('mqtt.reconnected', { clientId });
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.log.info('mqtt.ingest_started', { clientId, url: this.o.url, shared });
  }

  private async startEmbedded(aedes: Aedes): Promise<void> {
    this.embeddedBroker = aedes;
    const filters = this.topics.cloudSubscriptions({ shared: false }).filter((f) => /\/(register|auth|orders|charges)$/.test(f));
    for (const topic of filters) {
      const fn = (packet: { topic: string; payload: unknown }, cb: () => void) => {
        const p = packet.payload;
        this.onMessage(packet.topic, Buffer.isBuffer(p) ? p : Buffer.from(typeof p === 'string' ? p : ''));
        cb();
      };
      await new Promise<void>((resolve) => aedes.subscribe(topic, fn as never, () => resolve()));
      this.aedesSubs.push({ topic, fn });
    }
    this.log.info('mqtt.ingest_started', { embedded: true });
  }

  private embeddedBroker: Aedes | undefined;

  private onMessage(topic: string, payload: Buffer): void {
    this.stats.received++;
    let parsed: ParsedTopic;
    try {
      parsed = this.topics.parse(topic);
    } catch {
      this.stats.rejected++;
      this.log.warn('mqtt.rejected', { code: 'UNKNOWN_TOPIC', topic });
      return;
    }
    this.queue.push({ raw: topic, topic: parsed, payload, receivedAt: this.o.center.clock.now() });
    this.schedule();
  }

  /** Starts batches on the next event-loop turn, so one turn's arrivals form one batch. */
  private schedule(): void {
    if (this.scheduled || this.inflight >= this.concurrency || !this.queue.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.inflight < this.concurrency && this.queue.length) {
        const batch = this.nextBatch();
        if (!batch.length) break;
        void this.runBatch(batch);
      }
    });
  }

  /**
   * Takes the next batch off the queue, keeping each sender's messages in order: a device
   * (or merchant) with a message in a batch still being decided gets no message into
   * another batch until that one is done, and a message held back holds back every later
   * one of its sender. Without this, concurrent batches could decide a handset's counter
   * n+1 before n (an outbox resending two payments after a reconnect): n would then be a
   * stale counter, declined and counted towards the device's lockout.
   */
  private nextBatch(): Incoming[] {
    const batch: Incoming[] = [];
    const rest: Incoming[] = [];
    const held = new Set<string>();
    for (const m of this.queue) {
      const k = senderOf(m.topic);
      if (batch.length < this.maxBatch && !this.busy.has(k) && !held.has(k)) batch.push(m);
      else {
        rest.push(m);
        held.add(k);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async runBatch(batch: Incoming[]): Promise<void> {
    const senders = new Set(batch.map((m) => senderOf(m.topic)));
    for (const k of senders) this.busy.add(k);
    this.inflight++;
    this.stats.batches++;
    this.stats.maxBatch = Math.max(this.stats.maxBatch, batch.length);
    try {
      await this.process(batch);
    } catch (err) {
      this.stats.errors++;
      this.log.error('mqtt.batch_failed', { size: batch.length, error: err instanceof Error ? err.message : String(err) });
    } finally {
      for (const k of senders) this.busy.delete(k);
      this.inflight--;
      if (this.queue.length) this.schedule();
      else if (!this.inflight) for (const w of this.waiters.splice(0)) w();
    }
  }

  private async process(batch: Incoming[]): Promise<void> {
    const auths: AuthInput[] = [];
    const authFrom: Incoming[] = [];
    const charges: ChargeInput[] = [];
    const chargeFrom: Incoming[] = [];
    for (const m of batch) {
      const t = m.topic;
      if (t.kind === 'auth') {
        auths.push({ payload: m.payload, topicDeviceId: t.deviceId, receivedAt: m.receivedAt });
        authFrom.push(m);
      } else if (t.kind === 'merchantCharges') {
        charges.push({ payload: m.payload, topicMerchantId: t.merchantId, receivedAt: m.receivedAt });
        chargeFrom.push(m);
      } else if (t.kind === 'register') await this.register(t.deviceId, m.payload);
      else if (t.kind === 'merchantOrders') await this.order(t.merchantId, m.payload);
    }
    const decider = this.o.decider ?? this.o.center;
    if (auths.length) this.publishAll(await decider.authorise(auths), authFrom);
    if (charges.length) this.publishAll(await decider.charge(charges), chargeFrom);
  }

  /**
   * Publishes each result outcome to `handset/v1/{deviceId}/result` and/or
   * `merchant/v1/{merchantId}/results` (as `outcome.to` says); rejected outcomes are
   * counted and logged (`mqtt.rejected` with the topic and the first 16 hex digits of the
   * payload's SHA-256, never the payload), not published. Used for the MQTT batches and
   * for decisions made over HTTP.
   */
  publishAll(outcomes: readonly Outcome[], from?: readonly { raw: string; payload: Uint8Array }[]): void {
    for (const [i, o] of outcomes.entries()) {
      if (o.kind === 'rejected') {
        this.stats.rejected++;
        const m = from?.[i];
        if (m)
          this.log.warn('mqtt.rejected', {
            code: o.code,
            topic: m.raw,
            bytes: m.payload.length,
            digest: payloadDigest(m.payload),
          });
        continue;
      }
      // built by the center from validated, stored fields: serialised without a second schema pass
      const bytes = Buffer.from(JSON.stringify(o.result, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
      if (o.to.device && o.result.deviceId !== 'hs-unknown') this.publish(this.topics.result(o.result.deviceId), bytes);
      if (o.to.merchant) this.publish(this.topics.merchantResults(o.result.merchantId), bytes);
      this.stats.results++;
    }
  }

  private publish(topic: string, bytes: Buffer): void {
    if (this.embeddedBroker) {
      this.embeddedBroker.publish({ cmd: 'publish', topic, payload: bytes, qos: 1, retain: false, dup: false }, (err) => {
        if (err) this.log.warn('mqtt.publish_failed', { topic, error: err.message });
      });
      return;
    }
    this.client?.publish(topic, bytes, { qos: 1 }, (err) => {
      if (err) this.log.warn('mqtt.publish_failed', { topic, error: err.message });
    });
  }

  private async register(deviceId: string, payload: Buffer): Promise<void> {
    let res: RegistrationResponse;
    try {
      res = await this.o.center.register(payload);
    } catch (err) {
      this.stats.rejected++;
      this.log.warn('mqtt.register_rejected', { deviceId, code: (err as { code?: string }).code });
      return;
    }
    if (res.deviceId !== deviceId) {
      this.log.warn('mqtt.register_rejected', { deviceId, code: 'DEVICE_MISMATCH' });
      return;
    }
    this.publish(this.topics.registerReply(deviceId), Buffer.from(encodeMessage('registration.response', res)));
  }

  private async order(merchantId: string, payload: Buffer): Promise<void> {
    try {
      const o: MerchantOrder = decodeMessage('merchant.order', payload);
      if (o.merchantId !== merchantId)
        throw Object.assign(new Error('merchant id differs from topic'), { code: 'MERCHANT_MISMATCH' });
      await this.o.center.createOrder({
        merchantId,
        orderRef: o.orderRef,
        amount: o.amount,
        currency: o.currency,
        expiresAt: o.expiresAt,
      });
    } catch (err) {
      this.stats.rejected++;
      this.log.warn('mqtt.order_rejected', { merchantId, code: (err as { code?: string }).code ?? 'ERROR' });
    }
  }

  /** Resolves when everything received so far has been decided and handed to the client. */
  async settle(): Promise<void> {
    while (this.inflight || this.queue.length || this.scheduled) await new Promise<void>((r) => this.waiters.push(r));
  }

  async stop(): Promise<void> {
    await this.settle();
    const a = this.embeddedBroker;
    if (a) {
      this.embeddedBroker = undefined;
      for (const s of this.aedesSubs.splice(0)) await new Promise<void>((r) => a.unsubscribe(s.topic, s.fn as never, () => r()));
      return;
    }
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // flush what is in flight, but never hang on a broker that is gone
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c.endAsync(), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    if (!c.disconnected) await c.endAsync(true).catch(() => undefined);
  }
}
