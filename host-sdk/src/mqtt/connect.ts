import type { Socket } from 'node:net';
import { type Clock, systemClock } from '@handset/device-drivers/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * MQTT.js with the two things its defaults get wrong for payments (reference §2.3), for
 * every MQTT client of the project (cloud workers, test peers, the handset's uplink):
 * - Nagle's algorithm stays on (MQTT.js never calls setNoDelay), which adds ~40 ms per
 *   request/response hop on delayed ACKs: `setNoDelay(true)` on every connect;
 * - reconnects happen every 1,000 ms fixed, so after a broker restart a whole fleet comes
 *   back in the same second: reconnect with capped exponential backoff and FULL jitter
 *   (delay = random(0, min(maxMs, minMs * 2^attempt))).
 */
export interface BackoffOptions {
  /** First backoff ceiling. Default 250 ms. */
  minMs?: number;
  /** Cap. Default 10,000 ms. */
  maxMs?: number;
  /** Uniform random source in [0, 1) (tests inject one). */
  random?: () => number;
}

/** Delay before reconnect number `attempt` (0-based): full jitter under a capped exponential ceiling. */
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

export interface ReconnectingOptions extends IClientOptions {
  backoff?: BackoffOptions;
  /** Schedules the reconnect timers. Default `systemClock`. */
  clock?: Clock;
  /** Told every reconnect delay chosen (diagnostics, tests). */
  onReconnectDelay?: (ms: number) => void;
}

/** An MQTT.js client whose reconnects are ours; `stop()` cancels them (call it before ending the client). */
export interface ReconnectingClient {
  readonly client: MqttClient;
  /** Failed connects since the last CONNACK. */
  readonly attempts: number;
  /** No more reconnects; cancels a scheduled one. Does not end the client. */
  stop(): void;
}

/**
 * Starts connecting (MQTT.js' own reconnect off, `connectTimeout` 10 s unless given): Nagle
 * off on every CONNACK, and after every close one reconnect after `backoffDelay(attempt)`,
 * the attempt count reset by a CONNACK. Errors surface as close -> backoff; callers may
 * listen to `error` too.
 */
export function openReconnecting(url: string, options: ReconnectingOptions = {}): ReconnectingClient {
  const { backoff, clock = systemClock, onReconnectDelay, ...opts } = options;
  const client = mqtt.connect(url, { connectTimeout: 10_000, ...opts, reconnectPeriod: 0 });
  let attempts = 0;
  let cancelRetry: (() => void) | undefined;
  let stopped = false;
  client.on('connect', () => {
    attempts = 0;
    noDelay(client);
  });
  client.on('close', () => {
    if (stopped || cancelRetry) return;
    const delay = backoffDelay(attempts++, backoff);
    onReconnectDelay?.(delay);
    cancelRetry = clock.setTimeout(() => {
      cancelRetry = undefined;
      if (!stopped && !client.connected) client.reconnect();
    }, delay);
  });
  client.on('error', () => {
    /* surfaced through close -> backoff */
  });
  return {
    client,
    get attempts() {
      return attempts;
    },
    stop() {
      stopped = true;
      cancelRetry?.();
      cancelRetry = undefined;
    },
  };
}

/**
 * Connects with Nagle off and jittered, capped backoff. Resolves on the first CONNACK,
 * rejects if the first connect fails more than 3 times. `client.end()` also stops the
 * reconnects.
 */
export function connectMqtt(url: string, options: ReconnectingOptions = {}): Promise<MqttClient> {
  const r = openReconnecting(url, options);
  const client = r.client;
  const end = client.end.bind(client);
  client.end = ((...args: Parameters<MqttClient['end']>) => {
    r.stop();
    return end(...args);
  }) as MqttClient['end'];
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      client.off('close', onClose);
      resolve(client);
    };
    const onClose = () => {
      if (r.attempts > 3) {
        client.off('connect', onConnect);
        client.end(true);
        reject(new Error(`MQTT: cannot connect to ${url}`));
      }
    };
    client.once('connect', onConnect);
    client.on('close', onClose);
  });
}
