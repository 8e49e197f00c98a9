/**
 * wiring.svg: the diagram a technician wires from. Layout, top to bottom: title; the
 * 40-pin header J1 drawn as the board shows it from above (even pins on the outer row,
 * pin 1 square, bottom-left) with every pin's number and name; a routing channel where
 * every wire has its own horizontal track; the wired parts with their pins along the top
 * edge; then the port-connected parts (camera, PIN pad), the legend and the title block.
 *
 * Wires run header pin -> down -> along its track -> down -> part pin, drawn over a white
 * halo so crossings read as one wire passing over another. Tracks are ordered to keep
 * crossings few. Output is deterministic (no dates, fixed number formatting).
 */
import type { Board, HeaderPin, Net, Part, PartConfig } from './board';
import { type BoardIndex, indexBoard } from './netlist';

export const GENERATED_NOTICE = 'generated from handset.board.json by `handset board generate`; do not edit';

const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';
const RAIL_COLORS = { '5V': '#d40000', '3V3': '#ff7a00', GND: '#111111' } as const;
/** Signal wire colours: distinct from each other and from the rail colours. */
const SIGNAL_PALETTE = [
  '#1f5fd6',
  '#1a9e3a',
  '#8e44c9',
  '#8c564b',
  '#e0449a',
  '#0fa3b8',
  '#8f8f00',
  '#0b2f7a',
  '#0a7a6e',
  '#b8005c',
  '#5a4fcf',
  '#b8860b',
  '#4d4d4d',
];

const W = 1500;
const PITCH = 56;
const COLS = 20;
const HEADER_X0 = Math.round((W - COLS * PITCH) / 2 + PITCH / 2);
const TITLE_H = 70;
const TOP_LABEL_H = 118;
const ROW_T = TITLE_H + TOP_LABEL_H + 16;
const ROW_B = ROW_T + 32;
const BOTTOM_LABEL_H = 118;
const CHANNEL_Y0 = ROW_B + BOTTOM_LABEL_H + 22;
const TRACK = 17;
const PART_PIN_PITCH = 56;
const PART_H = 200;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
const ohms = (s: string) =>
  s
    .replace(/\bkohm\b/g, 'kΩ')
    .replace(/\bmohm\b/g, 'mΩ')
    .replace(/\bohm\b/g, 'Ω');

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`;
}

/** Rough text width for DejaVu Sans (the layout only needs to keep labels apart). */
export function textWidth(s: string, size: number, bold = false): number {
  let w = 0;
  for (const ch of s) w += /[A-Z0-9_]/.test(ch) ? 0.68 : /[ il.,:;|'!()]/.test(ch) ? 0.32 : 0.58;
  return w * size * (bold ? 1.08 : 1);
}

const SHORT_FN: Record<string, string> = {
  UART0_TXD: 'TXD',
  UART0_RXD: 'RXD',
  SPI0_MOSI: 'MOSI',
  SPI0_MISO: 'MISO',
  SPI0_SCLK: 'SCLK',
  SPI0_CE0: 'CE0',
  SPI0_CE1: 'CE1',
  PWM0: 'PWM0',
  PWM1: 'PWM1',
  I2C1_SDA: 'SDA',
  I2C1_SCL: 'SCL',
  I2C0_SDA: 'ID_SD',
  I2C0_SCL: 'ID_SC',
  GPCLK0: 'GPCLK0',
};

function headerLabel(h: HeaderPin): string {
  const fn = h.functions.map((f) => SHORT_FN[f]).find(Boolean);
  return fn ? `${h.name} ${fn}` : h.name;
}

function column(pin: number): number {
  return Math.floor((pin - 1) / 2);
}

function pinXY(pin: number): { x: number; y: number } {
  return { x: HEADER_X0 + column(pin) * PITCH, y: pin % 2 === 0 ? ROW_T : ROW_B };
}

/** Where a wire leaves the header: odd (inner-row) pins drop just right of the pin, even pins in the gap. */
function exitX(pin: number): number {
  return pinXY(pin).x + (pin % 2 === 0 ? 19 : 4);
}

interface Wire {
  net: Net;
  color: string;
  rail: keyof typeof RAIL_COLORS | undefined;
  header: HeaderPin;
  part: Part;
  partPin: string;
  hx: number;
  px: number;
  track: number;
}

function railName(h: HeaderPin): keyof typeof RAIL_COLORS | undefined {
  if (h.kind === 'ground') return 'GND';
  if (h.kind === 'power') return h.voltage !== undefined && h.voltage > 4 ? '5V' : '3V3';
  return undefined;
}

/** Parts wired to the header, left to right by the mean column of their header pins. */
function wiredParts(idx: BoardIndex): Part[] {
  const parts = idx.board.parts.filter((p) => p.pins.length > 0);
  const mean = (p: Part) => {
    const cols = p.pins.flatMap((q) => idx.headerPinsOf(p.ref, q.name).map((h) => column(h.pin)));
    return cols.length ? cols.reduce((a, b) => a + b, 0) / cols.length : 99;
  };
  return [...parts].sort((a, b) => mean(a) - mean(b) || a.ref.localeCompare(b.ref));
}

function partWidth(p: Part): number {
  if (p.circuit) return 410;
  return Math.max(260, p.pins.length * PART_PIN_PITCH + 40);
}

/**
 * x of each part pin on the parts row. Each part is slid a little (within its gap) so no
 * pin drop runs within a few pixels of a header drop (`avoid`), which would hide one.
 */
function layoutParts(parts: Part[], avoid: number[]): { part: Part; x: number; w: number; pinX: Map<string, number> }[] {
  const gap = 44;
  const total = parts.reduce((s, p) => s + partWidth(p), 0) + gap * (parts.length - 1);
  let x = Math.round((W - total) / 2);
  let prevEnd = 10;
  return parts.map((part) => {
    const w = partWidth(part);
    const offsets = (base: number) => {
      const pinX = new Map<string, number>();
      if (part.circuit) {
        const at: Record<string, number> = { PWM: 34, VIN: 214, GND: 345 };
        for (const [i, q] of part.pins.entries()) pinX.set(q.name, base + (at[q.name] ?? 34 + i * 90));
      } else {
        const x0 = base + (w - part.pins.length * PART_PIN_PITCH) / 2 + PART_PIN_PITCH / 2;
        for (const [i, q] of part.pins.entries()) pinX.set(q.name, x0 + i * PART_PIN_PITCH);
      }
      return pinX;
    };
    let best = x;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let s = -22; s <= 22; s++) {
      const base = x + s;
      if (base < prevEnd + 16 || base + w > W - 10) continue;
      const near = [...offsets(base).values()].filter((px) => avoid.some((a) => Math.abs(a - px) < 14)).length;
      const score = near * 1000 + Math.abs(s);
      if (score < bestScore) {
        bestScore = score;
        best = base;
      }
    }
    const out = { part, x: best, w, pinX: offsets(best) };
    prevEnd = best + w;
    x += w + gap;
    return out;
  });
}

/** Crossings between two wires' vertical drops and horizontal runs, for track ordering. */
function crossings(wires: Wire[]): number {
  let c = 0;
  for (const a of wires) {
    const lo = Math.min(a.hx, a.px);
    const hi = Math.max(a.hx, a.px);
    for (const b of wires) {
      if (a === b) continue;
      // b's header drop spans rows above b.track; it crosses a's run if a's track is above b's.
      if (b.hx > lo && b.hx < hi && a.track < b.track) c++;
      // b's part drop spans rows below b.track.
      if (b.px > lo && b.px < hi && a.track > b.track) c++;
    }
  }
  return c;
}

function assignTracks(wires: Wire[]): void {
  wires.forEach((w, i) => {
    w.track = i;
  });
  let best = crossings(wires);
  for (let pass = 0; pass < 30; pass++) {
    let improved = false;
    for (let i = 0; i < wires.length; i++) {
      for (let j = i + 1; j < wires.length; j++) {
        const a = wires[i]!;
        const b = wires[j]!;
        [a.track, b.track] = [b.track, a.track];
        const c = crossings(wires);
        if (c < best) {
          best = c;
          improved = true;
        } else [a.track, b.track] = [b.track, a.track];
      }
    }
    if (!improved) break;
  }
}

const trackY = (t: number) => CHANNEL_Y0 + t * TRACK;

/** Centre x for a net label on a wire's run: inside the run, clear of crossing drops, near the middle. */
function labelX(w: Wire, wires: Wire[], width: number, partTop: number): number {
  const y = trackY(w.track);
  const blockers: number[] = [];
  for (const o of wires) {
    if (o === w) continue;
    if (trackY(o.track) > y) blockers.push(o.hx);
    if (trackY(o.track) < y && partTop > y) blockers.push(o.px);
  }
  blockers.push(w.hx, w.px);
  const lo = Math.min(w.hx, w.px);
  const hi = Math.max(w.hx, w.px);
  const mid = (lo + hi) / 2;
  let best = mid;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let c = lo - width; c <= hi + width; c += 2) {
    const l = c - width / 2 - 3;
    const r = c + width / 2 + 3;
    const hits = blockers.filter((b) => b >= l && b <= r).length;
    const outside = Math.max(0, lo - l) + Math.max(0, r - hi);
    const score = hits * 10_000 + outside * 4 + Math.abs(c - mid) * 0.5;
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  const margin = 8 + width / 2;
  return Math.min(W - margin, Math.max(margin, best));
}

function configSummary(p: Part): string {
  switch (p.type) {
    case 'r307': {
      const c = p.config as PartConfig<'r307'>;
      return `${c.uart} ${c.baudRate} 8N1 · TOUCH low = finger · VCC 5 V, VT 3.3 V`;
    }
    case 'ssd1680': {
      const c = p.config as PartConfig<'ssd1680'>;
      return `${c.spi} CE${c.chipSelect}, mode ${c.mode}, ${c.speedHz / 1e6} MHz · ${c.width}×${c.height} · HAT rev ${c.hatRevision}`;
    }
    case 'fill-light': {
      const c = p.config as PartConfig<'fill-light'>;
      return `hardware PWM ${c.frequencyHz / 1000} kHz · LED ${c.ledCurrentMa} mA at 100 %`;
    }
    case 'csi-camera': {
      const c = p.config as PartConfig<'csi-camera'>;
      return `${c.capture} ${c.width}×${c.height} @ ${c.framerate} fps`;
    }
    case 'usb-hid-pinpad': {
      const c = p.config as PartConfig<'usb-hid-pinpad'>;
      return `HID usage page ${c.usagePage} / usage ${c.usage} · ${c.driver} backend`;
    }
    default:
      return p.type;
  }
}

function resistor(x: number, y: number, vertical: boolean, label: string, labelSide: 'l' | 'r' | 'a' | 'b'): string {
  const [w, h] = vertical ? [10, 28] : [30, 10];
  const out = [
    `<rect x="${n(x - w / 2)}" y="${n(y - h / 2)}" width="${w}" height="${h}" fill="#fff" stroke="#222" stroke-width="1.5"/>`,
  ];
  const lx = labelSide === 'l' ? x - 9 : labelSide === 'r' ? x + 9 : x;
  const ly = labelSide === 'a' ? y - 9 : labelSide === 'b' ? y + 17 : y + 4;
  const anchor = labelSide === 'l' ? 'end' : labelSide === 'r' ? 'start' : 'middle';
  out.push(text(lx, ly, label, `font-size="10.5" text-anchor="${anchor}" fill="#222"`));
  return out.join('');
}

/** The fill-light board's own schematic, drawn inside its box. */
function fillLightCircuit(p: Part, x: number, top: number, pinX: Map<string, number>): string {
  const comp = (ref: string) => p.circuit?.components.find((c) => c.ref === ref);
  const val = (ref: string) => `${ref} ${ohms(comp(ref)?.value ?? '')}`;
  const pwmX = pinX.get('PWM') ?? x + 34;
  const vinX = pinX.get('VIN') ?? x + 214;
  const gndX = pinX.get('GND') ?? x + 345;
  const g = x + 150; // gate bar x
  const yGate = top + 112;
  const yGnd = top + 150;
  const drainY = yGate - 14;
  const srcY = yGate + 14;
  const ch = g + 7;
  const s: string[] = [];
  const line = (pts: [number, number][]) =>
    `<polyline points="${pts.map(([a, b]) => `${n(a)},${n(b)}`).join(' ')}" fill="none" stroke="#222" stroke-width="1.6"/>`;
  const dot = (a: number, b: number) => `<circle cx="${n(a)}" cy="${n(b)}" r="3" fill="#222"/>`;
  // PWM -> R1 -> gate
  s.push(
    line([
      [pwmX, top + 9],
      [pwmX, yGate],
      [g, yGate],
    ]),
  );
  s.push(resistor((pwmX + g) / 2 - 8, yGate, false, val('R1'), 'a'));
  // R2 gate pull-down
  const r2x = g - 26;
  s.push(dot(r2x, yGate));
  s.push(
    line([
      [r2x, yGate],
      [r2x, yGnd],
    ]),
  );
  s.push(resistor(r2x, (yGate + yGnd) / 2 + 2, true, val('R2'), 'l'));
  // MOSFET
  s.push(
    line([
      [g, yGate - 14],
      [g, yGate + 14],
    ]),
  );
  s.push(`<line x1="${ch}" y1="${yGate - 18}" x2="${ch}" y2="${yGate + 18}" stroke="#222" stroke-width="2.4"/>`);
  s.push(
    line([
      [ch, drainY],
      [vinX, drainY],
    ]),
  );
  s.push(
    line([
      [ch, srcY],
      [vinX, srcY],
      [vinX, yGnd],
    ]),
  );
  s.push(`<polygon points="${n(ch + 2)},${n(srcY)} ${n(ch + 10)},${n(srcY - 4)} ${n(ch + 10)},${n(srcY + 4)}" fill="#222"/>`);
  s.push(text(ch + 16, yGate + 4, `${comp('Q1')?.ref ?? 'Q1'} ${comp('Q1')?.value ?? ''}`, 'font-size="10.5" fill="#222"'));
  s.push(text(g - 4, yGate - 20, 'G', 'font-size="9" fill="#555" text-anchor="end"'));
  s.push(text(vinX - 12, drainY - 4, 'D', 'font-size="9" fill="#555"'));
  s.push(text(vinX - 12, srcY + 12, 'S', 'font-size="9" fill="#555"'));
  // VIN -> R3 -> D1 -> drain
  s.push(
    line([
      [vinX, top + 9],
      [vinX, drainY],
    ]),
  );
  s.push(resistor(vinX, top + 52, true, val('R3'), 'l'));
  const dTop = top + 72;
  s.push(
    `<polygon points="${n(vinX - 8)},${n(dTop)} ${n(vinX + 8)},${n(dTop)} ${n(vinX)},${n(dTop + 13)}" fill="#fff" stroke="#222" stroke-width="1.5"/>`,
  );
  s.push(
    `<line x1="${n(vinX - 8)}" y1="${n(dTop + 13)}" x2="${n(vinX + 8)}" y2="${n(dTop + 13)}" stroke="#222" stroke-width="1.8"/>`,
  );
  s.push(
    `<path d="M${n(vinX + 11)},${n(dTop + 2)} l8,-6 m-3,0 l3,0 l0,3 M${n(vinX + 11)},${n(dTop + 9)} l8,-6 m-3,0 l3,0 l0,3" stroke="#222" fill="none" stroke-width="1"/>`,
  );
  s.push(text(vinX + 24, dTop + 11, `D1 ${comp('D1')?.value ?? ''}`, 'font-size="10.5" fill="#222"'));
  // ground bus
  s.push(
    line([
      [r2x, yGnd],
      [gndX, yGnd],
      [gndX, top + 9],
    ]),
  );
  s.push(dot(vinX, yGnd));
  return s.join('\n    ');
}

function partBox(p: Part, x: number, w: number, top: number, pinX: Map<string, number>, idx: BoardIndex): string {
  const s: string[] = [];
  s.push(`<g id="part-${esc(p.ref)}">`);
  s.push(
    `  <rect x="${n(x)}" y="${n(top)}" width="${n(w)}" height="${PART_H}" rx="8" fill="#f4f6fa" stroke="#30405a" stroke-width="2"/>`,
  );
  for (const q of p.pins) {
    const px = pinX.get(q.name);
    if (px === undefined) continue;
    const h = idx.headerPinsOf(p.ref, q.name)[0];
    s.push(
      `  <rect x="${n(px - 7)}" y="${n(top - 7)}" width="14" height="14" fill="#e8c95a" stroke="#5a4a00" stroke-width="1.2"/>`,
    );
    if (p.circuit) {
      s.push(`  ${text(px + 6, top + 22, q.name, 'font-size="12" font-weight="bold" fill="#111"')}`);
      if (h) s.push(`  ${text(px + 6, top + 36, `← pin ${h.pin}`, 'font-size="10" fill="#444"')}`);
    } else {
      s.push(`  ${text(px, top + 24, q.name, 'font-size="12.5" font-weight="bold" fill="#111" text-anchor="middle"')}`);
      if (h) s.push(`  ${text(px, top + 40, `pin ${h.pin}`, 'font-size="10.5" fill="#444" text-anchor="middle"')}`);
      const lvl = q.direction === 'power' ? 'supply' : q.direction === 'ground' ? 'ground' : q.direction === 'out' ? 'out' : 'in';
      s.push(`  ${text(px, top + 54, lvl, 'font-size="9.5" fill="#777" text-anchor="middle"')}`);
    }
  }
  if (p.circuit) s.push(`    ${fillLightCircuit(p, x, top, pinX)}`);
  s.push(`  ${text(x + 14, top + PART_H - 30, `${p.ref} · ${p.name}`, 'font-size="14" font-weight="bold" fill="#1b2a44"')}`);
  s.push(`  ${text(x + 14, top + PART_H - 13, configSummary(p), 'font-size="10.5" fill="#333"')}`);
  if (!p.circuit) {
    const lines = wrap(p.notes, Math.floor((w - 28) / 5.6)).slice(0, 5);
    lines.forEach((l, i) => {
      s.push(`  ${text(x + 14, top + 78 + i * 14, l, 'font-size="10" fill="#555"')}`);
    });
  }
  s.push('</g>');
  return s.join('\n');
}

function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

/** Renders the wiring diagram of a validated board. */
export function renderWiringSvg(board: Board): string {
  const idx = indexBoard(board);
  const parts = wiredParts(idx);
  const exits = board.nets.flatMap((net) =>
    net.connects.map((c) => idx.endpoint(c)).flatMap((e) => (e.kind === 'header' && e.header ? [exitX(e.pin)] : [])),
  );
  const layout = layoutParts(parts, exits);
  const pinXOf = new Map<string, number>();
  for (const l of layout) for (const [pin, x] of l.pinX) pinXOf.set(`${l.part.ref}.${pin}`, x);

  const wires: Wire[] = [];
  let paletteIndex = 0;
  for (const net of board.nets) {
    const ends = net.connects.map((c) => idx.endpoint(c));
    const h = ends.find((e) => e.kind === 'header');
    if (h?.kind !== 'header' || !h.header) continue;
    const rail = railName(h.header);
    const color = net.color ?? (rail ? RAIL_COLORS[rail] : (SIGNAL_PALETTE[paletteIndex++ % SIGNAL_PALETTE.length] ?? '#000'));
    for (const e of ends) {
      if (e.kind !== 'part' || !e.part) continue;
      const px = pinXOf.get(`${e.ref}.${e.pin}`);
      if (px === undefined) continue;
      wires.push({ net, color, rail, header: h.header, part: e.part, partPin: e.pin, hx: exitX(h.pin), px, track: 0 });
    }
  }
  assignTracks(wires);

  const partTop = CHANNEL_Y0 + wires.length * TRACK + 36;
  const bottomTop = partTop + PART_H + 40;
  const H = bottomTop + 230;
  const usedPins = new Map<number, Wire>();
  for (const w of wires) usedPins.set(w.header.pin, w);

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<!-- ${GENERATED_NOTICE} -->`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" role="img" aria-label="${esc(board.title)} wiring diagram">`,
  );
  out.push(`<title>${esc(board.title)}: wiring (rev ${esc(board.revision)})</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  // Title
  out.push(text(30, 38, `${board.title} · wiring diagram`, 'font-size="24" font-weight="bold" fill="#1b2a44"'));
  out.push(
    text(
      30,
      60,
      `${board.sbc.models.pi4.name} / ${board.sbc.models.pi5.name} · ${board.sbc.ref} = 40-pin header seen from above (board edge at the top, pin 1 square) · one wire per line`,
      'font-size="13" fill="#444"',
    ),
  );

  // Header body
  const hx0 = HEADER_X0 - PITCH / 2 + 6;
  const hw = COLS * PITCH - 12;
  out.push(`<g id="header-${esc(board.sbc.ref)}">`);
  out.push(`  <rect x="${hx0}" y="${ROW_T - 17}" width="${hw}" height="${ROW_B - ROW_T + 34}" rx="4" fill="#2b2b2b"/>`);
  out.push(
    `  ${text(hx0 - 10, ROW_B + 5, `${board.sbc.ref}`, 'font-size="16" font-weight="bold" text-anchor="end" fill="#1b2a44"')}`,
  );
  for (const h of [...board.sbc.header].sort((a, b) => a.pin - b.pin)) {
    if (h.pin < 1 || h.pin > 40) continue;
    const { x, y } = pinXY(h.pin);
    const w = usedPins.get(h.pin);
    const fill =
      h.kind === 'power'
        ? railName(h) === '5V'
          ? RAIL_COLORS['5V']
          : RAIL_COLORS['3V3']
        : h.kind === 'ground'
          ? '#000'
          : '#c9a227';
    const shape =
      h.pin === 1
        ? `<rect x="${x - 10}" y="${y - 10}" width="20" height="20" fill="${fill}" stroke="#fff" stroke-width="1.5"/>`
        : `<circle cx="${x}" cy="${y}" r="10.5" fill="${fill}" stroke="${w ? '#fff' : '#777'}" stroke-width="1.5"/>`;
    out.push(`  ${shape}`);
    out.push(
      `  ${text(x, y + 3.5, String(h.pin), `font-size="10" font-weight="bold" text-anchor="middle" fill="${h.kind === 'gpio' ? '#000' : '#fff'}"`)}`,
    );
    const label = headerLabel(h);
    const color = w ? w.color : h.kind === 'gpio' ? '#8a8a8a' : fill;
    const weight = w ? ' font-weight="bold"' : '';
    if (h.pin % 2 === 0) {
      out.push(
        `  ${text(x + 4, y - 22, label, `font-size="12"${weight} fill="${color}" transform="rotate(-90 ${x + 4} ${y - 22})"`)}`,
      );
    } else {
      out.push(
        `  ${text(x - 4, y + 17, label, `font-size="12"${weight} fill="${color}" text-anchor="end" transform="rotate(-90 ${x - 4} ${y + 17})"`)}`,
      );
    }
  }
  out.push('</g>');

  // Wires: halo + colour, in track order so crossings show which passes over.
  out.push('<g id="wires" fill="none" stroke-linejoin="round" stroke-linecap="round">');
  const sorted = [...wires].sort((a, b) => a.track - b.track);
  for (const w of sorted) {
    const { x, y } = pinXY(w.header.pin);
    const ty = trackY(w.track);
    const pts: [number, number][] =
      w.header.pin % 2 === 0
        ? [
            [x + 10.5, y],
            [w.hx, y],
            [w.hx, ty],
            [w.px, ty],
            [w.px, partTop - 7],
          ]
        : [
            [w.hx, y + 10],
            [w.hx, ty],
            [w.px, ty],
            [w.px, partTop - 7],
          ];
    const d = `M${pts.map(([a, b]) => `${n(a)},${n(b)}`).join(' L')}`;
    const width = w.rail ? 3.6 : 3;
    out.push(`  <path d="${d}" stroke="#ffffff" stroke-width="${width + 4}"/>`);
    out.push(
      `  <path d="${d}" stroke="${w.color}" stroke-width="${width}"><title>${esc(`${w.net.name}: ${board.sbc.ref}.${w.header.pin} → ${w.part.ref}.${w.partPin}`)}</title></path>`,
    );
  }
  out.push('</g>');
  // Net labels on each run, clear of crossing drops.
  out.push('<g id="net-labels" font-size="11" font-weight="bold">');
  for (const w of sorted) {
    const label = w.net.name;
    const tw = textWidth(label, 11, true);
    const cx = labelX(w, wires, tw, partTop);
    const ty = trackY(w.track);
    out.push(
      `  <rect x="${n(cx - tw / 2 - 3)}" y="${n(ty - 7.5)}" width="${n(tw + 6)}" height="15" rx="3" fill="#fff" stroke="${w.color}" stroke-width="1"/>`,
    );
    out.push(`  ${text(cx, ty + 4, label, `text-anchor="middle" fill="${w.color}"`)}`);
  }
  out.push('</g>');

  // Parts
  for (const l of layout) out.push(partBox(l.part, l.x, l.w, partTop, l.pinX, idx));

  // Port-connected parts, legend, title block
  const portParts = board.parts.filter((p) => p.pins.length === 0);
  let bx = 30;
  for (const p of portParts) {
    const cfg = p.config as { port?: string };
    const bw = 330;
    out.push(`<g id="part-${esc(p.ref)}">`);
    out.push(
      `  <rect x="${bx}" y="${bottomTop}" width="${bw}" height="190" rx="8" fill="#f4f6fa" stroke="#30405a" stroke-width="2"/>`,
    );
    out.push(`  ${text(bx + 14, bottomTop + 24, `${p.ref} · ${p.name}`, 'font-size="14" font-weight="bold" fill="#1b2a44"')}`);
    out.push(`  ${text(bx + 14, bottomTop + 42, configSummary(p), 'font-size="10.5" fill="#333"')}`);
    let ly = bottomTop + 64;
    for (const model of ['pi4', 'pi5'] as const) {
      const port = cfg.port ? board.sbc.models[model].ports[cfg.port] : undefined;
      if (!port) continue;
      out.push(`  ${text(bx + 14, ly, `${model}: ${port.connector}`, 'font-size="11" font-weight="bold" fill="#222"')}`);
      for (const l of wrap(port.cable, 52).slice(0, 2)) {
        ly += 14;
        out.push(`  ${text(bx + 28, ly, l, 'font-size="10.5" fill="#444"')}`);
      }
      ly += 20;
    }
    for (const l of wrap(p.notes, 56).slice(0, 3)) {
      out.push(`  ${text(bx + 14, ly, l, 'font-size="10" fill="#555"')}`);
      ly += 13;
    }
    out.push('</g>');
    bx += bw + 24;
  }
  // Legend
  const lx = bx;
  const lw = 300;
  out.push('<g id="legend">');
  out.push(
    `  <rect x="${lx}" y="${bottomTop}" width="${lw}" height="190" rx="8" fill="#fff" stroke="#30405a" stroke-width="1.5"/>`,
  );
  out.push(`  ${text(lx + 14, bottomTop + 24, 'Legend', 'font-size="14" font-weight="bold" fill="#1b2a44"')}`);
  const legend: [string, string, number][] = [
    [RAIL_COLORS['5V'], '5V rail (use a red wire)', 3.6],
    [RAIL_COLORS['3V3'], '3V3 rail (use a red or orange wire)', 3.6],
    [RAIL_COLORS.GND, 'GND (use a black wire)', 3.6],
    [SIGNAL_PALETTE[0] ?? '#00f', 'signal: colour only tells wires apart', 3],
  ];
  legend.forEach(([c, label, sw], i) => {
    const y = bottomTop + 48 + i * 22;
    out.push(`  <line x1="${lx + 14}" y1="${y}" x2="${lx + 54}" y2="${y}" stroke="${c}" stroke-width="${sw}"/>`);
    out.push(`  ${text(lx + 64, y + 4, label, 'font-size="11" fill="#222"')}`);
  });
  const notes = [
    'Labels name the net; each part pin says which',
    `header pin (${board.sbc.ref}) it goes to. Unused header pins`,
    'are grey. All GPIO logic is 3.3 V.',
  ];
  notes.forEach((l, i) => {
    out.push(`  ${text(lx + 14, bottomTop + 146 + i * 15, l, 'font-size="10.5" fill="#222"')}`);
  });
  out.push('</g>');
  // Title block
  const tx = lx + lw + 24;
  const tw = W - 30 - tx;
  out.push('<g id="title-block">');
  out.push(`  <rect x="${tx}" y="${bottomTop}" width="${tw}" height="190" fill="#fff" stroke="#1b2a44" stroke-width="2"/>`);
  const rows: [string, string][] = [
    ['Title', board.title],
    ['Board', board.name],
    ['Revision', board.revision],
    ['Models', 'pi4 (pinctrl-bcm2711), pi5 (pinctrl-rp1)'],
    ['Wires', `${wires.length} from ${board.sbc.ref}; camera and PIN pad by cable`],
    ['Source', 'schematics/handset.board.json'],
  ];
  rows.forEach(([k, v], i) => {
    const y = bottomTop + 24 + i * 24;
    out.push(`  ${text(tx + 12, y, k, 'font-size="11" fill="#666"')}`);
    out.push(`  ${text(tx + 80, y, v, 'font-size="12" font-weight="bold" fill="#1b2a44"')}`);
    out.push(`  <line x1="${tx}" y1="${y + 8}" x2="${tx + tw}" y2="${y + 8}" stroke="#ccd" stroke-width="1"/>`);
  });
  out.push(`  ${text(tx + 12, bottomTop + 178, GENERATED_NOTICE, 'font-size="9.5" fill="#666"')}`);
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
