import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkGenerated,
  defaultBoardPath,
  GENERATED_FILES,
  GENERATED_NOTICE,
  loadBoard,
  renderAll,
  renderBomCsv,
  renderWiringPng,
  renderWiringSvg,
  validateBoard,
} from '../src/index';
import { mutated, net } from './helpers';

const dir = dirname(defaultBoardPath());

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

function labelBoxes(svg: string): Box[] {
  const group = /<g id="net-labels"[^>]*>([\s\S]*?)<\/g>/.exec(svg)?.[1] ?? '';
  return [...group.matchAll(/<rect x="([\d.-]+)" y="([\d.-]+)" width="([\d.]+)" height="([\d.]+)"/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    w: Number(m[3]),
    h: Number(m[4]),
  }));
}

function wirePaths(svg: string): { pts: [number, number][]; title: string }[] {
  return [...svg.matchAll(/<path d="M([^"]+)" stroke="(#[0-9a-f]{6})" stroke-width="[\d.]+"><title>([^<]+)<\/title>/g)].map(
    (m) => ({
      pts: (m[1] ?? '').split(' L').map((p) => p.split(',').map(Number) as [number, number]),
      title: m[3] ?? '',
    }),
  );
}

describe('generated files', () => {
  it('the checked-in wiring.svg, pinout.md and bom.csv are byte-for-byte what the generator makes now', async () => {
    const board = await loadBoard();
    const files = renderAll(board);
    for (const name of GENERATED_FILES)
      expect(readFileSync(join(dir, name), 'utf8'), `${name} is stale: run handset board generate`).toBe(files[name]);
    expect(await checkGenerated(board, defaultBoardPath())).toEqual([]);
  });

  it('checkGenerated notices a stale file', async () => {
    const board = validateBoard(mutated((b) => net(b, 'LIGHT_PWM').connects.splice(0, 1, 'J1.33')));
    const stale = await checkGenerated(board, defaultBoardPath());
    expect(stale.map((s) => [s.file.split('/').pop(), s.reason])).toEqual([
      ['wiring.svg', 'stale'],
      ['pinout.md', 'stale'],
    ]);
  });

  it('is deterministic and carries the do-not-edit notice', async () => {
    const board = await loadBoard();
    const a = renderAll(board);
    expect(renderAll(await loadBoard())).toEqual(a);
    expect(a['wiring.svg'].split('\n')[1]).toBe(`<!-- ${GENERATED_NOTICE} -->`);
    expect(a['pinout.md'].split('\n')[0]).toBe(`<!-- ${GENERATED_NOTICE} -->`);
  });
});

describe('wiring.svg', () => {
  it('draws the 2x20 header with every pin number and name, every part and every net', async () => {
    const board = await loadBoard();
    const svg = renderWiringSvg(board);
    for (let pin = 1; pin <= 40; pin++) expect(svg).toMatch(new RegExp(`>${pin}</text>`));
    for (const h of board.sbc.header) expect(svg).toContain(`>${h.name}`);
    for (const p of board.parts) expect(svg).toContain(`id="part-${p.ref}"`);
    for (const n of board.nets) expect(svg).toContain(`>${n.name}</text>`);
    expect(svg).toContain('id="legend"');
    expect(svg).toContain('id="title-block"');
  });

  it('routes one wire per net from the header pin to the part pin, power red and ground black', async () => {
    const board = await loadBoard();
    const svg = renderWiringSvg(board);
    const wires = wirePaths(svg);
    expect(wires).toHaveLength(board.nets.length);
    for (const n of board.nets)
      expect(wires.some((w) => w.title.startsWith(`${n.name}: ${n.connects[0]} → ${n.connects[1]}`))).toBe(true);
    expect(svg).toMatch(/<path d="[^"]+" stroke="#d40000" stroke-width="3.6"><title>5V_R307/);
    expect(svg).toMatch(/<path d="[^"]+" stroke="#111111" stroke-width="3.6"><title>GND_R307/);
    // Every segment is horizontal or vertical; no two wires share a stretch of the same line.
    const segs = wires.flatMap((w, wi) =>
      w.pts.slice(1).map((p, i) => {
        const q = w.pts[i] as [number, number];
        expect(p[0] === q[0] || p[1] === q[1]).toBe(true);
        return { wi, x1: Math.min(p[0], q[0]), x2: Math.max(p[0], q[0]), y1: Math.min(p[1], q[1]), y2: Math.max(p[1], q[1]) };
      }),
    );
    for (const a of segs)
      for (const b of segs) {
        if (a.wi >= b.wi) continue;
        const vertical =
          a.x1 === a.x2 && b.x1 === b.x2 && Math.abs(a.x1 - b.x1) < 4 && Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) > 0;
        const horizontal =
          a.y1 === a.y2 && b.y1 === b.y2 && Math.abs(a.y1 - b.y1) < 4 && Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) > 0;
        expect(vertical || horizontal, `wires ${wires[a.wi]?.title} and ${wires[b.wi]?.title} overlap`).toBe(false);
      }
  });

  it('keeps net labels apart and on the canvas', async () => {
    const svg = renderWiringSvg(await loadBoard());
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)?.[1]);
    const boxes = labelBoxes(svg);
    expect(boxes.length).toBeGreaterThan(10);
    for (const b of boxes) {
      expect(b.x).toBeGreaterThanOrEqual(0);
      expect(b.x + b.w).toBeLessThanOrEqual(width);
    }
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i] as Box;
        const b = boxes[j] as Box;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `labels ${i} and ${j} overlap`).toBe(false);
      }
  });

  it('rasterises to PNG with sharp', async () => {
    const png = await renderWiringPng(renderWiringSvg(await loadBoard()), 48);
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    const width = png.readUInt32BE(16);
    expect(width).toBe(1000);
  });
});

describe('bom.csv and pinout.md', () => {
  it('lists every part, the fill-light components and the hardware, one row each', async () => {
    const board = await loadBoard();
    const lines = renderBomCsv(board).trimEnd().split('\r\n');
    expect(lines[0]).toBe('ref,part,manufacturer,mpn,quantity,notes');
    const refs = lines.slice(1).map((l) => l.split(',')[0]);
    expect(refs).toEqual(['U1', 'U2', 'A1', 'Q1', 'R1', 'R2', 'R3', 'D1', 'U3', 'U4', 'SBC1', 'PS1', 'W1', 'W2', 'SD1']);
    expect(lines.find((l) => l.startsWith('Q1,'))).toContain('AO3400A');
    expect(lines.find((l) => l.startsWith('U2,'))).toContain('"2.13"" e-paper (SSD1680, 122x250)"');
    const wires = board.hardware.find((h) => h.ref === 'W1');
    expect(wires?.quantity, 'one jumper wire per net').toBe(board.nets.length);
  });

  it('pinout.md has a row per header pin and the per-model table', async () => {
    const md = renderAll(await loadBoard())['pinout.md'];
    for (let pin = 1; pin <= 40; pin++) expect(md).toMatch(new RegExp(`^\\| ${pin} \\| `, 'm'));
    expect(md).toMatch(/^\| 32 \| GPIO12 \| PWM0 \| LIGHT_PWM \| A1\.PWM/m);
    expect(md).toContain('| GPIO chip label | `pinctrl-bcm2711` | `pinctrl-rp1` |');
  });
});
