/**
 * zxing-wasm (zxing-cpp compiled to WebAssembly), loaded from the package's own
 * `zxing_reader.wasm` on disk - never from the CDN the package defaults to - and called
 * on 8-bit gray pixels directly (the module's pixmap entry point), so no RGBA expansion
 * is needed on the camera path.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  binarizers,
  characterSets,
  defaultReaderOptions,
  eanAddOnSymbols,
  encodeFormats,
  prepareZXingModule,
  type ReaderOptions,
  type ReadResult,
  readBarcodes,
  textModes,
  type ZXingReaderOptions,
} from 'zxing-wasm/reader';
import { ScanError } from './errors';

/** The parts of the emscripten module we call. */
export interface ReaderModule {
  HEAPU8: Uint8Array;
  _malloc(n: number): number;
  _free(p: number): void;
  readBarcodesFromPixmap(ptr: number, w: number, h: number, o: ZXingReaderOptions): ZxingVector;
}
interface ZxingVector {
  size(): number;
  get(i: number): RawResult;
  delete(): void;
}
interface RawResult {
  isValid: boolean;
  text: string;
  bytes: Uint8Array;
  format: string;
  position: {
    topLeft: { x: number; y: number };
    topRight: { x: number; y: number };
    bottomRight: { x: number; y: number };
    bottomLeft: { x: number; y: number };
  };
}

/** One code zxing found. */
export interface ZxingHit {
  text: string;
  bytes: Uint8Array;
  /** topLeft, topRight, bottomRight, bottomLeft in input pixels. */
  corners: Array<{ x: number; y: number }>;
}

/** Options for one zxing call (QR only). */
export interface ZxingOptions {
  tryHarder?: boolean;
  tryRotate?: boolean;
  tryInvert?: boolean;
  tryDownscale?: boolean;
  tryDenoise?: boolean;
  binarizer?: 'LocalAverage' | 'GlobalHistogram' | 'FixedThreshold' | 'BoolCast';
  isPure?: boolean;
  /** Also report symbols that were located but failed to decode (as `candidates`). */
  returnErrors?: boolean;
}

/** The outcome of one zxing call: the decoded hit, and where undecodable symbols were seen. */
export interface ZxingScan {
  hit?: ZxingHit;
  candidates: Array<Array<{ x: number; y: number }>>;
}

let modulePromise: Promise<ReaderModule> | undefined;

/** Path of the wasm file shipped in the zxing-wasm package. */
export function zxingWasmPath(): string {
  return createRequire(import.meta.url).resolve('zxing-wasm/reader/zxing_reader.wasm');
}

/**
 * Loads (once) and returns the zxing reader module from the local wasm file. Rejects
 * with `ScanError` (code `DECODER_UNAVAILABLE`) if the file is missing or does not
 * instantiate.
 */
export function loadZxing(): Promise<ReaderModule> {
  if (!modulePromise) {
    modulePromise = (async () => {
      try {
        const bytes = await readFile(zxingWasmPath());
        const wasmBinary = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        const mod = await prepareZXingModule({
          overrides: { wasmBinary, locateFile: (p: string) => p },
          fireImmediately: true,
        });
        return mod as unknown as ReaderModule;
      } catch (err) {
        modulePromise = undefined;
        throw new ScanError('DECODER_UNAVAILABLE', `zxing-wasm could not be loaded from its local .wasm: ${String(err)}`, {
          cause: err,
        });
      }
    })();
  }
  return modulePromise;
}

function encodeOptions(o: ZxingOptions): ZXingReaderOptions {
  const d = defaultReaderOptions;
  return {
    formats: encodeFormats(['QRCode']),
    tryHarder: o.tryHarder ?? d.tryHarder,
    tryRotate: o.tryRotate ?? d.tryRotate,
    tryInvert: o.tryInvert ?? d.tryInvert,
    tryDownscale: o.tryDownscale ?? d.tryDownscale,
    tryDenoise: o.tryDenoise ?? d.tryDenoise,
    binarizer: binarizers.indexOf(o.binarizer ?? d.binarizer),
    isPure: o.isPure ?? d.isPure,
    downscaleFactor: d.downscaleFactor,
    downscaleThreshold: d.downscaleThreshold,
    minLineCount: d.minLineCount,
    maxNumberOfSymbols: o.returnErrors ? 4 : 1,
    validateOptionalChecksum: false,
    returnErrors: o.returnErrors ?? false,
    eanAddOnSymbol: eanAddOnSymbols.indexOf(d.eanAddOnSymbol),
    textMode: textModes.indexOf('Plain'),
    characterSet: characterSets.indexOf(d.characterSet),
    tryCode39ExtendedMode: false,
  } as ZXingReaderOptions;
}

const optionCache = new Map<string, ZXingReaderOptions>();

/**
 * Decodes a QR in an 8-bit gray image with an already loaded module (synchronous, so a
 * caller can bound and measure it). Returns the first valid hit or undefined.
 */
export function zxingDecodeGray(
  mod: ReaderModule,
  data: Uint8Array,
  width: number,
  height: number,
  options: ZxingOptions = {},
): ZxingHit | undefined {
  return zxingScanGray(mod, data, width, height, options).hit;
}

/** Like `zxingDecodeGray`, also returning the corners of located-but-undecoded symbols. */
export function zxingScanGray(
  mod: ReaderModule,
  data: Uint8Array,
  width: number,
  height: number,
  options: ZxingOptions = {},
): ZxingScan {
  const key = JSON.stringify(options);
  let enc = optionCache.get(key);
  if (!enc) {
    enc = encodeOptions(options);
    optionCache.set(key, enc);
  }
  const n = width * height;
  const ptr = mod._malloc(n);
  if (!ptr) throw new ScanError('DECODER_FAILED', `zxing: cannot allocate ${n} bytes`);
  let vec: ZxingVector | undefined;
  try {
    mod.HEAPU8.set(data.subarray(0, n), ptr);
    vec = mod.readBarcodesFromPixmap(ptr, width, height, enc);
    const candidates: ZxingScan['candidates'] = [];
    for (let i = 0; i < vec.size(); i++) {
      const r = vec.get(i);
      const p = r.position;
      const corners = [p.topLeft, p.topRight, p.bottomRight, p.bottomLeft].map((q) => ({ x: q.x, y: q.y }));
      if (!r.isValid) {
        candidates.push(corners);
        continue;
      }
      return { hit: { text: r.text, bytes: Uint8Array.from(r.bytes), corners }, candidates };
    }
    return { candidates };
  } finally {
    vec?.delete();
    mod._free(ptr);
  }
}

/**
 * The package's public path on RGBA ImageData with its default options (formats QR
 * only): the bench's "zxing-wasm" baseline, and a cross-check for tests.
 */
export async function zxingDecodeRgbaPublic(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  options: ReaderOptions = {},
): Promise<ReadResult | undefined> {
  await loadZxing();
  const results = await readBarcodes(
    { data: rgba, width, height, colorSpace: 'srgb' } as unknown as Parameters<typeof readBarcodes>[0],
    {
      formats: ['QRCode'],
      ...options,
    },
  );
  return results.find((r) => r.isValid);
}
