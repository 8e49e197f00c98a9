/**
 * Password input module (PIN step-up on the USB HID PIN pad). See docs/pinpad.md.
 *
 * ```ts
 * const { pinpad, keypad } = createSimPinPad({ clock });          // or createNodeHidPinPad({vendorId, productId})
 * const password = new PasswordModule({ pinpad, lockStore: new FileLockStore(path), show: (s) => presenter.show(s) });
 * await password.setPin('4711');                                   // provisioning (host)
 * const r = await password.requestPin({ reason: 'step_up', amount, signal });
 * // r: {ok: true, method: 'fingerprint+pin'} | {ok: false, reason: 'wrong_pin'|'locked'|'aborted'|'timeout'|'not_set'|'unavailable'}
 * await password.unlock();                                         // host unlock after 3 wrong PINs
 * ```
 */
export {
  createNodeHidPinPad,
  createSimPinPad,
  PinEntryAbortedError,
  PinEntryTimeoutError,
  PinPad,
  SimKeypad,
} from '@handset/device-drivers/pinpad';
export * from './module';
export * from './store';
export * from './verifier';
