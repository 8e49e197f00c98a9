/**
 * `handset scan [--json] FILE...`: decodes the QR code in each image file (PNG, JPEG,
 * WebP, ...) through the same pipeline as the camera path (firmware qr-scan: sharp ->
 * gray -> bounded decode cascade -> classification with the protocol's EMV and pay-code
 * parsers).
 *
 * Output, one line per file, in argument order:
 * - `--json`: `{"file","payload","kind","ms",...}` - `kind` is `emv` | `paycode` |
 *   `unsupported` (with `reason`, `detail`) | `none` (no code: a clean result, payload
 *   null); a file that cannot be read or is not an image gives
 *   `{"file","payload":null,"kind":"error","error":{"code","message"}}`.
 * - otherwise: `FILE: KIND PAYLOAD (N ms)` on stdout, errors on stderr.
 * Every file is processed; the exit code is 1 (`handset: SCAN_FAILED: ...`) if any file
 * failed, 0 otherwise ("no code" is not a failure).
 */
import { HandsetError, toHandsetError } from '@handset/device-drivers/core';
import { QrDecoder, scanImageFile } from '@handset/firmware/modules/qr-scan';
import type { Command } from 'commander';
import type { CliIo } from '../io';

/** Still images are not frames in a 30 fps stream: a wider budget, same stages. */
const IMAGE_BUDGET_MS = 500;

export function register(program: Command, io: CliIo): void {
  program
    .command('scan')
    .description('decode QR codes in image files through the camera pipeline')
    .argument('<files...>', 'image files (PNG, JPEG, ...)')
    .option('--json', 'one JSON object per file per line')
    .action(async (files: string[], opts: { json?: boolean }) => {
      const decoder = await QrDecoder.create({ budgetMs: IMAGE_BUDGET_MS });
      let failed = 0;
      for (const file of files) {
        try {
          const r = await scanImageFile(file, decoder);
          const ms = Math.round((r.decodeMs + r.loadMs) * 100) / 100;
          const p = r.payload;
          if (opts.json) {
            const base = {
              file,
              payload: r.text ?? null,
              kind: p?.kind ?? 'none',
              ms,
              decodeMs: Math.round(r.decodeMs * 100) / 100,
            };
            const extra = p?.kind === 'unsupported' ? { reason: p.reason, detail: p.detail } : {};
            io.out(`${JSON.stringify({ ...base, ...extra, stage: r.stage ?? null, width: r.width, height: r.height })}\n`);
          } else if (!p) {
            io.out(`${file}: no code (${ms} ms)\n`);
          } else {
            const why = p.kind === 'unsupported' ? ` [${p.reason}: ${p.detail}]` : '';
            io.out(`${file}: ${p.kind} ${JSON.stringify(r.text)}${why} (${ms} ms)\n`);
          }
        } catch (err) {
          failed++;
          const e = toHandsetError(err);
          if (opts.json)
            io.out(`${JSON.stringify({ file, payload: null, kind: 'error', error: { code: e.code, message: e.message } })}\n`);
          else io.err(`${file}: error ${e.code}: ${e.message}\n`);
        }
      }
      if (failed) throw new HandsetError('SCAN_FAILED', `${failed} of ${files.length} file(s) could not be scanned`);
    });
}
