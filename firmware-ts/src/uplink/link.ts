/**
 * The handset's MQTT link (mqtt.js 5): one persistent session per device.
 *
 * - client id = username = the device id (the broker's ACL lets it publish only under
 *   its own id), `clean: false` so QoS 1 results queued while the handset was away are
 *   delivered when it comes back, QoS 1 both ways;
 * - TCP_NODELAY on every connect and reconnect with capped exponential backoff and FULL
 *   jitter, so a fleet does not come back in the same second after a broker restart: the
 *   project's one MQTT connect helper, `openReconnecting` from `@handset/host-sdk/mqtt`
 *   (shared with the cloud), its timers on the injected clock.
 */
import type { Socket } from 'node:net';
import { type Clock, HandsetError, systemClock } from '@handset/device-drivers/core';
import { type BackoffOptions, openReconnecting, type ReconnectingClient } from '@handset/host-sdk/mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';

export { type BackoffOptions, backoffDelay } from '@handset/host-sdk/mqtt';

export class LinkError extends HandsetError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { device: 'uplink', cause });
  }
}

export interface MqttLinkOptions {
  url: string;
  clientId: string;
  /** Topics to hold a QoS 1 subscription on (re-subscribed when the session is gone). */
  subscriptions: string[];
  backoff?: BackoffOptions;
  keepaliveS?: number;
  /** A publish without PUBACK after this long fails `LINK_PUBLISH_TIMEOUT` (the outbox resends later). Default 5,000 ms. */
  publishTimeoutMs?: number;
  clock?: Clock;
  /** Extra mqtt.js options (tests). */
  mqtt?: Partial<IClientOptions>;
}

export interface LinkEvents {
  message: [topic: string, payload: Buffer];
  /** Every (re)connect; `sessionPresent` from the CONNACK. */
  connect: [sessionPresent: boolean];
  offline: [];
}

type Listener<K extends keyof LinkEvents> = (...args: LinkEvents[K]) => void;

export class MqttLink {
  private client: MqttClient | undefined;
  private reconnecting: ReconnectingClient | undefined;
  private readonly clock: Clock;
  private readonly listeners: { [K in keyof LinkEvents]: Set<Listener<K>> } = {
    message: new Set(),
    connect: new Set(),
    offline: new Set(),
  };
  /** Reconnect delays used so far (diagnostics/tests). */
  readonly delays: number[] = [];

  constructor(readonly o: MqttLinkOptions) {
    this.clock = o.clock ?? systemClock;
  }

  on<K extends keyof LinkEvents>(event: K, fn: Listener<K>): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  private emit<K extends keyof LinkEvents>(event: K, ...args: LinkEvents[K]): void {
    for (const fn of this.listeners[event]) (fn as (...a: LinkEvents[K]) => void)(...args);
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /**
   * Starts connecting. Resolves on the first CONNACK; with `waitMs` it resolves `false`
   * after that long offline (the link keeps retrying; the outbox holds what is queued).
   */
  start(waitMs?: number): Promise<boolean> {
    if (this.client) return Promise.resolve(this.connected);
    const r = openReconnecting(this.o.url, {
      clientId: this.o.clientId,
      username: this.o.clientId,
      clean: false,
      protocolVersion: 4,
      keepalive: this.o.keepaliveS ?? 30,
      resubscribe: false,
      ...this.o.mqtt,
      backoff: this.o.backoff,
      clock: this.clock,
      onReconnectDelay: (ms) => this.delays.push(ms),
    });
    const c = r.client;
    this.reconnecting = r;
    this.client = c;
    c.on('connect', (ack) => {
      const subscribe = ack.sessionPresent
        ? Promise.resolve()
        : c.subscribeAsync(Object.fromEntries(this.o.subscriptions.map((t) => [t, { qos: 1 as const }])));
      subscribe.then(
        () => this.emit('connect', ack.sessionPresent),
        () => undefined,
      );
    });
    c.on('message', (topic, payload) => this.emit('message', topic, payload));
    c.on('close', () => this.emit('offline'));
    return new Promise((resolve) => {
      let cancel: (() => void) | undefined;
      const done = (v: boolean) => {
        cancel?.();
        off();
        resolve(v);
      };
      const off = this.on('connect', () => done(true));
      if (waitMs !== undefined) cancel = this.clock.setTimeout(() => done(false), waitMs);
    });
  }

  /** QoS 1 publish; resolves on PUBACK, rejects (LINK_OFFLINE / LINK_PUBLISH) otherwise. */
  async publish(topic: string, payload: string | Uint8Array): Promise<void> {
    const c = this.client;
    if (!c?.connected) throw new LinkError('LINK_OFFLINE', `not connected to ${this.o.url}`);
    const ms = this.o.publishTimeoutMs ?? 5_000;
    let cancel: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      cancel = this.clock.setTimeout(
        () => reject(new LinkError('LINK_PUBLISH_TIMEOUT', `no PUBACK for ${topic} within ${ms} ms`)),
        ms,
      );
    });
    try {
      await Promise.race([c.publishAsync(topic, Buffer.from(payload), { qos: 1 }), timeout]);
    } catch (err) {
      if (err instanceof LinkError) throw err;
      throw new LinkError('LINK_PUBLISH', `publish to ${topic} failed`, err);
    } finally {
      cancel?.();
    }
  }

  /**
   * Stop (DISCONNECT when connected). Does not wait for unacknowledged publishes: the
   * outbox holds them and resends after the next start.
   */
  async stop(): Promise<void> {
    this.reconnecting?.stop();
    this.reconnecting = undefined;
    const c = this.client;
    this.client = undefined;
    await c?.endAsync(true).catch(() => undefined);
  }

  /** Tests: the process dies - socket gone, no DISCONNECT, nothing flushed. */
  crash(): void {
    this.reconnecting?.stop();
    this.reconnecting = undefined;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    (c.stream as Partial<Socket> | undefined)?.destroy?.();
    c.end(true);
  }
}
