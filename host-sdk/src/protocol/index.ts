/**
 * The wire contract shared by handset firmware, cloud and merchant terminal. No I/O:
 * only pure codecs, schemas and rules (node:crypto is reached through `nodeCrypto`, a
 * CryptoProvider; everything else takes a provider as a parameter).
 */
export * from './crypto';
export * from './crypto-node';
export * from './emv/index';
export * from './encoding';
export * from './errors';
export * from './messages';
export * from './money';
export * from './ota';
export * from './paycode';
export * from './signing';
export * from './topics';
