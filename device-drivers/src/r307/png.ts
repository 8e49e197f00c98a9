/**
 * PNG export of an R307 UART image (256 x 288, 4 bits/pixel) through sharp. Kept out
 * of driver.ts so the driver loads without the native image library.
 */
import { IMAGE_HEIGHT, IMAGE_WIDTH, unpackImage } from './protocol';

/** Encodes a packed 36,864-byte R307 image as an 8-bit grayscale PNG (nibble x 17). */
export async function imageToPng(packed: Uint8Array): Promise<Buffer> {
  const gray = unpackImage(packed);
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(gray), { raw: { width: IMAGE_WIDTH, height: IMAGE_HEIGHT, channels: 1 } })
    .png()
    .toBuffer();
}
