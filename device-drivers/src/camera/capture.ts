/**
 * Pre-wired cameras over a capture process (the transports' `ProcessFrameSource`):
 * a CSI camera via rpicam-vid, a UVC webcam via ffmpeg v4l2, or a video file via ffmpeg
 * (the test stand-in). Thin variants: each is a command builder + `new Camera(...)`.
 */
import type { Clock } from '../core/clock';
import {
  type CaptureCommand,
  type FfmpegV4l2Options,
  ffmpegV4l2Command,
  ProcessFrameSource,
  type RpicamVidOptions,
  rpicamVidCommand,
} from '../transport/linux/frame-source';
import { Camera } from './driver';
import { type FfmpegFileOptions, ffmpegFileCommand } from './protocol';

export type CaptureSpec =
  | ({ kind: 'csi' } & RpicamVidOptions)
  | ({ kind: 'uvc' } & FfmpegV4l2Options)
  | ({ kind: 'file' } & FfmpegFileOptions)
  | { kind: 'command'; command: CaptureCommand };

export interface CaptureCameraOptions {
  startTimeoutMs?: number;
  clock?: Clock;
  name?: string;
}

/** The capture command for a spec. */
export function captureCommand(spec: CaptureSpec): CaptureCommand {
  switch (spec.kind) {
    case 'csi':
      return rpicamVidCommand(spec);
    case 'uvc':
      return ffmpegV4l2Command(spec);
    case 'file':
      return ffmpegFileCommand(spec);
    case 'command':
      return spec.command;
  }
}

/** A Camera reading frames from a capture process. */
export function createCaptureCamera(spec: CaptureSpec, options: CaptureCameraOptions = {}): Camera {
  const command = captureCommand(spec);
  const source = new ProcessFrameSource(command, {
    startTimeoutMs: options.startTimeoutMs,
    clock: options.clock,
    name: options.name,
  });
  return new Camera({ source, name: options.name ?? `camera:${command.cmd}` });
}
