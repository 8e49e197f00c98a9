import type { Board, HeaderPin, Net, Part, PartPin } from './board';

/** A net endpoint resolved against the board: a header pin or a part pin (or nothing). */
export type Endpoint =
  | { kind: 'header'; text: string; pin: number; header: HeaderPin | undefined }
  | { kind: 'part'; text: string; ref: string; pin: string; part: Part | undefined; partPin: PartPin | undefined };

/** Lookups over a parsed board; shared by the validator, the accessor and the generators. */
export interface BoardIndex {
  board: Board;
  headerByPin: Map<number, HeaderPin>;
  partByRef: Map<string, Part>;
  endpoint(text: string): Endpoint;
  /** Nets that list this endpoint (`J1.19`, `U2.DIN`), in file order. */
  netsOf(text: string): Net[];
  /** The header pins on the net of part pin `ref.pin` (normally exactly one). */
  headerPinsOf(ref: string, pin: string): HeaderPin[];
}

/** `U2 (2.13" e-paper) pin DIN` */
export function describePartPin(part: Part | undefined, ref: string, pin: string): string {
  return `${ref}${part ? ` (${part.name})` : ''} pin ${pin}`;
}

/** `header pin 12 (GPIO18)` */
export function describeHeaderPin(pin: number, header: HeaderPin | undefined): string {
  return `header pin ${pin}${header ? ` (${header.name})` : ''}`;
}

export function describeEndpoint(e: Endpoint): string {
  return e.kind === 'header' ? describeHeaderPin(e.pin, e.header) : describePartPin(e.part, e.ref, e.pin);
}

export function indexBoard(board: Board): BoardIndex {
  const headerByPin = new Map<number, HeaderPin>();
  for (const h of board.sbc.header) if (!headerByPin.has(h.pin)) headerByPin.set(h.pin, h);
  const partByRef = new Map<string, Part>();
  for (const p of board.parts) if (!partByRef.has(p.ref)) partByRef.set(p.ref, p);
  const byEndpoint = new Map<string, Net[]>();
  for (const net of board.nets) {
    for (const e of new Set(net.connects)) {
      const list = byEndpoint.get(e) ?? [];
      list.push(net);
      byEndpoint.set(e, list);
    }
  }

  const endpoint = (text: string): Endpoint => {
    const dot = text.indexOf('.');
    const ref = text.slice(0, dot);
    const pin = text.slice(dot + 1);
    if (ref === board.sbc.ref) {
      const n = /^\d+$/.test(pin) ? Number(pin) : Number.NaN;
      return { kind: 'header', text, pin: n, header: headerByPin.get(n) };
    }
    const part = partByRef.get(ref);
    return { kind: 'part', text, ref, pin, part, partPin: part?.pins.find((p) => p.name === pin) };
  };

  return {
    board,
    headerByPin,
    partByRef,
    endpoint,
    netsOf: (text) => byEndpoint.get(text) ?? [],
    headerPinsOf(ref, pin) {
      const out: HeaderPin[] = [];
      for (const net of byEndpoint.get(`${ref}.${pin}`) ?? []) {
        for (const c of net.connects) {
          const e = endpoint(c);
          if (e.kind === 'header' && e.header) out.push(e.header);
        }
      }
      return out;
    },
  };
}
