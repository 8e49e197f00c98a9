export * from './fault';
export * from './frame-source';
export * from './gpio';
export * from './hid';
export * from './pwm';
export * from './spi';
export * from './uart';
