export * from './controller';
export * from './driver';
export * from './errors';
export * from './io-plugin';
