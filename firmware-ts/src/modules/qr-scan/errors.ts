import { HandsetError, type HandsetErrorOptions } from '@handset/device-drivers/core';

/**
 * Errors of the scan pipeline. Codes:
 * - `IMAGE_INVALID`: an input file/buffer is not a decodable PNG/JPEG/... image.
 * - `IMAGE_UNREADABLE`: the file could not be read (missing, a directory, no permission).
 * - `FRAME_INVALID`: a gray frame whose size and data length disagree.
 * - `DECODER_UNAVAILABLE`: zxing-wasm's local .wasm could not be loaded.
 * - `DECODER_FAILED`: a decoder threw on a frame (the frame is then treated as "no code").
 * - `SCAN_TIMEOUT`: `scanOnce()` saw no code within its time limit.
 */
export class ScanError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'qr-scan', ...options });
  }
}
