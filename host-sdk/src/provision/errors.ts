import { HandsetError, type HandsetErrorOptions } from '@handset/device-drivers/core';

/**
 * Typed errors of the firmware host tools (bundle, flash, OTA).
 *
 * | class       | codes                                                                  |
 * | ----------- | ---------------------------------------------------------------------- |
 * | BundleError | BAD_FORMAT, TRUNCATED, BAD_MANIFEST, BAD_SIGNATURE, UNKNOWN_KEY, HASH_MISMATCH, TOO_LARGE, BAD_INPUT |
 * | KeyError    | KEY_MISSING, BAD_KEY                                                   |
 * | FlashError  | BAD_TARGET, FLASH_INTERRUPTED, VERIFY_FAILED                           |
 * | OtaError    | OTA_TIMEOUT, OTA_FAILED, OTA_REFUSED                                   |
 */
export class BundleError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'bundle', ...options });
  }
}

export class KeyError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'release-key', ...options });
  }
}

export class FlashError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'flash', ...options });
  }
}

export class OtaError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'ota', ...options });
  }
}
