/** The handset's modules, in chain order: generate -> fingerprint -> scan. */
export * from './fingerprint/index';
export * from './qr-generate/index';
export * from './qr-scan/index';
