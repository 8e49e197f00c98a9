export * from './sql';
export * from './types';
export * from './vault';
