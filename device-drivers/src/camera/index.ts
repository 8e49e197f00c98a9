export * from './capture';
export * from './driver';
export * from './image';
export * from './protocol';
export * from './random';
export * from './scene';
export * from './sim';
