export * from './frame-source';
export * from './gpio';
export * from './hid';
export * from './pwm';
export * from './sim/fault';
export * from './sim/uart';
export * from './spi';
export * from './uart';
