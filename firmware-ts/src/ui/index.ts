export * from './draw';
export * from './font/index';
export * from './gallery';
export * from './money';
export * from './presenter';
export * from './qr';
export * from './screens';
export * from './text';
