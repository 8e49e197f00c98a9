/**
 * The cloud service center: registration, authorisation, double-entry ledger, MQTT
 * ingest and the HTTP API. Start it with `startCloud()` or `handset cloud serve`.
 */

export * from '../mqtt/index';
export * from './center';
export * from './errors';
export * from './http/api';
export * from './ids';
export * from './ledger/index';
export * from './log';
export * from './mqtt/broker';
export * from './mqtt/ingest';
export * from './mqtt/mosquitto';
export * from './mqtt/sim-client';
export * from './registry/index';
export * from './service';
export * from './sim';
export * from './sql/client';
export * from './stores';
export * from './verify-pool';
