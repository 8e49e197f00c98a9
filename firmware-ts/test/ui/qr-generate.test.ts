import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@handset/device-drivers/core';
import { createSimEinkRig, type UpdateInfo } from '@handset/device-drivers/ssd1680';
import { describe, expect, it } from 'vitest';
import { recordingIo } from '../../../host-sdk/src/cli/io';
import { main } from '../../../host-sdk/src/cli/program';
import { QrDoesNotFitError, QrGenerateModule } from '../../src/modules/qr-generate';
import { decodeJsQr, decodeZbar } from './decode';

const codes = [
  '91234567890123456785',
  '91234567890987654328',
  '91234567890555555551',
  '91234567890111111112',
  '91234567890222222223',
];

describe('QR generation module: a 60-second pay code session', () => {
  it('countdown and code refreshes send only the changed windows; full refresh after 5 partials; QR stays decodable', async () => {
    const clock = new ManualClock();
    const rig = await createSimEinkRig({ rotation: 90, clock, record: false });
    const mod = new QrGenerateModule({ display: rig.display, clock });
    let n = 0;
    const seen: Array<{ info: UpdateInfo; secondsLeft: number; code: string }> = [];
    const result = await mod.showPayCode({
      code: codes[0] as string,
      nextCode: () => codes[++n] as string,
      amount: { minor: 1999n, currency: 'EUR' },
      onUpdate: (info, secondsLeft, code) => {
        seen.push({ info, secondsLeft, code });
      },
    });
    expect(result.reason).toBe('expired');
    expect(result.codes).toEqual(codes.slice(0, 4)); // new code at 15, 30, 45 s
    expect(result.elapsedMs).toBeGreaterThanOrEqual(60_000);
    expect(result.elapsedMs).toBeLessThan(65_000);
    const kinds = seen.map((s) => s.info.kind);
    expect(kinds[0]).toBe('full');
    // never more than 5 partials in a row
    let run = 0;
    for (const k of kinds) {
      run = k === 'partial' ? run + 1 : 0;
      expect(run).toBeLessThanOrEqual(5);
    }
    const partials = seen.filter((s) => s.info.kind === 'partial');
    expect(partials.length).toBeGreaterThan(10);
    // countdown-only partials are small windows
    const countdownOnly = partials.filter((s, i) => i > 0 && s.code === partials[i - 1]?.code);
    const fullBytes = seen.find((s, i) => i > 0 && s.info.kind === 'full')?.info.bytes ?? 0;
    expect(fullBytes).toBeGreaterThan(8000); // both 4,000-byte planes + commands
    const avg = countdownOnly.reduce((a, s) => a + s.info.bytes, 0) / countdownOnly.length;
    expect(avg).toBeLessThan(0.15 * fullBytes);
    for (const s of countdownOnly) expect(s.info.bytes).toBeLessThan(0.3 * fullBytes);
    // the last update took the QR off the glass
    expect(await decodeJsQr(await rig.panel.snapshot())).toBeUndefined();
    expect(rig.panel.faultsOf()).toEqual([]);
    expect(rig.panel.mismatchPixels()).toBe(0);
    await rig.close();
  });

  it('the QR decodes (jsQR and zbarimg) after partial refreshes with ghost residue', async () => {
    const clock = new ManualClock();
    const rig = await createSimEinkRig({ rotation: 90, clock, record: false });
    const mod = new QrGenerateModule({ display: rig.display, clock, maxShowMs: 40_000 });
    const ac = new AbortController();
    const pngs: Array<{ png: Buffer; code: string; kind: string }> = [];
    let n = 0;
    const run = mod.showPayCode({
      code: codes[0] as string,
      nextCode: () => codes[++n] as string,
      refreshEveryMs: 6_000,
      signal: ac.signal,
      onUpdate: (info, _s, code) => {
        // snapshot() reads the glass now; the PNG encodes finish in any order
        const entry: { png: Buffer; code: string; kind: string } = { png: Buffer.alloc(0), code, kind: info.kind };
        pngs.push(entry);
        void rig.panel.snapshot().then((png) => {
          entry.png = png;
        });
        if (pngs.length === 9) ac.abort();
      },
    });
    const r = await run;
    expect(r.reason).toBe('aborted');
    await new Promise((res) => setTimeout(res, 50));
    expect(pngs.some((p) => p.kind === 'partial' && p.code !== codes[0])).toBe(true);
    // a new code always goes out with a full refresh; only the countdown is partial
    expect(pngs.filter((p, i) => i > 0 && p.code !== pngs[i - 1]?.code).map((p) => p.kind)).toEqual(
      expect.arrayContaining(['full']),
    );
    for (const [i, p] of pngs.entries()) if (i > 0 && p.code !== pngs[i - 1]?.code) expect(p.kind).toBe('full');
    for (const p of pngs) {
      expect(await decodeJsQr(p.png), `${p.kind} ${p.code}`).toBe(p.code);
      expect(await decodeZbar(p.png), `${p.kind} ${p.code}`).toBe(p.code);
    }
    await rig.close();
  });

  it('a payload too long for the panel is refused before the panel is touched', async () => {
    const rig = await createSimEinkRig({ rotation: 90 });
    const mod = new QrGenerateModule({ display: rig.display, clock: rig.clock });
    await expect(mod.showPayCode({ code: 'z'.repeat(120) })).rejects.toBeInstanceOf(QrDoesNotFitError);
    expect(rig.spi.stats.bytesSent).toBe(0);
    await rig.close();
  });
});

describe('handset display render (in process)', () => {
  it('writes the panel pixels as PNG; the QR decodes; bad input is a typed CLI error', async () => {
    const out = join(tmpdir(), `eink-render-${process.pid}.png`);
    const io = recordingIo();
    const code = await main(['display', 'render', '--qr', '91234567890123456785', '--amount', '12.50', '--png', out], io);
    expect(code, io.stderr).toBe(0);
    const summary = JSON.parse(io.stdout);
    expect(summary).toMatchObject({ width: 250, height: 122, qr: { version: 1, modulePx: 4 }, refresh: 'full' });
    const png = await readFile(out);
    expect(await decodeZbar(png)).toBe('91234567890123456785');
    await rm(out, { force: true });

    const bad = recordingIo();
    expect(await main(['display', 'render', '--qr', 'q'.repeat(200), '--png', out], bad)).toBe(1);
    expect(bad.stderr).toMatch(/^handset: QR_DOES_NOT_FIT: /);
    const badAmount = recordingIo();
    expect(await main(['display', 'render', '--qr', '1', '--amount', '1.234', '--png', out], badAmount)).toBe(1);
    expect(badAmount.stderr).toMatch(/AMOUNT_TOO_MANY_DECIMALS/);
  });
});
