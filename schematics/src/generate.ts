/**
 * Generators for the checked-in files derived from `handset.board.json`:
 * `wiring.svg` (see svg.ts), `pinout.md` and `bom.csv`. The SVG and Markdown files start
 * with a "generated ... do not edit" comment; `bom.csv` stays a plain RFC 4180 table (a
 * comment line would break BOM upload tools), and pinout.md says it is generated too.
 * `checkGenerated()` is what the up-to-date test and `handset board generate --check` use.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HandsetError } from '@handset/device-drivers/core';
import { type Board, type HeaderPin, SBC_MODELS } from './board';
import { indexBoard } from './netlist';
import { boardPins } from './pins';
import { GENERATED_NOTICE, renderWiringSvg } from './svg';

export { GENERATED_NOTICE, renderWiringSvg } from './svg';

/** The generated files, relative to the folder holding the board file. */
export const GENERATED_FILES = ['wiring.svg', 'pinout.md', 'bom.csv'] as const;
export type GeneratedFile = (typeof GENERATED_FILES)[number];

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function dirOf(h: HeaderPin): string {
  return h.kind === 'gpio' ? `GPIO${h.gpio}` : h.name;
}

/** pinout.md: header table, per-part table, per-model resolution, fill-light circuit. */
export function renderPinoutMd(board: Board): string {
  const idx = indexBoard(board);
  const ref = board.sbc.ref;
  const out: string[] = [];
  out.push(`<!-- ${GENERATED_NOTICE} -->`);
  out.push(`# ${board.title}: pinout (rev ${board.revision})`);
  out.push('');
  out.push(`${board.description}`);
  out.push('');
  out.push(
    `Generated from \`schematics/handset.board.json\` together with \`wiring.svg\` and \`bom.csv\`; edit the JSON and run \`handset board generate\`.`,
  );
  out.push('');
  out.push(`## Header ${ref} (40-pin)`);
  out.push('');
  out.push('| Pin | Name | Alternate functions | Net | Goes to | Notes |');
  out.push('| ---: | --- | --- | --- | --- | --- |');
  for (const h of [...board.sbc.header].sort((a, b) => a.pin - b.pin)) {
    const nets = idx.netsOf(`${ref}.${h.pin}`);
    const to = nets.flatMap((net) =>
      net.connects
        .filter((c) => c !== `${ref}.${h.pin}`)
        .map((c) => {
          const e = idx.endpoint(c);
          return e.kind === 'part' && e.part ? `${e.ref}.${e.pin} (${e.part.name})` : c;
        }),
    );
    const fns = h.kind === 'power' ? `${h.voltage} V rail` : h.kind === 'ground' ? 'ground' : h.functions.join(', ');
    out.push(
      `| ${h.pin} | ${h.name} | ${cell(fns || '-')} | ${nets.map((x) => x.name).join(', ') || '-'} | ${cell(to.join(', ') || '-')} | ${cell(
        nets
          .map((x) => x.description)
          .filter(Boolean)
          .join('; '),
      )} |`,
    );
  }
  out.push('');
  out.push('## Parts');
  for (const p of board.parts) {
    out.push('');
    out.push(`### ${p.ref}: ${p.name} (${p.type})`);
    out.push('');
    out.push(`${p.manufacturer} ${p.mpn}. ${p.notes}`);
    if (p.pins.length === 0) {
      const port = (p.config as { port?: string }).port;
      out.push('');
      for (const model of SBC_MODELS) {
        const pt = port ? board.sbc.models[model].ports[port] : undefined;
        if (pt) out.push(`- ${model}: ${pt.connector}; ${pt.cable}`);
      }
      continue;
    }
    out.push('');
    out.push('| Pin | Direction | Signal | Level | Header pin | Net | Description |');
    out.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const q of p.pins) {
      const hs = idx.headerPinsOf(p.ref, q.name);
      const nets = idx.netsOf(`${p.ref}.${q.name}`);
      const level =
        q.direction === 'power'
          ? q.supplyV
            ? `${q.supplyV[0]}-${q.supplyV[1]} V`
            : 'supply'
          : q.direction === 'ground'
            ? '0 V'
            : q.outputV !== undefined
              ? `drives ${q.outputV} V`
              : q.outputFrom
                ? `drives ${q.outputFrom} level`
                : q.maxInputV !== undefined
                  ? `accepts <= ${q.maxInputV} V`
                  : '-';
      out.push(
        `| ${q.name} | ${q.direction}${q.activeLow ? ' (active low)' : ''} | ${q.signal ?? '-'} | ${level} | ${hs.map((h) => `${h.pin} (${dirOf(h)})`).join(', ') || '-'} | ${nets.map((x) => x.name).join(', ') || '-'} | ${cell(q.description)} |`,
      );
    }
    if (p.circuit) {
      out.push('');
      out.push('Circuit:');
      out.push('');
      for (const c of p.circuit.components)
        out.push(`- ${c.ref}: ${c.value} (${c.manufacturer} ${c.mpn}) - ${c.part}${c.notes ? `; ${c.notes}` : ''}`);
      out.push('');
      out.push('| Internal net | Connects |');
      out.push('| --- | --- |');
      for (const net of p.circuit.nets)
        out.push(`| ${net.name} | ${net.connects.map((c) => (c.includes('.') ? c : `${p.ref}.${c}`)).join(', ')} |`);
    }
  }
  out.push('');
  out.push('## Per SBC model');
  out.push('');
  const pins = SBC_MODELS.map((m) => boardPins(board, m));
  out.push(`| | ${pins.map((p) => `${p.model}: ${p.modelName}`).join(' | ')} |`);
  out.push(`| --- | ${pins.map(() => '---').join(' | ')} |`);
  const row = (k: string, f: (p: (typeof pins)[number]) => string) =>
    out.push(`| ${k} | ${pins.map((p) => cell(f(p))).join(' | ')} |`);
  row('GPIO chip label', (p) => `\`${p.gpioChipLabel}\``);
  row('R307 UART', (p) => `\`${p.r307.uart.path}\` ${p.r307.uart.baudRate} 8N1 (${p.r307.uart.bus})`);
  row('R307 touch', (p) => `line ${p.r307.touch.line} (${p.r307.touch.name}), ${p.r307.touch.edge} edge, ${p.r307.touch.bias}`);
  row('SSD1680 SPI', (p) => `\`${p.ssd1680.spi.path}\` mode ${p.ssd1680.spi.mode}, ${p.ssd1680.spi.speedHz / 1e6} MHz`);
  row('SSD1680 DC / RST / BUSY / PWR', (p) =>
    [p.ssd1680.dc, p.ssd1680.rst, p.ssd1680.busy, p.ssd1680.pwr].map((g) => (g ? `${g.line}` : '-')).join(' / '),
  );
  row(
    'Fill-light PWM',
    (p) =>
      `${p.fillLight.pwm.chip.sysfsDevice} channel ${p.fillLight.pwm.channel}, ${p.fillLight.pwm.frequencyHz} Hz (${p.fillLight.pwm.pinName})`,
  );
  row('Camera', (p) => p.camera.port.connector);
  row('config.txt', (p) => p.bootConfig.map((l) => `\`${l}\``).join(' '));
  out.push('');
  return `${out.join('\n')}`;
}

function csv(fields: (string | number)[]): string {
  return fields
    .map((f) => {
      const s = String(f);
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    })
    .join(',');
}

/** bom.csv: parts, the fill-light board's components, then hardware (SBC, supply, wires). */
export function renderBomCsv(board: Board): string {
  const rows: (string | number)[][] = [['ref', 'part', 'manufacturer', 'mpn', 'quantity', 'notes']];
  for (const p of board.parts) {
    rows.push([p.ref, p.name, p.manufacturer, p.mpn, p.quantity, p.notes]);
    for (const c of p.circuit?.components ?? [])
      rows.push([c.ref, `${c.value}: ${c.part}`, c.manufacturer, c.mpn, 1, `on ${p.ref}${c.notes ? `; ${c.notes}` : ''}`]);
  }
  for (const h of board.hardware) rows.push([h.ref, h.part, h.manufacturer, h.mpn, h.quantity, h.notes]);
  return `${rows.map(csv).join('\r\n')}\r\n`;
}

/** Every generated file's content, by name. */
export function renderAll(board: Board): Record<GeneratedFile, string> {
  return { 'wiring.svg': renderWiringSvg(board), 'pinout.md': renderPinoutMd(board), 'bom.csv': renderBomCsv(board) };
}

/** Writes the generated files next to the board file; returns the paths written. */
export async function writeGenerated(board: Board, boardPath: string): Promise<string[]> {
  const dir = dirname(boardPath);
  const files = renderAll(board);
  const written: string[] = [];
  for (const name of GENERATED_FILES) {
    const path = join(dir, name);
    await writeFile(path, files[name]);
    written.push(path);
  }
  return written;
}

/** Compares the files on disk with what the generator produces now; lists the stale ones. */
export async function checkGenerated(board: Board, boardPath: string): Promise<{ file: string; reason: 'missing' | 'stale' }[]> {
  const dir = dirname(boardPath);
  const files = renderAll(board);
  const stale: { file: string; reason: 'missing' | 'stale' }[] = [];
  for (const name of GENERATED_FILES) {
    const path = join(dir, name);
    let current: string;
    try {
      current = await readFile(path, 'utf8');
    } catch {
      stale.push({ file: path, reason: 'missing' });
      continue;
    }
    if (current !== files[name]) stale.push({ file: path, reason: 'stale' });
  }
  return stale;
}

/** Rasterises wiring.svg to PNG with sharp (librsvg) at `density` dpi (96 = 1:1). */
export async function renderWiringPng(svg: string, density = 96): Promise<Buffer> {
  let sharp: typeof import('sharp')['default'];
  try {
    ({ default: sharp } = await import('sharp'));
  } catch (err) {
    throw new HandsetError('PNG_RENDER', 'sharp is not installed; cannot rasterise wiring.svg', { cause: err });
  }
  return sharp(Buffer.from(svg), { density }).png({ compressionLevel: 9 }).toBuffer();
}
