/**
 * The real capture path: frames rendered by the scene renderer, encoded with ffmpeg into
 * a video file, read back by ffmpeg as the camera's capture process (ProcessFrameSource),
 * through the Camera driver. Also: a capture command that never starts, and one that dies.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCaptureCamera, SceneRenderer } from '@handset/device-drivers/camera';
import { QrDecoder } from '@handset/firmware/modules/qr-scan';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const W = 320;
const H = 240;
const PAYLOAD = '91234567890123456788';
let dir: string;
let video: string;

beforeAll(() => {
  mkdirSync('.cache', { recursive: true });
  dir = mkdtempSync(join('.cache', 'capture-test-'));
  const r = new SceneRenderer(W, H, { code: { kind: 'qr', payload: PAYLOAD }, pose: { scale: 4 }, clutter: 10, seed: 3 });
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    r.update({ pose: { scale: 4, rotationDeg: i * 2, cx: 150 + i, cy: 120 } });
    frames.push(r.render({ ambientLux: 300 }, { exposureUs: 2500, gain: 1 }).frame);
  }
  const raw = join(dir, 'frames.gray');
  writeFileSync(raw, Buffer.concat(frames));
  video = join(dir, 'qr.mkv');
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'gray',
    '-s',
    `${W}x${H}`,
    '-r',
    '30',
    '-i',
    raw,
    '-c:v',
    'ffv1',
    video,
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('capture through ffmpeg reading a generated video', () => {
  it('delivers whole gray frames that decode to the drawn payload, then CAPTURE_DIED at the end of the file', async () => {
    const camera = createCaptureCamera({ kind: 'file', path: video, width: W, height: H, realtime: true });
    const decoder = await QrDecoder.create({ budgetMs: 200 });
    await camera.start();
    const texts: string[] = [];
    let frames = 0;
    let err: unknown;
    try {
      for (;;) {
        const f = await camera.next();
        frames++;
        expect(f.data.length).toBe(W * H);
        const out = decoder.decode(f);
        if (out.hit) texts.push(out.hit.text);
      }
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CAPTURE_DIED' });
    expect(frames).toBeGreaterThan(5);
    expect(frames + camera.stats.dropped).toBeLessThanOrEqual(20);
    expect(texts.length).toBeGreaterThan(3);
    expect(new Set(texts)).toEqual(new Set([PAYLOAD]));
    await camera.stop();
  });

  it('a capture command that never starts -> CAPTURE_START', async () => {
    const camera = createCaptureCamera({ kind: 'file', path: video, width: W, height: H, bin: '/nonexistent/ffmpeg' });
    await expect(camera.start()).rejects.toMatchObject({ code: 'CAPTURE_START' });
  });

  it('a capture process that fails on its input -> typed error, no hang', async () => {
    const bad = join(dir, 'not-a-video.mkv');
    writeFileSync(bad, 'this is not a video');
    const camera = createCaptureCamera({ kind: 'file', path: bad, width: W, height: H }, { startTimeoutMs: 5000 });
    await expect(camera.start()).rejects.toMatchObject({ code: 'CAPTURE_START' });
  });
});
