export * from './engine';
export * from './group-commit';
export * from './invariants';
export * from './postgres';
export * from './sqlite';
export * from './types';
