/**
 * USB HID PIN pad: boot keyboard report protocol (shared), driver over `HidDevice`,
 * simulated keypad, and the node-hid factory. See docs/pinpad.md.
 */
export * from './driver';
export * from './errors';
export * from './node-hid';
export * from './protocol';
export * from './sim';
