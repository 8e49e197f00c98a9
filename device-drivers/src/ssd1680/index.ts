export * from './display';
export * from './driver';
export * from './protocol';
export * from './rig';
export * from './sim';
