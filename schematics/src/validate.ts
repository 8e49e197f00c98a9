/**
 * The board validator. `checkBoard()` runs every rule and returns every problem;
 * `validateBoard()` / `parseBoardText()` / `loadBoard()` throw one `BoardError` listing
 * them all. Each problem names the header pin and/or part pin it is about.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HandsetError } from '@handset/device-drivers/core';
import type { z } from 'zod';
import {
  type Board,
  boardSchema,
  type HeaderFunction,
  type HeaderPin,
  type Net,
  PART_TYPES,
  type Part,
  type PartPin,
  type PartType,
  type PinSignal,
  partConfigSchemas,
  SBC_MODELS,
} from './board';
import { BoardError, type BoardProblem } from './errors';
import { type BoardIndex, describeEndpoint, describeHeaderPin, describePartPin, type Endpoint, indexBoard } from './netlist';

/** Minimum fill-light PWM frequency: inaudible and >= 20 periods per ms of exposure. */
export const MIN_PWM_FREQUENCY_HZ = 20_000;

/** Margin before a logic level counts as too high (3.3 V into a 3.3 V input is fine). */
const LEVEL_MARGIN_V = 0.05;

interface CatalogPin {
  name: string;
  direction: PartPin['direction'];
  signal?: PinSignal;
}

/**
 * What each part type needs. `wiring: 'header'` parts are wired pin by pin to J1;
 * `'port'` parts plug into a connector of the SBC (CSI, USB) named in their config.
 */
export const PART_CATALOG: Record<PartType, { wiring: 'header' | 'port'; pins: CatalogPin[] }> = {
  r307: {
    wiring: 'header',
    pins: [
      { name: 'VCC', direction: 'power' },
      { name: 'GND', direction: 'ground' },
      { name: 'TXD', direction: 'out', signal: 'UART_TX' },
      { name: 'RXD', direction: 'in', signal: 'UART_RX' },
      { name: 'TOUCH', direction: 'out', signal: 'GPIO' },
      { name: 'VT', direction: 'power' },
    ],
  },
  ssd1680: {
    wiring: 'header',
    pins: [
      { name: 'VCC', direction: 'power' },
      { name: 'GND', direction: 'ground' },
      { name: 'DIN', direction: 'in', signal: 'SPI_MOSI' },
      { name: 'CLK', direction: 'in', signal: 'SPI_SCLK' },
      { name: 'CS', direction: 'in', signal: 'SPI_CS' },
      { name: 'DC', direction: 'in', signal: 'GPIO' },
      { name: 'RST', direction: 'in', signal: 'GPIO' },
      { name: 'BUSY', direction: 'out', signal: 'GPIO' },
      { name: 'PWR', direction: 'in', signal: 'GPIO' },
    ],
  },
  'fill-light': {
    wiring: 'header',
    pins: [
      { name: 'PWM', direction: 'in', signal: 'PWM' },
      { name: 'VIN', direction: 'power' },
      { name: 'GND', direction: 'ground' },
    ],
  },
  'csi-camera': { wiring: 'port', pins: [] },
  'usb-hid-pinpad': { wiring: 'port', pins: [] },
};

export function isPartType(type: string): type is PartType {
  return (PART_TYPES as readonly string[]).includes(type);
}

// ---------------------------------------------------------------------------------------
// Parsing

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

/**
 * Offset of the first JSON syntax error in `text` (a small recursive-descent scanner run
 * only after JSON.parse failed, because V8's message does not always carry a position).
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail();
  };
  const str = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (text[i] !== '"') fail();
    i++;
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail();
    i += (m as RegExpExecArray)[0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        str();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
  } catch (pos) {
    if (typeof pos === 'number') return pos;
    throw pos;
  }
  return text.length;
}

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${String(k)}` : String(k);
  return out || '(root)';
}

function at(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** For a schema error inside a header pin or part pin, say which pin it is. */
function pinHint(
  raw: unknown,
  path: readonly PropertyKey[],
): Pick<BoardProblem, 'headerPin' | 'part' | 'pin'> & { text?: string } {
  const [a, b, c, d] = path;
  if (a === 'sbc' && b === 'header' && typeof c === 'number') {
    const pin = at(raw, ['sbc', 'header', c, 'pin']);
    if (typeof pin === 'number') return { headerPin: pin, text: `header pin ${pin}` };
  }
  if (a === 'parts' && typeof b === 'number') {
    const ref = at(raw, ['parts', b, 'ref']);
    const refText = typeof ref === 'string' ? ref : `parts[${b}]`;
    if (c === 'pins' && typeof d === 'number') {
      const name = at(raw, ['parts', b, 'pins', d, 'name']);
      if (typeof name === 'string') return { part: refText, pin: name, text: `${refText} pin ${name}` };
    }
    return { part: refText, text: refText };
  }
  if (a === 'nets' && typeof b === 'number') {
    const name = at(raw, ['nets', b, 'name']);
    if (typeof name === 'string') return { text: `net ${name}` };
  }
  return {};
}

function schemaProblems(raw: unknown, error: z.ZodError, prefix: readonly PropertyKey[] = []): BoardProblem[] {
  return error.issues.map((issue) => {
    const full = [...prefix, ...issue.path];
    const hint = pinHint(raw, full);
    const { text, ...where } = hint;
    return {
      rule: 'schema' as const,
      path: jsonPath(full),
      message: `${jsonPath(full)}${text ? ` (${text})` : ''}: ${issue.message}`,
      ...where,
    };
  });
}

/** Parses board JSON text; throws `BoardError` (rule `json` or `schema`) on failure. */
export function parseBoardText(text: string, source = 'board'): Board {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const pos = jsonErrorOffset(text);
    const near = JSON.stringify(text.slice(pos, pos + 12));
    throw new BoardError(source, [
      {
        rule: 'json',
        path: lineCol(text, pos),
        message: `not valid JSON at ${lineCol(text, pos)} near ${near} (${msg.split('\n')[0]})`,
      },
    ]);
  }
  return validateBoard(raw, source);
}

/** Validates a parsed JSON value; returns the typed board or throws one `BoardError`. */
export function validateBoard(raw: unknown, source = 'board'): Board {
  const result = checkBoard(raw);
  if (!result.board || result.problems.length) throw new BoardError(source, result.problems);
  return result.board;
}

/** Runs every rule; never throws. `board` is set when the structure parsed. */
export function checkBoard(raw: unknown): { board: Board | undefined; problems: BoardProblem[] } {
  const parsed = boardSchema.safeParse(raw);
  if (!parsed.success) return { board: undefined, problems: schemaProblems(raw, parsed.error) };
  const board = parsed.data;
  return { board, problems: runRules(raw, board) };
}

// ---------------------------------------------------------------------------------------
// Rules

interface Ctx {
  raw: unknown;
  board: Board;
  idx: BoardIndex;
  problems: BoardProblem[];
  /** Part types that are known and whose config parsed. */
  configs: Map<string, Record<string, unknown>>;
}

type Rule = (ctx: Ctx) => void;

const partLabel = (p: Part) => `${p.ref} (${p.name})`;

function railOf(
  net: Net,
  idx: BoardIndex,
): { kind: 'power'; voltage: number; pin: HeaderPin } | { kind: 'ground'; pin: HeaderPin } | undefined {
  for (const c of net.connects) {
    const e = idx.endpoint(c);
    if (e.kind !== 'header' || !e.header) continue;
    if (e.header.kind === 'ground') return { kind: 'ground', pin: e.header };
    if (e.header.kind === 'power') return { kind: 'power', voltage: e.header.voltage ?? 0, pin: e.header };
  }
  return undefined;
}

function headerEnds(net: Net, idx: BoardIndex): HeaderPin[] {
  const out: HeaderPin[] = [];
  for (const c of net.connects) {
    const e = idx.endpoint(c);
    if (e.kind === 'header' && e.header) out.push(e.header);
  }
  return out;
}

const duplicates: Rule = ({ board, problems }) => {
  const seen = new Set<string>();
  board.parts.forEach((p, i) => {
    if (p.ref === board.sbc.ref || seen.has(p.ref))
      problems.push({ rule: 'duplicate', path: `parts[${i}].ref`, part: p.ref, message: `part ref ${p.ref} is used twice` });
    seen.add(p.ref);
  });
  const names = new Set<string>();
  board.nets.forEach((n, i) => {
    if (names.has(n.name))
      problems.push({ rule: 'duplicate', path: `nets[${i}].name`, message: `net name ${n.name} is used twice` });
    names.add(n.name);
  });
};

const headerTable: Rule = ({ board, problems }) => {
  const counts = new Map<number, number>();
  const gpios = new Map<number, number>();
  board.sbc.header.forEach((h, i) => {
    counts.set(h.pin, (counts.get(h.pin) ?? 0) + 1);
    const path = `sbc.header[${i}]`;
    if (h.pin < 1 || h.pin > 40)
      problems.push({ rule: 'header-table', path, headerPin: h.pin, message: `header pin ${h.pin} is outside 1..40` });
    if (h.kind === 'gpio') {
      if (h.gpio === undefined)
        problems.push({
          rule: 'header-table',
          path,
          headerPin: h.pin,
          message: `header pin ${h.pin} (${h.name}) is a GPIO without a gpio number`,
        });
      else {
        if (gpios.has(h.gpio))
          problems.push({
            rule: 'header-table',
            path,
            headerPin: h.pin,
            message: `header pin ${h.pin} (${h.name}) repeats GPIO${h.gpio} of header pin ${gpios.get(h.gpio)}`,
          });
        gpios.set(h.gpio, h.pin);
      }
    }
    if (h.kind === 'power' && h.voltage === undefined)
      problems.push({
        rule: 'header-table',
        path,
        headerPin: h.pin,
        message: `header pin ${h.pin} (${h.name}) is a power pin without a voltage`,
      });
  });
  for (const [pin, n] of counts)
    if (n > 1)
      problems.push({
        rule: 'header-table',
        headerPin: pin,
        message: `header pin ${pin} is listed ${n} times in the header table`,
      });
  const missing: number[] = [];
  for (let p = 1; p <= 40; p++) if (!counts.has(p)) missing.push(p);
  if (missing.length)
    problems.push({
      rule: 'header-table',
      message: `header table lacks pin${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    });
};

const partTypes: Rule = ({ raw, board, problems, configs }) => {
  board.parts.forEach((p, i) => {
    if (!isPartType(p.type)) {
      problems.push({
        rule: 'unknown-part-type',
        path: `parts[${i}].type`,
        part: p.ref,
        message: `part ${partLabel(p)} has unknown type '${p.type}' (known: ${PART_TYPES.join(', ')})`,
      });
      return;
    }
    const cfg = partConfigSchemas[p.type].safeParse(p.config);
    if (!cfg.success) {
      problems.push(...schemaProblems(raw, cfg.error, ['parts', i, 'config']));
      return;
    }
    p.config = cfg.data as Record<string, unknown>;
    configs.set(p.ref, p.config);
  });
};

const partPins: Rule = ({ board, problems }) => {
  board.parts.forEach((p, i) => {
    if (!isPartType(p.type)) return;
    const spec = PART_CATALOG[p.type];
    const seen = new Set<string>();
    p.pins.forEach((pin, j) => {
      if (seen.has(pin.name))
        problems.push({
          rule: 'part-pins',
          path: `parts[${i}].pins[${j}]`,
          part: p.ref,
          pin: pin.name,
          message: `${describePartPin(p, p.ref, pin.name)} is declared twice`,
        });
      seen.add(pin.name);
      if (
        (pin.direction === 'out' || pin.direction === 'bidir') &&
        pin.outputFrom &&
        !p.pins.some((q) => q.name === pin.outputFrom)
      )
        problems.push({
          rule: 'part-pins',
          path: `parts[${i}].pins[${j}].outputFrom`,
          part: p.ref,
          pin: pin.name,
          message: `${describePartPin(p, p.ref, pin.name)} takes its level from pin ${pin.outputFrom}, which the part does not have`,
        });
    });
    for (const want of spec.pins) {
      const have = p.pins.find((q) => q.name === want.name);
      const where = describePartPin(p, p.ref, want.name);
      if (!have) {
        problems.push({
          rule: 'part-pins',
          path: `parts[${i}].pins`,
          part: p.ref,
          pin: want.name,
          message: `${where} is missing (a ${p.type} needs it)`,
        });
        continue;
      }
      if (have.direction !== want.direction || have.signal !== want.signal)
        problems.push({
          rule: 'part-pins',
          path: `parts[${i}].pins`,
          part: p.ref,
          pin: want.name,
          message: `${where} must be ${want.direction}${want.signal ? ` ${want.signal}` : ''} for a ${p.type}, not ${have.direction}${have.signal ? ` ${have.signal}` : ''}`,
        });
    }
    if (spec.wiring === 'port' && p.pins.length)
      problems.push({
        rule: 'part-pins',
        path: `parts[${i}].pins`,
        part: p.ref,
        message: `part ${partLabel(p)} plugs into a port; it has no header pins (found ${p.pins.map((q) => q.name).join(', ')})`,
      });
  });
};

const unknownPins: Rule = ({ board, idx, problems }) => {
  const sbc = board.sbc;
  board.nets.forEach((net, i) => {
    net.connects.forEach((c, j) => {
      const e = idx.endpoint(c);
      const path = `nets[${i}].connects[${j}]`;
      if (e.kind === 'header') {
        if (!e.header)
          problems.push({
            rule: 'unknown-pin',
            path,
            headerPin: Number.isNaN(e.pin) ? undefined : e.pin,
            message: `net ${net.name}: header pin ${c.slice(sbc.ref.length + 1)} does not exist (${sbc.ref} has pins 1-40)`,
          });
      } else if (!e.part) {
        problems.push({
          rule: 'unknown-pin',
          path,
          part: e.ref,
          pin: e.pin,
          message: `net ${net.name}: ${c} names part ${e.ref}, which is not on the board`,
        });
      } else if (!e.partPin) {
        problems.push({
          rule: 'unknown-pin',
          path,
          part: e.ref,
          pin: e.pin,
          message: `net ${net.name}: ${describePartPin(e.part, e.ref, e.pin)} does not exist (pins: ${e.part.pins.map((p) => p.name).join(', ') || 'none'})`,
        });
      }
    });
  });
  board.parts.forEach((p, i) => {
    if (!p.circuit) return;
    const comps = new Map(p.circuit.components.map((c) => [c.ref, c]));
    p.circuit.nets.forEach((net, j) => {
      net.connects.forEach((c, k) => {
        const dot = c.indexOf('.');
        const ok =
          dot < 0 ? p.pins.some((q) => q.name === c) : (comps.get(c.slice(0, dot))?.pins.includes(c.slice(dot + 1)) ?? false);
        if (!ok)
          problems.push({
            rule: 'unknown-pin',
            path: `parts[${i}].circuit.nets[${j}].connects[${k}]`,
            part: p.ref,
            pin: c,
            message: `${partLabel(p)} circuit net ${net.name}: ${c} is neither a pin of the part nor a component pin`,
          });
      });
    });
  });
};

const pinConflicts: Rule = ({ board, idx, problems }) => {
  const uses = new Map<string, string[]>();
  for (const net of board.nets) {
    const seen = new Set<string>();
    for (const c of net.connects) {
      if (seen.has(c)) {
        problems.push({ rule: 'pin-conflict', message: `net ${net.name} lists ${describeEndpoint(idx.endpoint(c))} twice` });
        continue;
      }
      seen.add(c);
      uses.set(c, [...(uses.get(c) ?? []), net.name]);
    }
  }
  for (const [c, nets] of uses) {
    if (nets.length < 2) continue;
    const e = idx.endpoint(c);
    const others = nets.flatMap((n) => board.nets.find((x) => x.name === n)?.connects.filter((o) => o !== c) ?? []);
    const whom = others.map((o) => describeEndpoint(idx.endpoint(o))).join(', ');
    problems.push({
      rule: 'pin-conflict',
      headerPin: e.kind === 'header' ? e.pin : undefined,
      part: e.kind === 'part' ? e.ref : undefined,
      pin: e.kind === 'part' ? e.pin : undefined,
      message: `${describeEndpoint(e)} is used twice: by nets ${nets.join(' and ')} (to ${whom})`,
    });
  }
};

/** Header function a part pin's signal needs, given the part's bus config. */
function neededFunction(pin: PartPin, cfg: Record<string, unknown>): HeaderFunction | undefined {
  const uart = typeof cfg.uart === 'string' ? cfg.uart : undefined;
  const spi = typeof cfg.spi === 'string' ? cfg.spi : undefined;
  switch (pin.signal) {
    case 'UART_TX':
      return uart ? (`${uart}_RXD` as HeaderFunction) : undefined;
    case 'UART_RX':
      return uart ? (`${uart}_TXD` as HeaderFunction) : undefined;
    case 'SPI_MOSI':
      return spi ? (`${spi}_MOSI` as HeaderFunction) : undefined;
    case 'SPI_MISO':
      return spi ? (`${spi}_MISO` as HeaderFunction) : undefined;
    case 'SPI_SCLK':
      return spi ? (`${spi}_SCLK` as HeaderFunction) : undefined;
    case 'SPI_CS':
      return spi ? (`${spi}_CE${Number(cfg.chipSelect ?? 0)}` as HeaderFunction) : undefined;
    default:
      return undefined;
  }
}

function pinsWith(board: Board, fn: string): string {
  const list = board.sbc.header.filter((h) => (h.functions as string[]).includes(fn)).map((h) => `pin ${h.pin} (${h.name})`);
  return list.length ? list.join(' or ') : 'no header pin';
}

const busPins: Rule = ({ board, idx, problems, configs }) => {
  for (const p of board.parts) {
    const cfg = configs.get(p.ref);
    for (const pin of p.pins) {
      if (!pin.signal || pin.signal === 'PWM') continue;
      const where = describePartPin(p, p.ref, pin.name);
      for (const h of idx.headerPinsOf(p.ref, pin.name)) {
        if (h.kind !== 'gpio') {
          problems.push({
            rule: 'bus-pin',
            headerPin: h.pin,
            part: p.ref,
            pin: pin.name,
            message: `${where} carries ${pin.signal} but is wired to ${describeHeaderPin(h.pin, h)}, which is not a GPIO`,
          });
          continue;
        }
        if (pin.signal === 'GPIO' || !cfg) continue;
        const fn = neededFunction(pin, cfg);
        if (fn && !(h.functions as string[]).includes(fn))
          problems.push({
            rule: 'bus-pin',
            headerPin: h.pin,
            part: p.ref,
            pin: pin.name,
            message: `${where} needs ${fn} but is wired to ${describeHeaderPin(h.pin, h)}${h.functions.length ? ` (${h.functions.join(', ')})` : ''}; ${fn} is on ${pinsWith(board, fn)}`,
          });
      }
    }
  }
};

const pwmPins: Rule = ({ board, idx, problems }) => {
  const channelUsers = new Map<string, string[]>();
  for (const p of board.parts) {
    for (const pin of p.pins) {
      if (pin.signal !== 'PWM') continue;
      const where = describePartPin(p, p.ref, pin.name);
      for (const h of idx.headerPinsOf(p.ref, pin.name)) {
        const pwm = h.functions.find((f) => f === 'PWM0' || f === 'PWM1');
        if (!pwm) {
          problems.push({
            rule: 'pwm-pin',
            headerPin: h.pin,
            part: p.ref,
            pin: pin.name,
            message: `${where} needs hardware PWM but is wired to ${describeHeaderPin(h.pin, h)}, which has none; hardware PWM is on ${pinsWith(board, 'PWM0')} (PWM0) and ${pinsWith(board, 'PWM1')} (PWM1)`,
          });
          continue;
        }
        for (const model of SBC_MODELS) {
          const ch = board.sbc.models[model].pwm.channels[String(h.gpio)];
          if (!ch) continue;
          const key = `${model}:${ch.channel}`;
          channelUsers.set(key, [...(channelUsers.get(key) ?? []), `${where} on ${describeHeaderPin(h.pin, h)}`]);
        }
      }
    }
  }
  for (const [key, users] of channelUsers) {
    if (users.length < 2) continue;
    const [model, ch] = key.split(':');
    problems.push({ rule: 'pwm-pin', message: `PWM channel ${ch} on ${model} is shared by ${users.join(' and ')}` });
  }
};

const pwmFrequency: Rule = ({ board, idx, problems, configs }) => {
  for (const p of board.parts) {
    const cfg = configs.get(p.ref);
    if (p.type !== 'fill-light' || !cfg) continue;
    const hz = Number(cfg.frequencyHz);
    if (hz >= MIN_PWM_FREQUENCY_HZ) continue;
    const pwmPin = p.pins.find((q) => q.signal === 'PWM');
    const h = pwmPin ? idx.headerPinsOf(p.ref, pwmPin.name)[0] : undefined;
    problems.push({
      rule: 'pwm-frequency',
      part: p.ref,
      pin: pwmPin?.name,
      headerPin: h?.pin,
      message: `${describePartPin(p, p.ref, pwmPin?.name ?? 'PWM')}${h ? ` on ${describeHeaderPin(h.pin, h)}` : ''} runs at ${hz} Hz; a fill-light needs >= ${MIN_PWM_FREQUENCY_HZ} Hz (audible whine and rolling-shutter banding below)`,
    });
  }
};

interface Driver {
  what: string;
  volts: number;
}

function outputLevel(e: Endpoint, idx: BoardIndex, board: Board): number | undefined {
  if (e.kind === 'header') return e.header?.kind === 'gpio' ? board.sbc.logic.outputHighV : undefined;
  const pin = e.partPin;
  if (!pin || (pin.direction !== 'out' && pin.direction !== 'bidir')) return undefined;
  if (pin.outputV !== undefined) return pin.outputV;
  if (pin.outputFrom) {
    for (const net of idx.netsOf(`${e.ref}.${pin.outputFrom}`)) {
      const rail = railOf(net, idx);
      if (rail?.kind === 'power') return rail.voltage;
    }
  }
  return undefined;
}

function maxInput(e: Endpoint, board: Board): number | undefined {
  if (e.kind === 'header') return e.header?.kind === 'gpio' ? board.sbc.logic.maxInputV : undefined;
  const pin = e.partPin;
  if (!pin || (pin.direction !== 'in' && pin.direction !== 'bidir')) return undefined;
  return pin.maxInputV;
}

const logicLevels: Rule = ({ board, idx, problems }) => {
  for (const net of board.nets) {
    if (railOf(net, idx)) continue;
    const ends = net.connects.map((c) => idx.endpoint(c));
    const drivers: (Driver & { e: Endpoint })[] = [];
    for (const e of ends) {
      const v = outputLevel(e, idx, board);
      if (v !== undefined) drivers.push({ e, what: describeEndpoint(e), volts: v });
    }
    for (const e of ends) {
      const max = maxInput(e, board);
      if (max === undefined) continue;
      for (const d of drivers) {
        if (d.e === e || d.volts <= max + LEVEL_MARGIN_V) continue;
        problems.push({
          rule: 'logic-level',
          headerPin: e.kind === 'header' ? e.pin : undefined,
          part: e.kind === 'part' ? e.ref : d.e.kind === 'part' ? d.e.ref : undefined,
          pin: e.kind === 'part' ? e.pin : d.e.kind === 'part' ? d.e.pin : undefined,
          message: `net ${net.name}: ${d.what} drives ${d.volts} V logic into ${describeEndpoint(e)}, a ${max} V input`,
        });
      }
    }
  }
};

const powerShorts: Rule = ({ board, idx, problems }) => {
  for (const net of board.nets) {
    const hs = headerEnds(net, idx);
    const grounds = hs.filter((h) => h.kind === 'ground');
    const rails = hs.filter((h) => h.kind === 'power');
    const gpios = hs.filter((h) => h.kind === 'gpio');
    const names = (l: HeaderPin[]) => l.map((h) => describeHeaderPin(h.pin, h)).join(', ');
    if (rails.length && grounds.length)
      problems.push({
        rule: 'power-short',
        headerPin: rails[0]?.pin,
        message: `net ${net.name} shorts power to ground: ${names(rails)} to ${names(grounds)}`,
      });
    const volts = new Set(rails.map((h) => h.voltage));
    if (volts.size > 1)
      problems.push({
        rule: 'power-short',
        headerPin: rails[0]?.pin,
        message: `net ${net.name} shorts two rails: ${names(rails)}`,
      });
    if ((rails.length || grounds.length) && gpios.length)
      problems.push({
        rule: 'power-short',
        headerPin: gpios[0]?.pin,
        message: `net ${net.name} ties ${names(gpios)} straight to the ${rails.length ? rails[0]?.name : 'GND'} rail (${names([...rails, ...grounds])})`,
      });
  }
};

const supplies: Rule = ({ board, idx, problems }) => {
  for (const p of board.parts) {
    for (const pin of p.pins) {
      if (pin.direction !== 'power') continue;
      const where = describePartPin(p, p.ref, pin.name);
      for (const net of idx.netsOf(`${p.ref}.${pin.name}`)) {
        const rail = railOf(net, idx);
        const hs = headerEnds(net, idx);
        if (!rail) {
          if (hs.length)
            problems.push({
              rule: 'supply',
              part: p.ref,
              pin: pin.name,
              headerPin: hs[0]?.pin,
              message: `${where} is a supply input but is wired to ${hs.map((h) => describeHeaderPin(h.pin, h)).join(', ')}, not to a power pin`,
            });
          continue;
        }
        if (rail.kind === 'ground') {
          problems.push({
            rule: 'supply',
            part: p.ref,
            pin: pin.name,
            headerPin: rail.pin.pin,
            message: `${where} is a supply input but is wired to ${describeHeaderPin(rail.pin.pin, rail.pin)}`,
          });
          continue;
        }
        const range = pin.supplyV;
        if (range && (rail.voltage < range[0] || rail.voltage > range[1]))
          problems.push({
            rule: 'supply',
            part: p.ref,
            pin: pin.name,
            headerPin: rail.pin.pin,
            message: `${where} needs ${range[0]}-${range[1]} V but is wired to ${describeHeaderPin(rail.pin.pin, rail.pin)} at ${rail.voltage} V`,
          });
      }
    }
  }
};

const grounds: Rule = ({ board, idx, problems }) => {
  let anyGround = false;
  for (const p of board.parts) {
    for (const pin of p.pins) {
      if (pin.direction !== 'ground') continue;
      const where = describePartPin(p, p.ref, pin.name);
      const nets = idx.netsOf(`${p.ref}.${pin.name}`);
      const rails = nets.map((n) => railOf(n, idx));
      if (rails.some((r) => r?.kind === 'ground')) {
        anyGround = true;
        continue;
      }
      const hs = nets.flatMap((n) => headerEnds(n, idx));
      problems.push({
        rule: 'missing-ground',
        part: p.ref,
        pin: pin.name,
        headerPin: hs[0]?.pin,
        message: hs.length
          ? `${where} is wired to ${hs.map((h) => describeHeaderPin(h.pin, h)).join(', ')}, not to ground`
          : `${where} is not wired to ground (use a GND pin: ${board.sbc.header
              .filter((h) => h.kind === 'ground')
              .map((h) => h.pin)
              .join(', ')})`,
      });
    }
  }
  if (!anyGround && board.parts.some((p) => p.pins.length))
    problems.push({
      rule: 'missing-ground',
      message: `no net connects any part to a ${board.sbc.ref} GND pin: the board has no ground`,
    });
};

const unconnected: Rule = ({ board, idx, problems }) => {
  for (const p of board.parts) {
    for (const pin of p.pins) {
      if (pin.optional || pin.direction === 'ground') continue;
      const hs = idx.headerPinsOf(p.ref, pin.name);
      if (hs.length === 0 && idx.netsOf(`${p.ref}.${pin.name}`).length === 0)
        problems.push({
          rule: 'unconnected',
          part: p.ref,
          pin: pin.name,
          message: `${describePartPin(p, p.ref, pin.name)} is not wired to anything`,
        });
    }
  }
};

const models: Rule = ({ board, idx, problems, configs }) => {
  const portIds = new Set(board.sbc.ports.map((x) => x.id));
  for (const p of board.parts) {
    const cfg = configs.get(p.ref);
    if (!cfg) continue;
    for (const model of SBC_MODELS) {
      const m = board.sbc.models[model];
      if (typeof cfg.uart === 'string' && !m.uart[cfg.uart])
        problems.push({
          rule: 'model',
          part: p.ref,
          message: `${partLabel(p)} uses ${cfg.uart}, which sbc.models.${model}.uart does not describe`,
        });
      if (typeof cfg.spi === 'string' && !m.spi[cfg.spi])
        problems.push({
          rule: 'model',
          part: p.ref,
          message: `${partLabel(p)} uses ${cfg.spi}, which sbc.models.${model}.spi does not describe`,
        });
      if (typeof cfg.port === 'string' && !m.ports[cfg.port])
        problems.push({
          rule: 'model',
          part: p.ref,
          message: `${partLabel(p)} plugs into port ${cfg.port}, which sbc.models.${model}.ports does not describe`,
        });
      for (const pin of p.pins) {
        if (pin.signal !== 'PWM') continue;
        for (const h of idx.headerPinsOf(p.ref, pin.name)) {
          if (h.functions.some((f) => f === 'PWM0' || f === 'PWM1') && !m.pwm.channels[String(h.gpio)])
            problems.push({
              rule: 'model',
              part: p.ref,
              pin: pin.name,
              headerPin: h.pin,
              message: `${describePartPin(p, p.ref, pin.name)} is on ${describeHeaderPin(h.pin, h)}, which sbc.models.${model}.pwm.channels does not map to a channel`,
            });
        }
      }
    }
    if (typeof cfg.port === 'string' && !portIds.has(cfg.port))
      problems.push({
        rule: 'model',
        part: p.ref,
        message: `${partLabel(p)} plugs into port ${cfg.port}, which sbc.ports does not list`,
      });
  }
};

const handsetParts: Rule = ({ board, problems }) => {
  for (const type of PART_TYPES) {
    const found = board.parts.filter((p) => p.type === type);
    if (found.length === 0)
      problems.push({ rule: 'missing-part', message: `the handset needs a ${type} part; the board has none` });
    if (found.length > 1)
      problems.push({
        rule: 'missing-part',
        part: found[1]?.ref,
        message: `the handset takes one ${type} part; the board has ${found.map(partLabel).join(', ')}`,
      });
  }
};

/** Every rule, in the order problems are reported. */
const RULES: Rule[] = [
  duplicates,
  headerTable,
  partTypes,
  partPins,
  unknownPins,
  pinConflicts,
  busPins,
  pwmPins,
  pwmFrequency,
  logicLevels,
  powerShorts,
  supplies,
  grounds,
  unconnected,
  models,
  handsetParts,
];

function runRules(raw: unknown, board: Board): BoardProblem[] {
  const ctx: Ctx = { raw, board, idx: indexBoard(board), problems: [], configs: new Map() };
  for (const rule of RULES) rule(ctx);
  return ctx.problems;
}

// ---------------------------------------------------------------------------------------
// Loading

/**
 * Where the checked-in board lives: `$HANDSET_BOARD`; else `schematics/handset.board.json`
 * next to this source file (or, from the bundled CLI in host-sdk/dist, in the sibling
 * schematics folder); else found by walking up from the working directory.
 */
export function defaultBoardPath(): string {
  const env = process.env.HANDSET_BOARD;
  if (env) return resolve(env);
  const candidates = [
    new URL('../handset.board.json', import.meta.url),
    new URL('../../schematics/handset.board.json', import.meta.url),
  ];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const candidate = join(dir, 'schematics', 'handset.board.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(process.cwd(), 'schematics', 'handset.board.json');
  }
}

function readError(path: string, err: unknown): HandsetError {
  const code = (err as NodeJS.ErrnoException).code;
  return new BoardError(path, [
    { rule: 'json', message: `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : String(err)}` },
  ]);
}

/** Reads, parses and validates a board file (default: the checked-in reference board). */
export async function loadBoard(path: string = defaultBoardPath()): Promise<Board> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw readError(path, err);
  }
  return parseBoardText(text, path);
}

/** Synchronous `loadBoard`, for configuration code that runs before anything async. */
export function loadBoardSync(path: string = defaultBoardPath()): Board {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw readError(path, err);
  }
  return parseBoardText(text, path);
}
