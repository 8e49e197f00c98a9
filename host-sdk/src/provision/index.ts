/**
 * Host tools for firmware: signed deterministic bundles, A/B slot installs (flash and
 * OTA share them), release keys, and the OTA sender. The handset's side lives in
 * firmware-ts/src/ota and uses bundle.ts + slots.ts from here. Host-only parts (the
 * firmware build in firmware.ts, the progress bar, the OTA sender) are imported by path
 * so the handset's bundle does not pull them in.
 */
export * from './bundle';
export * from './errors';
export * from './keys';
export * from './slots';
export * from './tar';
