/**
 * The live results stream of one merchant over MQTT: `merchant/v1/{merchantId}/results`
 * (QoS 1), decoded with the wire contract's `result` schema and mapped to the terminal's
 * {@link PaymentResult}. A message that fails the schema is reported through `onError`
 * (typed `MessageError`) and dropped: it can never reach the comparison as "paid".
 *
 * The client connects with client id / username = the merchant id (what the broker ACL
 * keys on), a persistent session (`clean: false`; with MQTT 5 a 24 h session expiry) so
 * results published while the till was offline are delivered on reconnect, and
 * TCP_NODELAY.
 */

import { HandsetError, TransportError } from '@handset/device-drivers/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { decodeMessage, type PaymentResult as WireResult } from '../protocol/messages';
import { createTopics } from '../protocol/topics';
import type { PaymentResult } from './amount-comparison';

/** Maps a decoded wire result to the terminal's view: declined results book nothing. */
export function fromWireResult(m: WireResult): PaymentResult {
  const approved = m.status === 'approved';
  return {
    paymentId: m.paymentId,
    merchantId: m.merchantId,
    orderReference: m.orderRef,
    status: approved ? 'booked' : 'declined',
    authorised: { minor: m.authorisedAmount, currency: m.currency },
    booked: approved && m.bookedAmount > 0n ? { minor: m.bookedAmount, currency: m.currency } : null,
    declineReason: m.reason,
    at: m.decidedAt,
    flow: m.flow,
    deviceId: m.deviceId,
    ledgerTransferId: m.ledgerTransferId,
  };
}

export interface MqttResultsOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  merchantId: string;
  /** Topic root prefix (tests on a shared broker), default ''. */
  root?: string;
  /** Password for the merchant's MQTT identity, if the broker wants one. */
  password?: string;
  /** Extra mqtt.js options (e.g. TLS). */
  mqttOptions?: IClientOptions;
  /**
   * Keep a persistent session (default true): the broker queues this merchant's QoS 1
   * results while the till is off and delivers them on reconnect. false = clean session.
   */
  persistentSession?: boolean;
  /** 4 = MQTT 3.1.1 (default; the embedded aedes broker), 5 = MQTT 5 (Mosquitto, EMQX). */
  protocolVersion?: 4 | 5;
  /** How long to wait for the first CONNACK + SUBACK (default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * Subscribes to the merchant's results. Resolves once subscribed; the returned function
 * unsubscribes and disconnects. Transport trouble after that goes to `onError` (mqtt.js
 * reconnects by itself; the terminal reconciles orders through the HTTP API).
 */
export async function subscribeMqttResults(
  options: MqttResultsOptions,
  onResult: (r: PaymentResult) => void,
  onError: (err: Error) => void = () => {},
): Promise<() => Promise<void>> {
  const topics = createTopics(options.root ?? '');
  const topic = topics.merchantResults(options.merchantId);
  const client: MqttClient = mqtt.connect(options.url, {
    protocolVersion: options.protocolVersion ?? 4,
    clientId: options.merchantId,
    username: options.merchantId,
    password: options.password,
    clean: options.persistentSession === false,
    ...(options.protocolVersion === 5 && options.persistentSession !== false
      ? { properties: { sessionExpiryInterval: 86_400 } }
      : {}),
    reconnectPeriod: 1000,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    ...options.mqttOptions,
  });
  client.on('connect', () => {
    const stream = (client as unknown as { stream?: { setNoDelay?: (on: boolean) => void } }).stream;
    stream?.setNoDelay?.(true);
  });
  client.on('message', (t, payload) => {
    if (t !== topic) return;
    let wire: WireResult;
    try {
      wire = decodeMessage('result', new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (wire.merchantId !== options.merchantId) {
      onError(
        new HandsetError('RESULT_WRONG_MERCHANT', `result for ${wire.merchantId} on ${topic}`, { device: 'merchant:mqtt' }),
      );
      return;
    }
    onResult(fromWireResult(wire));
  });
  client.on('error', (err) =>
    onError(new TransportError(`MQTT: ${err.message}`, { code: 'MQTT', device: 'merchant:mqtt', cause: err })),
  );

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new TransportError(`no MQTT connection to ${options.url}`, { code: 'MQTT_CONNECT_TIMEOUT', device: 'merchant:mqtt' }),
          ),
        options.connectTimeoutMs ?? 10_000,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(
          new TransportError(`MQTT connect to ${options.url} failed: ${err.message}`, {
            code: 'MQTT_CONNECT',
            device: 'merchant:mqtt',
            cause: err,
          }),
        );
      };
      client.once('error', fail);
      client.once('connect', () => {
        client.subscribe(topic, { qos: 1 }, (err, granted) => {
          clearTimeout(timer);
          client.off('error', fail);
          if (err)
            return reject(
              new TransportError(`subscribe ${topic}: ${err.message}`, {
                code: 'MQTT_SUBSCRIBE',
                device: 'merchant:mqtt',
                cause: err,
              }),
            );
          const g = granted?.[0];
          if (!g || g.qos > 2)
            return reject(
              new TransportError(`broker refused the subscription to ${topic}`, {
                code: 'MQTT_SUBSCRIBE',
                device: 'merchant:mqtt',
              }),
            );
          resolve();
        });
      });
    });
  } catch (err) {
    await client.endAsync(true);
    throw err;
  }
  // No UNSUBSCRIBE on close: the persistent session keeps collecting this merchant's
  // results until the till comes back.
  return async () => {
    await client.endAsync();
  };
}
