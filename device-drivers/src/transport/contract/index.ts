/**
 * Contract suites for the transport interfaces (STYLE.md habit 7). Each is written once and
 * run against every implementation in one line. They import vitest: import this module
 * only from tests.
 */
export * from './frame-source';
export * from './gpio';
export * from './hid';
export * from './pwm';
export * from './spi';
export * from './uart';
export * from './util';
