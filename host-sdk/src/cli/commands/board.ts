/**
 * `handset board ...`: the board description in schematics/handset.board.json.
 *
 *   handset board validate [FILE]            exit 0 + summary, or one problem per line and exit 1
 *   handset board generate [--check] [--png OUT] [--file FILE]
 *                                            write (or verify) wiring.svg, pinout.md, bom.csv
 *   handset board pins [--model pi4|pi5] [--json] [--file FILE]
 *                                            the pins the firmware will open, resolved per model
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { ValidationError } from '@handset/device-drivers/core';
import {
  type Board,
  type BoardPins,
  boardPins,
  checkGenerated,
  defaultBoardPath,
  loadBoard,
  renderWiringPng,
  renderWiringSvg,
  SBC_MODELS,
  type SbcModelId,
  writeGenerated,
} from '@handset/schematics';
import { type Command, Option } from 'commander';
import type { CliIo } from '../io';

const show = (path: string) => relative(process.cwd(), path) || path;

function summary(board: Board, path: string): string {
  const wired = board.parts.filter((p) => p.pins.length > 0).length;
  const ports = board.parts.length - wired;
  return `${show(path)}: OK - ${board.title} rev ${board.revision}: ${board.parts.length} parts (${wired} on ${board.sbc.ref}, ${ports} on ports), ${board.nets.length} nets, models ${SBC_MODELS.join(', ')}\n`;
}

function pinsText(p: BoardPins): string {
  const g = (x: { name: string; line: number; headerPin: number } | null) =>
    x ? `${x.name} (line ${x.line}, header pin ${x.headerPin})` : '-';
  return [
    `${p.model}: ${p.modelName}, GPIO chip ${p.gpioChipLabel}`,
    `r307.uart        ${p.r307.uart.path} ${p.r307.uart.baudRate} 8N1 (${p.r307.uart.bus}, TX header pin ${p.r307.uart.txHeaderPin}, RX header pin ${p.r307.uart.rxHeaderPin})`,
    `r307.touch       ${g(p.r307.touch)}, ${p.r307.touch.edge} edge, ${p.r307.touch.bias}`,
    `ssd1680.spi      ${p.ssd1680.spi.path} mode ${p.ssd1680.spi.mode} ${p.ssd1680.spi.speedHz} Hz`,
    `ssd1680.dc       ${g(p.ssd1680.dc)}`,
    `ssd1680.rst      ${g(p.ssd1680.rst)}`,
    `ssd1680.busy     ${g(p.ssd1680.busy)}`,
    `ssd1680.pwr      ${g(p.ssd1680.pwr)}`,
    `fillLight.pwm    ${p.fillLight.pwm.chip.sysfsDevice} channel ${p.fillLight.pwm.channel}, ${p.fillLight.pwm.frequencyHz} Hz (${p.fillLight.pwm.pinName}, header pin ${p.fillLight.pwm.headerPin})`,
    `camera           ${p.camera.capture} ${p.camera.width}x${p.camera.height}@${p.camera.framerate} on ${p.camera.port.connector}`,
    `pinpad           HID ${p.pinpad.usagePage}/${p.pinpad.usage} via ${p.pinpad.driver} on ${p.pinpad.port.connector}`,
    `config.txt       ${p.bootConfig.join('  ')}`,
    '',
  ].join('\n');
}

export function register(program: Command, io: CliIo): void {
  const board = program
    .command('board')
    .description('the board description: validate it, generate wiring.svg/pinout.md/bom.csv, show pins');

  board
    .command('validate')
    .description('validate a board file (default: schematics/handset.board.json); lists every problem, naming the pin')
    .argument('[file]', 'board JSON file')
    .action(async (file?: string) => {
      const path = file ? resolve(file) : defaultBoardPath();
      const b = await loadBoard(path);
      io.out(summary(b, path));
    });

  board
    .command('generate')
    .description('write wiring.svg, pinout.md and bom.csv next to the board file (or verify them with --check)')
    .option('--check', 'do not write; exit 1 if a generated file is missing or out of date')
    .option('--png <file>', 'also rasterise wiring.svg to this PNG file')
    .option('--file <file>', 'board JSON file (default: schematics/handset.board.json)')
    .action(async (opts: { check?: boolean; png?: string; file?: string }) => {
      const path = opts.file ? resolve(opts.file) : defaultBoardPath();
      const b = await loadBoard(path);
      if (opts.check) {
        const stale = await checkGenerated(b, path);
        if (stale.length)
          throw new ValidationError(
            `generated files are out of date (run \`handset board generate\`):\n${stale.map((s) => `  ${show(s.file)}: ${s.reason}`).join('\n')}`,
            { code: 'BOARD_STALE' },
          );
        io.out(`${show(dirname(path))}: wiring.svg, pinout.md, bom.csv are up to date\n`);
      } else {
        for (const written of await writeGenerated(b, path)) io.out(`wrote ${show(written)}\n`);
      }
      if (opts.png) {
        const out = resolve(opts.png);
        await mkdir(dirname(out), { recursive: true });
        await writeFile(out, await renderWiringPng(renderWiringSvg(b)));
        io.out(`wrote ${show(out)}\n`);
      }
    });

  board
    .command('pins')
    .description('the pins, buses and channels the firmware opens, resolved for one SBC model')
    .addOption(
      new Option('--model <model>', 'SBC model (chip labels, device paths, PWM channel)').choices(SBC_MODELS).default('pi4'),
    )
    .option('--json', 'print the boardPins() object as JSON')
    .option('--file <file>', 'board JSON file (default: schematics/handset.board.json)')
    .action(async (opts: { model: SbcModelId; json?: boolean; file?: string }) => {
      const model = opts.model;
      const b = await loadBoard(opts.file ? resolve(opts.file) : defaultBoardPath());
      const pins = boardPins(b, model);
      io.out(opts.json ? `${JSON.stringify(pins, null, 2)}\n` : pinsText(pins));
    });
}
