export * from './clock';
export * from './errors';
export * from './sfc32';
