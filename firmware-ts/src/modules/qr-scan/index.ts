export * from './classify';
export * from './errors';
export * from './gray';
export * from './pipeline';
export * from './scanner';
export {
  loadZxing,
  type ZxingHit,
  type ZxingOptions,
  zxingDecodeGray,
  zxingDecodeRgbaPublic,
  zxingScanGray,
  zxingWasmPath,
} from './zxing';
