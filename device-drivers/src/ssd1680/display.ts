/**
 * The e-ink display class (STYLE habit 10): one abstract `EinkDisplay` with a typed event
 * map, and 1-bit bitmaps in the caller's (logical, rotated) orientation. The SSD1680 is
 * one controller (`driver.ts`); `EinkDisplay.create('ssd1680', ...)` lazy-imports it.
 */
import { EventEmitter } from 'node:events';
import type { HandsetError } from '../core/errors';
import { EinkInputError } from './protocol';

/** An axis-aligned rectangle in pixels, `x`/`y` inclusive start, `w`/`h` sizes. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * A 1-bit image: one byte per pixel, 1 = black (ink), 0 = white (paper). Row-major,
 * `data[y * width + x]`. The driver packs it into the controller's format (1 = white,
 * MSB leftmost) itself.
 */
export class MonoBitmap {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;

  constructor(width: number, height: number, data?: Uint8Array) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
      throw new EinkInputError(`bitmap size ${width}x${height} is not a positive integer size`);
    this.width = width;
    this.height = height;
    if (data && data.length !== width * height)
      throw new EinkInputError(`bitmap data has ${data.length} pixels, expected ${width * height}`);
    this.data = data ?? new Uint8Array(width * height);
  }

  get(x: number, y: number): 0 | 1 {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0;
    return (this.data[y * this.width + x] ?? 0) as 0 | 1;
  }

  set(x: number, y: number, black: 0 | 1 | boolean = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data[y * this.width + x] = black ? 1 : 0;
  }

  /** Fills a rectangle (clipped to the bitmap). */
  fillRect(x: number, y: number, w: number, h: number, black: 0 | 1 | boolean = 1): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    const v = black ? 1 : 0;
    for (let yy = y0; yy < y1; yy++) this.data.fill(v, yy * this.width + x0, yy * this.width + x1);
  }

  clone(): MonoBitmap {
    return new MonoBitmap(this.width, this.height, Uint8Array.from(this.data));
  }

  equals(other: MonoBitmap): boolean {
    if (other.width !== this.width || other.height !== this.height) return false;
    const a = this.data;
    const b = other.data;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Number of black pixels. */
  inkCount(): number {
    let n = 0;
    for (const v of this.data) n += v;
    return n;
  }

  /** Bounding box of the pixels that differ from `other`, or undefined when equal. */
  diffRect(other: MonoBitmap): Rect | undefined {
    if (other.width !== this.width || other.height !== this.height)
      throw new EinkInputError('diffRect needs two bitmaps of the same size');
    let x0 = this.width;
    let y0 = this.height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < this.height; y++) {
      const row = y * this.width;
      for (let x = 0; x < this.width; x++) {
        if (this.data[row + x] !== other.data[row + x]) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          y1 = y;
        }
      }
    }
    return x1 < 0 ? undefined : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
  }

  /** RGBA-free 8-bit gray copy (0 = black, 255 = white), scaled up by an integer factor. */
  toGray(scale = 1): { width: number; height: number; gray: Uint8Array } {
    const s = Math.max(1, Math.floor(scale));
    const w = this.width * s;
    const h = this.height * s;
    const gray = new Uint8Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) gray[y * w + x] = this.data[Math.floor(y / s) * this.width + Math.floor(x / s)] ? 0 : 255;
    return { width: w, height: h, gray };
  }
}

/** Encodes an 8-bit gray image as PNG (sharp, loaded lazily). */
export async function grayToPng(width: number, height: number, gray: Uint8Array, scale = 1): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  let img = sharp(Buffer.from(gray), { raw: { width, height, channels: 1 } });
  const s = Math.max(1, Math.floor(scale));
  if (s > 1) img = img.resize(width * s, height * s, { kernel: 'nearest' });
  return img.png({ compressionLevel: 9 }).toBuffer();
}

/** PNG of a bitmap (black ink on white), optionally scaled up nearest-neighbour. */
export function bitmapToPng(bitmap: MonoBitmap, scale = 1): Promise<Buffer> {
  const { width, height, gray } = bitmap.toGray(1);
  return grayToPng(width, height, gray, scale);
}

/** How a frame reaches the glass. */
export type RefreshKind = 'full' | 'fast' | 'partial';

export interface UpdateOptions {
  /**
   * 'auto' (default): partial refresh of the changed window when allowed (a frame is
   * known on the glass, fewer than `maxPartials` partials since the last full refresh),
   * else full. 'full' / 'fast' force a mode-1 refresh. 'partial' asks for a partial one;
   * the driver still upgrades it to full when the rules require.
   */
  mode?: 'auto' | RefreshKind;
  signal?: AbortSignal;
}

/** What one `update()` did. */
export interface UpdateInfo {
  /** 'none' when the frame equals what is shown (nothing sent). */
  kind: RefreshKind | 'none';
  /** Why a full refresh was chosen when 'auto'/'partial' was asked ('first', 'wake', 'limit', 'recover'). */
  reason?: string;
  /** Bounding box of the native-RAM windows written (8-px aligned in X) for partial refreshes. */
  window?: Rect;
  /** Each RAM window written by a partial refresh (several disjoint changes -> several windows, one activation). */
  windows?: Rect[];
  /** Bytes clocked over SPI by this update (commands + data). */
  bytes: number;
  /** Milliseconds the controller held BUSY high. */
  busyMs: number;
  /** Partial refreshes since the last full one, after this update. */
  partialsSinceFull: number;
}

export interface EinkEvents {
  update: [UpdateInfo];
  sleep: [];
  wake: [];
  /** A failed update (the error is also thrown to the caller). */
  error: [HandsetError];
}

/** Cumulative counters of a display driver. */
export interface EinkDriverStats {
  updates: { full: number; fast: number; partial: number; none: number };
  bytesSent: number;
  busyMs: number;
  errors: number;
  wakes: number;
}

/**
 * An e-ink display in logical orientation. Contract:
 * - `update(frame)` resolves once the refresh finished (BUSY low); calls are serialised.
 * - A failed update rejects with a typed error (`EinkBusyTimeoutError`, `EinkBusError`);
 *   the next update is a full refresh from a fresh reset, and `shown` is never a frame
 *   that did not reach the glass.
 * - After `sleep()` the next update wakes the panel by reset and refreshes fully.
 */
export abstract class EinkDisplay extends EventEmitter<EinkEvents> {
  abstract readonly width: number;
  abstract readonly height: number;
  abstract init(signal?: AbortSignal): Promise<void>;
  abstract update(frame: MonoBitmap, options?: UpdateOptions): Promise<UpdateInfo>;
  abstract sleep(): Promise<void>;
  abstract close(): Promise<void>;
  /** The frame on the glass as far as the driver knows (undefined: unknown). */
  abstract readonly shown: MonoBitmap | undefined;
  abstract readonly stats: EinkDriverStats;

  /** A blank (white) frame in this display's orientation. */
  blank(): MonoBitmap {
    return new MonoBitmap(this.width, this.height);
  }

  /** Factory choosing the controller; lazy-imports it (johnny-five `Controllers` style). */
  static async create(controller: 'ssd1680', options: import('./driver').Ssd1680Options): Promise<EinkDisplay> {
    if (controller === 'ssd1680') {
      const { Ssd1680 } = await import('./driver');
      return new Ssd1680(options);
    }
    throw new EinkInputError(`unknown e-ink controller '${String(controller)}'`);
  }
}
