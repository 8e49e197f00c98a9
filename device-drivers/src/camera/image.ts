/**
 * Image files (PNG, JPEG, WebP, ...) to 8-bit gray through sharp, minding its pitfalls
 * (reference section 2.5): EXIF orientation is applied (`rotate()`), transparency is
 * flattened onto white (a transparent screenshot would otherwise turn black), the
 * output is forced to one channel (`greyscale()` - a raw 1-channel output otherwise
 * comes back as 3-channel sRGB) and checked, and oversize images are shrunk so the
 * decoders' time stays bounded.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { HandsetError, type HandsetErrorOptions } from '../core/errors';
import type { GrayImage } from './scene';

/** `IMAGE_INVALID`: not an image sharp can decode. `IMAGE_UNREADABLE`: the file cannot be read. */
export class ImageInputError extends HandsetError {
  constructor(code: 'IMAGE_INVALID' | 'IMAGE_UNREADABLE', message: string, options: HandsetErrorOptions = {}) {
    super(code, message, options);
  }
}

export interface ImageToGrayOptions {
  /** Longest edge after decoding; larger images are shrunk. Default 2048. */
  maxEdge?: number;
}

/** Decodes an encoded image (file bytes) to gray. */
export async function imageToGray(input: Uint8Array, options: ImageToGrayOptions = {}): Promise<GrayImage> {
  const maxEdge = options.maxEdge ?? 2048;
  try {
    const { data, info } = await sharp(input, { failOn: 'error', limitInputPixels: 100_000_000 })
      .rotate()
      .flatten({ background: '#ffffff' })
      .resize({ width: maxEdge, height: maxEdge, fit: 'inside', withoutEnlargement: true })
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1)
      throw new ImageInputError('IMAGE_INVALID', `expected 1 channel after greyscale, got ${info.channels}`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    if (err instanceof ImageInputError) throw err;
    throw new ImageInputError('IMAGE_INVALID', `not a decodable image: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** Reads and decodes an image file to gray. */
export async function imageFileToGray(path: string, options: ImageToGrayOptions = {}): Promise<GrayImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageInputError('IMAGE_UNREADABLE', `cannot read ${path}: ${code ?? String(err)}`, {
      cause: err,
      details: { path, errno: code },
    });
  }
  try {
    return await imageToGray(bytes, options);
  } catch (err) {
    if (err instanceof ImageInputError) {
      throw new ImageInputError(err.code as 'IMAGE_INVALID', `${path}: ${err.message}`, { cause: err.cause, details: { path } });
    }
    throw err;
  }
}

/** Encodes a gray image as PNG (for screenshots, fixtures and reports). */
export async function grayToPng(img: GrayImage): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 1 } })
    .png()
    .toBuffer();
}
