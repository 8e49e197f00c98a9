/**
 * `handset scan [--json] FILE...` in-process (main + recordingIo) and once end to end
 * through the built bin. Fixtures are generated here: QR PNGs (qrcode), a JPEG photo of a
 * rendered camera scene with EXIF orientation (sharp), a transparent-background PNG, a
 * binary-garbage QR, an image without a code, and a file that is not an image.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SceneRenderer } from '@handset/device-drivers/camera';
import { buildMpm, dammCheckDigit } from '@handset/host-sdk/protocol';
import QRCode from 'qrcode';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordingIo } from '../../host-sdk/src/cli/io';
import { main } from '../../host-sdk/src/cli/program';
import { HANDSET_BIN } from '../src/built-cli';

let dir: string;
const f = (name: string) => join(dir, name);
const EMV = buildMpm({
  merchantName: 'TEST SHOP',
  merchantCity: 'BERLIN',
  mcc: '5812',
  currency: 'EUR',
  country: 'DE',
  amount: '12.50',
  merchantId: 'm-shop-1',
  reference: 'ORD42',
});
const PAYCODE = `9123456789012345678${dammCheckDigit('9123456789012345678')}`;

beforeAll(async () => {
  mkdirSync('.cache', { recursive: true });
  dir = mkdtempSync(join('.cache', 'scan-cli-'));
  await QRCode.toFile(f('emv.png'), EMV, { errorCorrectionLevel: 'M', scale: 4 });
  await QRCode.toFile(f('paycode.png'), PAYCODE, { scale: 3 });
  await QRCode.toFile(f('transparent.png'), PAYCODE, { scale: 4, color: { dark: '#000000ff', light: '#00000000' } });
  await QRCode.toFile(
    f('garbage.png'),
    [{ data: Uint8Array.from([0x00, 0xff, 0xfe, 0x01, 0x80, 0x81, 0x9f, 0x07]), mode: 'byte' }],
    {
      scale: 4,
    },
  );
  // a camera-like photo, stored rotated with EXIF orientation 6 (viewers rotate it back)
  const r = new SceneRenderer(640, 480, {
    code: { kind: 'qr', payload: EMV },
    pose: { scale: 3.5, rotationDeg: 15 },
    clutter: 40,
    seed: 8,
  });
  const { frame } = r.render({ ambientLux: 300 }, { exposureUs: 3000, gain: 1 });
  await sharp(frame, { raw: { width: 640, height: 480, channels: 1 } })
    .rotate(-90)
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 85 })
    .toFile(f('photo.jpg'));
  await sharp({ create: { width: 300, height: 200, channels: 3, background: '#8899aa' } })
    .png()
    .toFile(f('blank.png'));
  writeFileSync(f('notes.txt'), 'this is not an image\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = recordingIo();
  const code = await main(args, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('handset scan', () => {
  it('--json: one object per file per line, classified with the protocol parsers', async () => {
    const r = await run(['scan', '--json', f('emv.png'), f('paycode.png'), f('photo.jpg'), f('transparent.png'), f('blank.png')]);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.file)).toEqual([
      f('emv.png'),
      f('paycode.png'),
      f('photo.jpg'),
      f('transparent.png'),
      f('blank.png'),
    ]);
    expect(lines[0]).toMatchObject({ payload: EMV, kind: 'emv' });
    expect(lines[1]).toMatchObject({ payload: PAYCODE, kind: 'paycode' });
    expect(lines[2]).toMatchObject({ payload: EMV, kind: 'emv', width: 640, height: 480 }); // EXIF applied
    expect(lines[3]).toMatchObject({ payload: PAYCODE, kind: 'paycode' }); // alpha flattened onto white
    expect(lines[4]).toMatchObject({ payload: null, kind: 'none' });
    for (const l of lines) expect(typeof l.ms).toBe('number');
  });

  it('a non-image file -> typed error line, the other files still processed, exit code non-zero', async () => {
    const r = await run(['scan', '--json', f('notes.txt'), f('missing.png'), f('paycode.png')]);
    expect(r.code).toBe(1);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ kind: 'error', payload: null, error: { code: 'IMAGE_INVALID' } });
    expect(lines[1]).toMatchObject({ kind: 'error', error: { code: 'IMAGE_UNREADABLE' } });
    expect(lines[2]).toMatchObject({ kind: 'paycode', payload: PAYCODE });
    expect(r.err).toContain('SCAN_FAILED');
  });

  it('a QR whose content is binary garbage -> unsupported, not a crash', async () => {
    const r = await run(['scan', '--json', f('garbage.png')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ kind: 'unsupported', reason: 'binary' });
  });

  it('human output', async () => {
    const r = await run(['scan', f('paycode.png'), f('blank.png'), f('notes.txt')]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`paycode.png: paycode "${PAYCODE}"`);
    expect(r.out).toContain('blank.png: no code');
    expect(r.err).toMatch(/notes\.txt: error IMAGE_INVALID/);
  });

  it('end to end through the built bin', async () => {
    const bin = HANDSET_BIN;
    const p = promisify(execFile)('node', [bin, 'scan', '--json', f('emv.png'), f('notes.txt')]);
    const err = await p.then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    const lines = (err?.stdout ?? '')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ kind: 'emv', payload: EMV });
    expect(lines[1]).toMatchObject({ kind: 'error', error: { code: 'IMAGE_INVALID' } });
  }, 120_000);
});
