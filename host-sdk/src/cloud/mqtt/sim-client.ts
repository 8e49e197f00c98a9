import type { MqttClient } from 'mqtt';
import { type BackoffOptions, connectMqtt } from '../../mqtt/index';
import {
  type Authorisation,
  createTopics,
  decodeMessage,
  encodeMessage,
  type MerchantCharge,
  type PaymentResult,
  type Topics,
} from '../../protocol/index';

/**
 * An MQTT peer for tests and benchmarks: a simulated handset or merchant terminal that
 * publishes signed messages and waits for the result on its own topic, resending the
 * SAME message until answered - the handset's durable-outbox behaviour, which is what
 * makes delivery at-least-once end to end.
 */
export class MqttPeer {
  readonly topics: Topics;
  client: MqttClient | undefined;
  private readonly waiting = new Map<string, { resolve: (r: PaymentResult) => void; timer?: NodeJS.Timeout }>();
  /** Every result received (also duplicates), in order. */
  readonly received: PaymentResult[] = [];

  constructor(
    readonly id: string,
    readonly o: { url: string; root?: string; protocolVersion?: 4 | 5; backoff?: BackoffOptions; keepalive?: number },
  ) {
    this.topics = createTopics(o.root ?? '');
  }

  async connect(): Promise<this> {
    const c = await connectMqtt(this.o.url, {
      clientId: this.id,
      username: this.id,
      clean: true,
      protocolVersion: this.o.protocolVersion ?? 4,
      keepalive: this.o.keepalive ?? 30,
      backoff: this.o.backoff,
    });
    this.client = c;
    const topic = this.id.startsWith('m-') ? this.topics.merchantResults(this.id) : this.topics.result(this.id);
    const sub = () => c.subscribeAsync(topic, { qos: 1 });
    await sub();
    c.on('connect', () => {
      sub().catch(() => undefined);
    });
    c.on('message', (_t, payload) => {
      let r: PaymentResult;
      try {
        r = decodeMessage('result', payload);
      } catch {
        return;
      }
      this.received.push(r);
      const w = this.waiting.get(r.paymentId);
      if (w) {
        this.waiting.delete(r.paymentId);
        if (w.timer) clearInterval(w.timer);
        w.resolve(r);
      }
    });
    return this;
  }

  /** Publishes raw bytes on a topic (fault tests: malformed, spoofed). */
  publishRaw(topic: string, payload: Uint8Array | string): Promise<unknown> {
    return this.client!.publishAsync(topic, Buffer.from(payload), { qos: 1 });
  }

  private sendUntilAnswered(paymentId: string, topic: string, bytes: Buffer, resendMs: number): Promise<PaymentResult> {
    return new Promise((resolve) => {
      const send = () => this.client?.publish(topic, bytes, { qos: 1 }, () => undefined);
      const timer = resendMs > 0 ? setInterval(send, resendMs) : undefined;
      this.waiting.set(paymentId, { resolve, timer });
      send();
    });
  }

  /** Sends an authorisation (handset) and resolves with its result; resends every `resendMs` until answered. */
  pay(auth: Authorisation, resendMs = 2_000): Promise<PaymentResult> {
    return this.sendUntilAnswered(
      auth.paymentId,
      this.topics.auth(auth.deviceId),
      Buffer.from(encodeMessage('authorisation', auth)),
      resendMs,
    );
  }

  /** Sends a pay-code charge (merchant) and resolves with its result. */
  charge(ch: MerchantCharge, resendMs = 2_000): Promise<PaymentResult> {
    return this.sendUntilAnswered(
      ch.paymentId,
      this.topics.merchantCharges(ch.merchantId),
      Buffer.from(encodeMessage('merchant.charge', ch)),
      resendMs,
    );
  }

  /** Waits for a result that was triggered elsewhere (e.g. the merchant side of a handset's payment). */
  waitFor(paymentId: string): Promise<PaymentResult> {
    const have = this.received.find((r) => r.paymentId === paymentId);
    if (have) return Promise.resolve(have);
    return new Promise((resolve) => this.waiting.set(paymentId, { resolve }));
  }

  get pending(): number {
    return this.waiting.size;
  }

  async close(): Promise<void> {
    for (const w of this.waiting.values()) if (w.timer) clearInterval(w.timer);
    this.waiting.clear();
    await this.client?.endAsync(true).catch(() => undefined);
  }
}
