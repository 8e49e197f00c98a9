/**
 * `handset display ...`: the e-ink pipeline from the host.
 *
 *   handset display render --qr TEXT [--amount A] [--currency EUR] [--seconds N] --png OUT
 *       The real SSD1680 driver drives the simulated panel (2.13", landscape); OUT holds
 *       the panel's pixels. Prints one JSON line: QR version/EC/module size, SPI bytes.
 *   handset display screens --out DIR [--scale N]
 *       Regenerates the PNG of every sample screen (docs/screens).
 */
import { writeFile } from 'node:fs/promises';
import { ValidationError } from '@handset/device-drivers/core';
import { renderPayCodePng } from '@handset/firmware/modules/qr-generate';
import { writeScreenPngs } from '@handset/firmware/ui';
import { currency as lookupCurrency, parseDecimalAmount } from '@handset/host-sdk/protocol';
import type { Command } from 'commander';
import type { CliIo } from '../io';

function positiveInt(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new ValidationError(`--${name} must be an integer from 1 to ${max}, got '${value}'`, { code: 'CLI_ARG' });
  return Number(value);
}

export function register(program: Command, io: CliIo): void {
  const display = program
    .command('display')
    .description('e-ink display: render screens through the SSD1680 driver and the simulated panel');

  display
    .command('render')
    .description('render a pay code QR through the real SSD1680 driver into the simulated panel; write the panel pixels as PNG')
    .requiredOption('--qr <text>', 'QR payload (e.g. a 20-digit pay code)')
    .option('--amount <amount>', 'amount in major units as a decimal string, e.g. 12.50')
    .option('--currency <code>', 'ISO 4217 alpha or numeric code for --amount', 'EUR')
    .option('--seconds <n>', 'countdown value shown (1-60)', '60')
    .option('--panel <id>', 'panel profile: 2in13 (122x250) or 2in9 (128x296)', '2in13')
    .option('--scale <n>', 'PNG scale factor (nearest neighbour)', '1')
    .requiredOption('--png <file>', 'output PNG path')
    .action(async (opts: Record<string, string | undefined>) => {
      const payload = opts.qr ?? '';
      if (opts.panel !== '2in13' && opts.panel !== '2in9')
        throw new ValidationError(`--panel must be 2in13 or 2in9, got '${opts.panel}'`, { code: 'CLI_ARG' });
      let amount: { minor: bigint; currency: string } | undefined;
      if (opts.amount !== undefined) {
        const cur = lookupCurrency(opts.currency ?? 'EUR');
        amount = { minor: parseDecimalAmount(opts.amount, cur, '--amount'), currency: cur.alpha };
      }
      const r = await renderPayCodePng({
        payload,
        amount,
        secondsLeft: positiveInt('seconds', opts.seconds, 60, 60),
        panel: opts.panel,
        scale: positiveInt('scale', opts.scale, 1, 16),
      });
      await writeFile(opts.png as string, r.png);
      io.out(
        `${JSON.stringify({
          png: opts.png,
          width: r.width,
          height: r.height,
          qr: {
            version: r.qr.version,
            ecLevel: r.qr.ecLevel,
            modules: r.qr.modules,
            modulePx: r.qr.modulePx,
            sizePx: r.qr.sizePx,
          },
          refresh: r.refresh,
          spiBytes: r.spiBytes,
          panelBusyMs: r.busyMs,
        })}\n`,
      );
    });

  display
    .command('screens')
    .description('regenerate PNGs of every sample screen (driver -> simulated panel)')
    .option('--out <dir>', 'output directory', 'docs/screens')
    .option('--scale <n>', 'PNG scale factor (nearest neighbour)', '2')
    .action(async (opts: { out: string; scale?: string }) => {
      const files = await writeScreenPngs(opts.out, positiveInt('scale', opts.scale, 2, 16));
      for (const f of files) io.out(`${f}\n`);
    });
}
