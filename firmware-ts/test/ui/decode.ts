import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jsQR from 'jsqr';
import sharp from 'sharp';

/** Decodes a QR code from a PNG with jsQR (RGBA). */
export async function decodeJsQr(png: Buffer): Promise<string | undefined> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const r = jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), info.width, info.height);
  return r?.data;
}

/** Decodes a QR code from a PNG with zbarimg (zbar-tools). */
export async function decodeZbar(png: Buffer): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'eink-zbar-'));
  try {
    const file = join(dir, 'qr.png');
    await writeFile(file, png);
    const { stdout } = await promisify(execFile)('zbarimg', ['-q', '--raw', file]).catch((e) => ({
      stdout: e.code === 4 ? '' : Promise.reject(e),
    }));
    const out = await stdout;
    return out ? out.replace(/\n$/, '') : undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
