/**
 * R307 fingerprint sensor: protocol (shared), stream parser, host driver, simulator.
 * See docs/r307.md.
 */
export * from './driver';
export * from './errors';
export { extract, fingerMinutiae, MATCH_THRESHOLDS, type Minutia, matchScore, type Press, renderImage } from './fingers';
export * from './parser';
export { imageToPng } from './png';
export * from './protocol';
export * from './sim';
export { Mutex, Waitress, type WaitSpec } from './waitress';
