/**
 * Uplink = MQTT link + durable outbox. The only way a message leaves the handset.
 *
 *   send(entry)  -> outbox.add (durable)  -> publish (if online)  -> ... -> result
 *   (re)connect  -> publish every unanswered entry again (same bytes)
 *   every resendMs -> publish entries unanswered for longer than resendMs
 *   result       -> outbox.complete(paymentId) keeps the FIRST answer; waiters get the
 *                   answer that stands, so a redelivery never changes an outcome.
 *
 * The cloud is idempotent on the payment id, so sending an entry N times books it once
 * and replays the first outcome; that is what makes delivery at-least-once end to end.
 */
import { EventEmitter } from 'node:events';
import { type Clock, systemClock } from '@handset/device-drivers/core';
import {
  createTopics,
  decodeMessage,
  encodeMessage,
  type PaymentResult,
  type RegistrationRequest,
  type RegistrationResponse,
  type Topics,
} from '@handset/host-sdk/protocol';
import { type BackoffOptions, LinkError, MqttLink } from './link';
import type { OutboxEntry, OutboxStore } from './outbox';

export interface UplinkOptions {
  url: string;
  deviceId: string;
  outbox: OutboxStore;
  /** Topic root prefix ('' in production). */
  root?: string;
  clock?: Clock;
  /** Unanswered entries are published again after this long (ms). Default 5,000. */
  resendMs?: number;
  backoff?: BackoffOptions;
  /** Duplicate every publish (fault preset "deliver twice"). */
  duplicatePublishes?: boolean;
  /** PUBACK wait per publish (default 5,000 ms). */
  publishTimeoutMs?: number;
  /** Extra mqtt.js options (tests). */
  mqtt?: ConstructorParameters<typeof MqttLink>[0]['mqtt'];
}

export interface UplinkEvents {
  /** Every result message for this device (also duplicates and results of other flows). */
  result: [result: PaymentResult, info: { first: boolean; known: boolean }];
  /** A message that failed validation (dropped; nothing recorded). */
  invalid: [topic: string, code: string];
  connect: [];
  offline: [];
  /** An entry was published (first send or resend). */
  sent: [entry: OutboxEntry, resend: boolean];
}

/** Bigint-safe JSON of a decoded result (what the outbox stores). */
const resultJson = (r: PaymentResult) => new TextDecoder().decode(encodeMessage('result', r));

export class Uplink extends EventEmitter<UplinkEvents> {
  readonly topics: Topics;
  readonly link: MqttLink;
  readonly outbox: OutboxStore;
  private readonly clock: Clock;
  private readonly resendMs: number;
  private readonly waiters = new Map<string, Set<(payload: string) => void>>();
  private cancelTick: (() => void) | undefined;
  private running = false;

  constructor(private readonly o: UplinkOptions) {
    super();
    this.topics = createTopics(o.root ?? '');
    this.outbox = o.outbox;
    this.clock = o.clock ?? systemClock;
    this.resendMs = o.resendMs ?? 5_000;
    this.link = new MqttLink({
      url: o.url,
      clientId: o.deviceId,
      subscriptions: [this.topics.result(o.deviceId), this.topics.registerReply(o.deviceId)],
      backoff: o.backoff,
      publishTimeoutMs: o.publishTimeoutMs,
      clock: this.clock,
      mqtt: o.mqtt,
    });
    this.link.on('message', (topic, payload) => void this.onMessage(topic, payload));
    this.link.on('connect', () => {
      this.emit('connect');
      void this.flush(0);
    });
    this.link.on('offline', () => this.emit('offline'));
  }

  get connected(): boolean {
    return this.link.connected;
  }

  /** Connects (waits up to `waitMs` for the first CONNACK; default: until connected) and starts the resend timer. */
  async start(waitMs?: number): Promise<boolean> {
    this.running = true;
    this.scheduleTick();
    return this.link.start(waitMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelTick?.();
    await this.link.stop();
  }

  /** Tests: die without a goodbye (the outbox keeps everything). */
  crash(): void {
    this.running = false;
    this.cancelTick?.();
    this.link.crash();
  }

  /**
   * Stores the entry durably, then publishes it if online. Returns once it is stored
   * (and published, when online): a publish failure is not an error, the entry is resent.
   */
  async send(entry: Pick<OutboxEntry, 'id' | 'kind' | 'topic' | 'payload'>): Promise<OutboxEntry> {
    const stored = await this.outbox.add({ ...entry, createdAt: this.clock.now() });
    if (stored.result === null) await this.publish(stored, false);
    return stored;
  }

  /** Signed authorisation -> outbox -> auth topic. */
  sendAuthorisation(auth: { paymentId: string; deviceId: string }, payload: string): Promise<OutboxEntry> {
    return this.send({ id: auth.paymentId, kind: 'auth', topic: this.topics.auth(auth.deviceId), payload });
  }

  /**
   * Waits for the answer to entry `id` (the one that stands, i.e. the first recorded).
   * Resolves undefined after `timeoutMs` (the entry stays in the outbox and is resent).
   */
  async waitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
    const have = await this.outbox.get(id);
    if (have?.result) return have.result;
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const finish = (v: string | undefined) => {
        set.delete(fn);
        if (set.size === 0) this.waiters.delete(id);
        cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const fn = (payload: string) => finish(payload);
      const onAbort = () => finish(undefined);
      set.add(fn);
      const cancel = this.clock.setTimeout(() => finish(undefined), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The standing result of a payment, decoded. */
  async resultOf(paymentId: string, timeoutMs: number, signal?: AbortSignal): Promise<PaymentResult | undefined> {
    const text = await this.waitFor(paymentId, timeoutMs, signal);
    return text === undefined ? undefined : decodeMessage('result', text);
  }

  /** Sends a registration request (through the outbox) and waits for the cloud's reply. */
  async register(req: RegistrationRequest, timeoutMs: number): Promise<RegistrationResponse | undefined> {
    const payload = new TextDecoder().decode(encodeMessage('registration.request', req));
    await this.send({ id: req.requestId, kind: 'register', topic: this.topics.register(req.deviceId), payload });
    const text = await this.waitFor(req.requestId, timeoutMs);
    return text === undefined ? undefined : decodeMessage('registration.response', text);
  }

  /** Publishes every unanswered entry last sent more than `olderThanMs` ago. */
  async flush(olderThanMs = this.resendMs): Promise<number> {
    if (!this.link.connected) return 0;
    const now = this.clock.now();
    let n = 0;
    for (const e of await this.outbox.unanswered()) {
      if (e.lastSentAt !== null && now - e.lastSentAt < olderThanMs) continue;
      await this.publish(e, e.attempts > 0);
      n++;
    }
    return n;
  }

  private scheduleTick(): void {
    this.cancelTick?.();
    if (!this.running) return;
    this.cancelTick = this.clock.setTimeout(() => {
      void this.flush().finally(() => this.scheduleTick());
    }, this.resendMs);
  }

  private async publish(e: OutboxEntry, resend: boolean): Promise<void> {
    try {
      await this.link.publish(e.topic, e.payload);
      if (this.o.duplicatePublishes) await this.link.publish(e.topic, e.payload);
      await this.outbox.markSent(e.id, this.clock.now());
      this.emit('sent', e, resend);
    } catch (err) {
      if (!(err instanceof LinkError)) throw err;
    }
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const id = this.o.deviceId;
    try {
      if (topic === this.topics.result(id)) {
        const r = decodeMessage('result', payload);
        if (r.deviceId !== id) return void this.emit('invalid', topic, 'DEVICE_MISMATCH');
        const done = await this.outbox.complete(r.paymentId, resultJson(r), this.clock.now());
        const standing = done ? decodeMessage('result', done.entry.result as string) : r;
        this.emit('result', standing, { first: done?.first ?? true, known: done !== undefined });
        if (done?.entry.result) this.wake(r.paymentId, done.entry.result);
      } else if (topic === this.topics.registerReply(id)) {
        const res = decodeMessage('registration.response', payload);
        const text = new TextDecoder().decode(encodeMessage('registration.response', res));
        const done = await this.outbox.complete(res.requestId, text, this.clock.now());
        if (done?.entry.result) this.wake(res.requestId, done.entry.result);
      }
    } catch (err) {
      this.emit('invalid', topic, (err as { code?: string }).code ?? 'INVALID');
    }
  }

  private wake(id: string, payload: string): void {
    for (const fn of [...(this.waiters.get(id) ?? [])]) fn(payload);
  }
}
