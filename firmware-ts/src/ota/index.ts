/**
 * Firmware updates on the handset: the OTA agent (chunks over MQTT -> staging file ->
 * verified install into the inactive slot) and the boot-time health check (confirm, or
 * roll back after too many unconfirmed starts).
 */
export * from './agent';
export * from './boot';
