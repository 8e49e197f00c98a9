/** The handset's way out: MQTT link (persistent session, Nagle off, jittered backoff) + durable outbox. */
export * from './link';
export * from './outbox';
export * from './uplink';
