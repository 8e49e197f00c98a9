/**
 * Linux implementations of the transport interfaces. Each loads its native module lazily
 * (inside `open()`/`requestLine()`), so importing this module never needs the library or
 * the device.
 */
export * from './frame-source';
export * from './gpio';
export * from './hid';
export * from './pwm';
export * from './socat';
export * from './spi';
export * from './uart';
