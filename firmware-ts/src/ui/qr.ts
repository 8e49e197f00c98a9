/**
 * QR codes for the panel: modules from npm `qrcode` (`create()`), scaled by an integer
 * number of pixels per module with a 4-module quiet zone inside the box (reference §11:
 * the bezel is not guaranteed white). The version and error-correction level are chosen
 * for the box: the largest module size wins, then the highest EC level at that size.
 * Below `minModulePx` (3 px = 0.58 mm on the 2.13" panel) a code is refused with
 * `QrDoesNotFitError` instead of being drawn unscannably.
 */
import { ValidationError } from '@handset/device-drivers/core';
import type { MonoBitmap } from '@handset/device-drivers/ssd1680';
import QRCode from 'qrcode';

export type EcLevel = 'L' | 'M' | 'Q' | 'H';

export interface QrLayout {
  payload: string;
  version: number;
  ecLevel: EcLevel;
  /** Modules per side (without the quiet zone). */
  modules: number;
  modulePx: number;
  quietModules: number;
  /** Side of the drawn square including the quiet zone, px. */
  sizePx: number;
  /** Dark modules, row-major, `modules * modules`. */
  data: Uint8Array;
}

export interface QrFitOptions {
  /** Smallest acceptable pixels per module. Default 3. */
  minModulePx?: number;
  /** Quiet zone in modules. Default 4 (ISO 18004). */
  quietModules?: number;
  /** Only these EC levels (default all, H first). */
  levels?: EcLevel[];
}

/** The payload cannot be drawn scannably in the box. Code QR_DOES_NOT_FIT. */
export class QrDoesNotFitError extends ValidationError {
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: 'QR_DOES_NOT_FIT', device: 'ui', details });
  }
}

const LEVEL_RANK: Record<EcLevel, number> = { L: 0, M: 1, Q: 2, H: 3 };

/** Chooses version, EC level and module size for `payload` in a `boxPx` square. */
export function layoutQr(payload: string, boxPx: number, options: QrFitOptions = {}): QrLayout {
  const minPx = options.minModulePx ?? 3;
  const quiet = options.quietModules ?? 4;
  if (payload.length === 0) throw new QrDoesNotFitError('QR payload is empty', { boxPx });
  let best: QrLayout | undefined;
  for (const level of options.levels ?? (['H', 'Q', 'M', 'L'] as EcLevel[])) {
    let qr: ReturnType<typeof QRCode.create>;
    try {
      qr = QRCode.create(payload, { errorCorrectionLevel: level });
    } catch {
      continue; // longer than version 40 at this level
    }
    const n = qr.modules.size;
    const px = Math.floor(boxPx / (n + 2 * quiet));
    if (px < minPx) continue;
    const better = !best || px > best.modulePx || (px === best.modulePx && LEVEL_RANK[level] > LEVEL_RANK[best.ecLevel]);
    if (better)
      best = {
        payload,
        version: qr.version,
        ecLevel: level,
        modules: n,
        modulePx: px,
        quietModules: quiet,
        sizePx: px * (n + 2 * quiet),
        data: Uint8Array.from(qr.modules.data as ArrayLike<number>),
      };
  }
  if (!best) {
    const bytes = Buffer.byteLength(payload, 'utf8');
    const maxModules = Math.floor(boxPx / minPx) - 2 * quiet;
    throw new QrDoesNotFitError(
      `QR payload of ${bytes} bytes does not fit a ${boxPx}-px box at >= ${minPx} px/module with a ${quiet}-module quiet zone ` +
        `(at most ${maxModules} modules = version ${Math.max(0, Math.floor((maxModules - 17) / 4))})`,
      { bytes, boxPx, minModulePx: minPx, quietModules: quiet },
    );
  }
  return best;
}

/** Draws the code (and its white quiet zone) with the top-left corner of the quiet zone at (x, y). */
export function drawQr(bm: MonoBitmap, x: number, y: number, qr: QrLayout): void {
  bm.fillRect(x, y, qr.sizePx, qr.sizePx, 0);
  const o = qr.quietModules * qr.modulePx;
  for (let r = 0; r < qr.modules; r++)
    for (let c = 0; c < qr.modules; c++)
      if (qr.data[r * qr.modules + c]) bm.fillRect(x + o + c * qr.modulePx, y + o + r * qr.modulePx, qr.modulePx, qr.modulePx, 1);
}
