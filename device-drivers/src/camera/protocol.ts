/**
 * The camera's "protocol": what the capture processes write on stdout and how to start
 * them, the exposure profile shared by the real camera's AE (libcamera) and the sim's
 * AE model, the per-frame statistics the fill-light controller reads, and the camera
 * errors. Imported by both `driver.ts` and `sim.ts`.
 *
 * The pipe byte layouts (rpicam-vid YUV420 with stride padding, ffmpeg gray) and the
 * CSI/UVC command builders live with the capture transport
 * (transport/linux/frame-source.ts); this file adds the video-file command used as the
 * camera in tests.
 */
import { HandsetError, type HandsetErrorOptions, ValidationError } from '../core/errors';
import type { CaptureCommand } from '../transport/linux/frame-source';

/** Camera errors. Codes: `FRAME_SIZE` (wrong dimensions), `FRAME_TRUNCATED` (too few bytes). */
export class CameraFrameError extends HandsetError {
  constructor(code: 'FRAME_SIZE' | 'FRAME_TRUNCATED', message: string, options: HandsetErrorOptions = {}) {
    super(code, message, options);
  }
}

export interface FfmpegFileOptions {
  path: string;
  width: number;
  height: number;
  /** Read at the file's native rate (`-re`), as a live camera would deliver. Default true. */
  realtime?: boolean;
  /** Loop the file forever. Default false. */
  loop?: boolean;
  bin?: string;
}

/**
 * `ffmpeg` decoding a video file to gray frames on stdout: the test stand-in for a
 * camera (the CSI and UVC builders are the transports' `rpicamVidCommand` /
 * `ffmpegV4l2Command`).
 */
export function ffmpegFileCommand(o: FfmpegFileOptions): CaptureCommand {
  if (!(Number.isInteger(o.width) && Number.isInteger(o.height) && o.width > 0 && o.height > 0))
    throw new ValidationError(`frame size must be positive integers, got ${o.width}x${o.height}`);
  const args = ['-hide_banner', '-loglevel', 'error', '-nostdin'];
  if (o.realtime ?? true) args.push('-re');
  if (o.loop) args.push('-stream_loop', '-1');
  args.push('-i', o.path, '-vf', `scale=${o.width}:${o.height}`, '-f', 'rawvideo', '-pix_fmt', 'gray', '-');
  return { cmd: o.bin ?? 'ffmpeg', args, width: o.width, height: o.height, pixelFormat: 'gray' };
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
