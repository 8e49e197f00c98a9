/**
 * The camera's "protocol": what the capture processes write on stdout and how to start
 * them, the exposure profile shared by the real camera's AE (libcamera) and the sim's
 * AE model, the per-frame statistics the fill-light controller reads, and the camera
 * errors. Imported by both `driver.ts` and `sim.ts`.
 *
 * Byte layouts (reference camera-light-pinpad.md section 1):
 * - `rpicam-vid --codec yuv420 -o -`: planar YUV 4:2:0 per frame, rows padded to the
 *   hardware stride (a multiple of 64 bytes): Y plane = stride x height, then U and V at
 *   stride/2 x height/2 each. The Y plane cropped to `width` is the gray image.
 * - `ffmpeg ... -f rawvideo -pix_fmt gray -`: width x height bytes per frame, no padding.
 * Pipe chunks never align with frames: readers accumulate and slice whole frames.
 */
import { HandsetError, type HandsetErrorOptions, ValidationError } from '../core/errors';

/** Camera errors. Codes: `FRAME_SIZE` (wrong dimensions), `FRAME_TRUNCATED` (too few bytes). */
export class CameraFrameError extends HandsetError {
  constructor(code: 'FRAME_SIZE' | 'FRAME_TRUNCATED', message: string, options: HandsetErrorOptions = {}) {
    super(code, message, options);
  }
}

/** How one raw frame is laid out in the capture pipe. */
export interface FrameLayout {
  format: 'gray' | 'yuv420';
  width: number;
  height: number;
  /** Bytes per row of the Y (gray) plane. */
  stride: number;
  /** Bytes per whole frame in the pipe. */
  frameBytes: number;
}

/** rpicam-vid's YUV420 layout: Y stride padded to a multiple of `align` (64) bytes. */
export function yuv420Layout(width: number, height: number, align = 64): FrameLayout {
  checkSize(width, height);
  if (width % 2 || height % 2) throw new ValidationError(`yuv420 needs even dimensions, got ${width}x${height}`);
  const stride = Math.ceil(width / align) * align;
  return { format: 'yuv420', width, height, stride, frameBytes: (stride * height * 3) / 2 };
}

/** ffmpeg `-pix_fmt gray` layout. */
export function grayLayout(width: number, height: number): FrameLayout {
  checkSize(width, height);
  return { format: 'gray', width, height, stride: width, frameBytes: width * height };
}

/** Copies the gray image (Y plane cropped to width) out of one raw frame. */
export function extractGray(
  raw: Uint8Array,
  layout: FrameLayout,
  out = new Uint8Array(layout.width * layout.height),
): Uint8Array {
  if (raw.length < layout.frameBytes)
    throw new CameraFrameError('FRAME_TRUNCATED', `raw frame has ${raw.length} bytes, layout needs ${layout.frameBytes}`);
  if (layout.stride === layout.width) {
    out.set(raw.subarray(0, layout.width * layout.height));
    return out;
  }
  for (let y = 0; y < layout.height; y++)
    out.set(raw.subarray(y * layout.stride, y * layout.stride + layout.width), y * layout.width);
  return out;
}

function checkSize(width: number, height: number): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width <= 8192 && height <= 8192))
    throw new ValidationError(`frame size must be integers in 1..8192, got ${width}x${height}`);
}

/** A process to start: command and argv, and the layout of what it writes on stdout. */
export interface CaptureCommand {
  command: string;
  args: string[];
  layout: FrameLayout;
}

export interface RpicamOptions {
  width: number;
  height: number;
  fps?: number;
  /** Fixed shutter in us (locks AE's shutter). */
  shutterUs?: number;
  /** Fixed analogue gain. */
  gain?: number;
  /** Mains flicker period: 10000 (50 Hz) or 8333 (60 Hz). */
  flickerPeriodUs?: number;
  /** Where per-frame JSON metadata (ExposureTime, AnalogueGain) goes: a file or FIFO. */
  metadataPath?: string;
  /** Camera index for multi-camera boards. */
  camera?: number;
}

/**
 * `rpicam-vid` streaming YUV420 to stdout forever, no preview. Stride-aware layout.
 * Metadata goes to a separate file/FIFO because stdout carries the frames.
 */
export function rpicamVidCommand(o: RpicamOptions): CaptureCommand {
  const layout = yuv420Layout(o.width, o.height);
  const args = ['-t', '0', '-n', '--codec', 'yuv420', '--width', String(o.width), '--height', String(o.height)];
  args.push('--framerate', String(o.fps ?? 30));
  if (o.camera !== undefined) args.push('--camera', String(o.camera));
  if (o.shutterUs !== undefined) args.push('--shutter', String(Math.round(o.shutterUs)));
  if (o.gain !== undefined) args.push('--gain', String(o.gain));
  if (o.flickerPeriodUs !== undefined) args.push('--flicker-period', `${Math.round(o.flickerPeriodUs)}us`);
  if (o.metadataPath) args.push('--metadata', o.metadataPath, '--metadata-format', 'json');
  args.push('-o', '-');
  return { command: 'rpicam-vid', args, layout };
}

export interface FfmpegV4l2Options {
  device: string;
  width: number;
  height: number;
  fps?: number;
  /** Camera-side format: raw 'yuyv422' (default) or 'mjpeg' for high resolutions. */
  inputFormat?: 'yuyv422' | 'mjpeg';
}

/** `ffmpeg -f v4l2` from a UVC webcam, gray frames to stdout. */
export function ffmpegV4l2Command(o: FfmpegV4l2Options): CaptureCommand {
  const layout = grayLayout(o.width, o.height);
  return {
    command: 'ffmpeg',
    args: [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'v4l2', '-input_format', o.inputFormat ?? 'yuyv422'],
      ...['-video_size', `${o.width}x${o.height}`, '-framerate', String(o.fps ?? 30), '-i', o.device],
      ...['-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    ],
    layout,
  };
}

export interface FfmpegFileOptions {
  path: string;
  width: number;
  height: number;
  /** Read at the file's native rate (`-re`), as a live camera would deliver. Default true. */
  realtime?: boolean;
  /** Loop the file forever. Default false. */
  loop?: boolean;
}

/** `ffmpeg` decoding a video file to gray frames on stdout: the test stand-in for a camera. */
export function ffmpegFileCommand(o: FfmpegFileOptions): CaptureCommand {
  const layout = grayLayout(o.width, o.height);
  const args = ['-hide_banner', '-loglevel', 'error'];
  if (o.realtime ?? true) args.push('-re');
  if (o.loop) args.push('-stream_loop', '-1');
  args.push('-i', o.path, '-vf', `scale=${o.width}:${o.height}`, '-f', 'rawvideo', '-pix_fmt', 'gray', '-');
  return { command: 'ffmpeg', args, layout };
}

/**
 * Exposure profile of the libcamera Raspberry Pi AGC "normal" mode (reference section
 * 3.3): shutter rises first, then gain, stage by stage. Shared by the sim's AE model.
 */
export const EXPOSURE_PROFILE = {
  shutterUs: [100, 10_000, 30_000, 60_000, 66_666],
  gain: [1, 2, 4, 6, 10],
  maxGain: 16,
  /** Target mean linear luminance (libcamera y_target). */
  yTarget: 0.17,
} as const;

/** Splits a total exposure (shutter us x gain) into shutter and gain along the profile. */
export function splitExposure(total: number): { exposureUs: number; gain: number } {
  const { shutterUs, gain } = EXPOSURE_PROFILE;
  const minShutter = shutterUs[0] ?? 100;
  if (total <= minShutter) return { exposureUs: minShutter, gain: 1 };
  let g = 1;
  for (let i = 1; i < shutterUs.length; i++) {
    const s = shutterUs[i] ?? 0;
    if (total <= s * g) return { exposureUs: total / g, gain: g };
    const ng = gain[i] ?? g;
    if (total <= s * ng) return { exposureUs: s, gain: total / s };
    g = ng;
  }
  const maxS = shutterUs[shutterUs.length - 1] ?? 66_666;
  return { exposureUs: maxS, gain: Math.min(EXPOSURE_PROFILE.maxGain, total / maxS) };
}

/** Luminance statistics of a frame's central region, for the fill-light controller. */
export interface FrameLuma {
  /** Mean gray 0..255 over the central half (both axes) of the frame. */
  meanY: number;
  /** Fraction of the region's pixels at >= 250 (clipped / glare). */
  clipped: number;
}

/** Mean and clip fraction over the centre of a gray frame, every 2nd pixel (~0.1 ms at 640x480). */
export function frameLuma(data: Uint8Array, width: number, height: number): FrameLuma {
  const x0 = width >> 2;
  const x1 = width - x0;
  const y0 = height >> 2;
  const y1 = height - y0;
  let sum = 0;
  let n = 0;
  let clip = 0;
  for (let y = y0; y < y1; y += 2) {
    const row = y * width;
    for (let x = x0; x < x1; x += 2) {
      const v = data[row + x] ?? 0;
      sum += v;
      if (v >= 250) clip++;
      n++;
    }
  }
  return n ? { meanY: sum / n, clipped: clip / n } : { meanY: 0, clipped: 0 };
}
