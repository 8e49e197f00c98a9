import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrayFrame } from '../../src/transport';
import { describeFrameSourceContract } from '../../src/transport/contract';
import {
  type CaptureCommand,
  ffmpegV4l2Command,
  frameBytes,
  ProcessFrameSource,
  rpicamVidCommand,
} from '../../src/transport/linux/frame-source';

const W = 160;
const H = 120;
const dir = mkdtempSync(join(tmpdir(), 'handset-capture-'));
const video = join(dir, 'testsrc.mkv');
let reference: Buffer[] = [];
let referenceGray: Buffer[] = [];

beforeAll(async () => {
  // 1 s of ffmpeg's test pattern, 30 fps, lossless (ffv1) so every decode is identical.
  await promisify(execFile)('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${W}x${H}:rate=30`,
    '-t',
    '1',
    '-c:v',
    'ffv1',
    video,
  ]);
  const yuv = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-i', video, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'],
    {
      maxBuffer: 1 << 26,
    },
  );
  const size = W * H * 1.5;
  reference = Array.from({ length: yuv.length / size }, (_, i) => yuv.subarray(i * size, i * size + W * H));
  const gray = execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-i', video, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    {
      maxBuffer: 1 << 26,
    },
  );
  referenceGray = Array.from({ length: gray.length / (W * H) }, (_, i) => gray.subarray(i * W * H, (i + 1) * W * H));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const isFrame = (x: unknown): x is GrayFrame => typeof x === 'object' && x !== null && 'data' in x;
const ff = (args: string[]) => ['-hide_banner', '-loglevel', 'error', ...args];

describeFrameSourceContract('ProcessFrameSource over ffmpeg playing a generated video in real time', async () => {
  const source = new ProcessFrameSource({
    cmd: 'ffmpeg',
    args: ff(['-re', '-stream_loop', '-1', '-i', video, '-f', 'rawvideo', '-pix_fmt', 'gray', '-']),
    width: W,
    height: H,
    pixelFormat: 'gray',
  });
  return {
    source,
    frameIntervalMs: 1000 / 30,
    kill: () => {
      process.kill(source.pid as number, 'SIGKILL');
    },
  };
});

describe('ProcessFrameSource with real ffmpeg', () => {
  it('reassembles every frame of a file read as fast as possible: count, size, pixels byte-exact (yuv420, padded stride)', async () => {
    expect(reference).toHaveLength(30);
    // Pad each row to 192 bytes (a multiple of 64, like rpicam-vid's ISP) so the stride path is exercised.
    const cmd: CaptureCommand = {
      cmd: 'ffmpeg',
      args: ff(['-i', video, '-vf', 'format=yuv420p,pad=192:120:0:0', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-']),
      width: W,
      height: H,
      pixelFormat: 'yuv420',
      stride: 192,
    };
    const source = new ProcessFrameSource(cmd);
    expect(source.bytesPerFrame).toBe(192 * 120 * 1.5);
    await source.start();
    const got: number[] = [];
    for (;;) {
      const f: GrayFrame | unknown = await source.next().catch((e: unknown) => e);
      if (!isFrame(f)) {
        expect(f).toMatchObject({ code: 'CAPTURE_DIED', details: { exitCode: 0, partialFrameBytes: 0 } });
        break;
      }
      expect(f.data.length).toBe(W * H);
      expect(Buffer.from(f.data).equals(reference[f.seq] as Buffer)).toBe(true);
      got.push(f.seq);
    }
    expect(source.stats.received).toBe(30);
    expect(got.length + source.stats.dropped).toBe(30);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    await source.stop();
  });

  it('gray output: every frame delivered when the consumer keeps up (real-time pacing), pixels match', async () => {
    const source = new ProcessFrameSource({
      cmd: 'ffmpeg',
      args: ff(['-re', '-i', video, '-f', 'rawvideo', '-pix_fmt', 'gray', '-']),
      width: W,
      height: H,
      pixelFormat: 'gray',
    });
    await source.start();
    const seqs: number[] = [];
    let mismatched = 0;
    for (;;) {
      const f = await source.next().catch(() => undefined);
      if (!f) break;
      seqs.push(f.seq);
      if (!Buffer.from(f.data).equals(referenceGray[f.seq] as Buffer)) mismatched++;
    }
    expect(source.stats.received).toBe(30);
    expect(seqs.length).toBeGreaterThanOrEqual(28);
    expect(referenceGray).toHaveLength(30);
    expect(mismatched).toBe(0);
    await source.stop();
  });

  it('a capture that dies mid-stream: the frames before, then CAPTURE_DIED with exit code and stderr tail', async () => {
    const fb = W * H;
    const source = new ProcessFrameSource({
      cmd: 'sh',
      args: ['-c', `head -c ${fb * 2 + 100} /dev/urandom; echo 'ERROR: camera frontend has timed out!' >&2; exit 3`],
      width: W,
      height: H,
      pixelFormat: 'gray',
    });
    await source.start();
    const frames = [];
    let err: unknown;
    for (let i = 0; i < 5 && !err; i++) {
      await source.next().then(
        (f) => frames.push(f),
        (e: unknown) => {
          err = e;
        },
      );
    }
    expect(frames.length).toBeGreaterThanOrEqual(1);
    expect(source.stats.received).toBe(2);
    expect(err).toMatchObject({
      code: 'CAPTURE_DIED',
      message: expect.stringContaining('exited with code 3: ERROR: camera frontend has timed out!'),
      details: { exitCode: 3, partialFrameBytes: 100 },
    });
  });

  it('a command that cannot start, exits before a frame, or stays silent -> CAPTURE_START', async () => {
    const base = { width: W, height: H, pixelFormat: 'gray' as const };
    await expect(new ProcessFrameSource({ cmd: 'rpicam-vid-does-not-exist', args: [], ...base }).start()).rejects.toMatchObject({
      code: 'CAPTURE_START',
      message: expect.stringContaining('ENOENT'),
    });
    await expect(
      new ProcessFrameSource({
        cmd: 'ffmpeg',
        args: ff(['-f', 'v4l2', '-i', '/dev/video-handset-none', '-f', 'rawvideo', '-']),
        ...base,
      }).start(),
    ).rejects.toMatchObject({
      code: 'CAPTURE_START',
      message: expect.stringContaining('/dev/video-handset-none'),
      details: { exitCode: expect.any(Number) },
    });
    const t0 = Date.now();
    const silent = new ProcessFrameSource({ cmd: 'sleep', args: ['30'], ...base }, { startTimeoutMs: 200 });
    await expect(silent.start()).rejects.toMatchObject({
      code: 'CAPTURE_START',
      message: expect.stringContaining('within 200 ms'),
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(silent.isRunning).toBe(false);
  });
});

describe('capture command builders', () => {
  it('rpicam-vid: YUV420 to stdout, stride padded to 64', () => {
    const c = rpicamVidCommand({ width: 480, height: 640, fps: 30, shutterUs: 10_000, gain: 2 });
    expect(c.cmd).toBe('rpicam-vid');
    expect(c.args).toEqual([
      '-t',
      '0',
      '-n',
      '--codec',
      'yuv420',
      '--width',
      '480',
      '--height',
      '640',
      '--framerate',
      '30',
      '--shutter',
      '10000',
      '--gain',
      '2',
      '-o',
      '-',
    ]);
    expect(c.stride).toBe(512);
    expect(frameBytes(c)).toBe(491_520); // the size measured on a Pi (reference §1.2)
    expect(frameBytes(rpicamVidCommand({ width: 640, height: 480, fps: 30 }))).toBe(460_800);
  });

  it('ffmpeg v4l2: gray rawvideo to stdout', () => {
    const c = ffmpegV4l2Command({ device: '/dev/video0', width: 640, height: 480, fps: 30 });
    expect([c.cmd, ...c.args].join(' ')).toBe(
      'ffmpeg -hide_banner -loglevel error -f v4l2 -input_format yuyv422 -video_size 640x480 -framerate 30 -i /dev/video0 -f rawvideo -pix_fmt gray -',
    );
    expect(frameBytes(c)).toBe(307_200);
  });
});
