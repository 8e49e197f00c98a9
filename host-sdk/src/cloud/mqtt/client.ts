import type { Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * MQTT.js with the two things its defaults get wrong for payments (reference §2.3):
 * - Nagle's algorithm stays on (MQTT.js never calls setNoDelay), which adds ~40 ms per
 *   request/response hop on delayed ACKs: we call `setNoDelay(true)` on every connect;
 * - reconnects happen every 1,000 ms fixed, so after a broker restart every client
 *   comes back in the same second: we reconnect with capped exponential backoff and
 *   FULL jitter (delay = random(0, min(maxMs, minMs * 2^attempt))).
 */
export interface BackoffOptions {
  /** First backoff ceiling. Default 250 ms. */
  minMs?: number;
  /** Cap. Default 10,000 ms. */
  maxMs?: number;
  /** Random source in [0, 1) (tests inject one). */
  random?: () => number;
}

export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const min = o.minMs ?? 250;
  const max = o.maxMs ?? 10_000;
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor((o.random ?? Math.random)() * ceiling);
}

/** Turns Nagle off on the client's TCP socket (no-op for non-TCP streams). */
export function noDelay(client: MqttClient): void {
  const s = client.stream as Partial<Socket> | undefined;
  if (s && typeof s.setNoDelay === 'function') s.setNoDelay(true);
}

/**
 * Connects with Nagle off and jittered, capped backoff. Resolves on the first CONNACK,
 * rejects if the first connect fails within `connectTimeout`. `client.end()` stops it.
 */
export function connectMqtt(url: string, options: IClientOptions & { backoff?: BackoffOptions } = {}): Promise<MqttClient> {
  const { backoff, ...opts } = options;
  const client = mqtt.connect(url, { connectTimeout: 10_000, ...opts, reconnectPeriod: 0 });
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const end = client.end.bind(client);
  client.end = ((...args: Parameters<MqttClient['end']>) => {
    ended = true;
    if (timer) clearTimeout(timer);
    return end(...args);
  }) as MqttClient['end'];
  client.on('connect', () => {
    attempt = 0;
    noDelay(client);
  });
  client.on('close', () => {
    if (ended || timer) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        if (!ended && !client.connected) client.reconnect();
      },
      backoffDelay(attempt++, backoff),
    );
  });
  client.on('error', () => {
    /* surfaced through close/reconnect; callers may listen too */
  });
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      client.off('close', onClose);
      resolve(client);
    };
    const onClose = () => {
      if (attempt > 3) {
        client.off('connect', onConnect);
        client.end(true);
        reject(new Error(`MQTT: cannot connect to ${url}`));
      }
    };
    client.once('connect', onConnect);
    client.on('close', onClose);
  });
}
