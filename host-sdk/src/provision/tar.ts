import { BundleError } from './errors';

/**
 * The one tar dialect bundles use: POSIX ustar, regular files only, mode 0644, uid/gid
 * 0, empty user/group names, every entry with the same mtime, data padded with zeros to
 * 512 bytes, two zero blocks at the end and nothing after them. GNU tar and bsdtar
 * read it. The reader is strict: it rebuilds the canonical header from the fields it
 * parsed and refuses any header that differs in a single byte, so a flipped byte in a
 * header can never be read as something else.
 */
export const BLOCK = 512;

const enc = new TextEncoder();

function octal(out: Uint8Array, at: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new BundleError('TOO_LARGE', `value ${value} does not fit a ${width}-byte tar field`);
  out.set(enc.encode(s), at);
  out[at + width - 1] = 0;
}

/** The canonical 512-byte ustar header of a regular file. */
export function tarHeader(name: string, size: number, mtimeSeconds: number): Uint8Array {
  const nameBytes = enc.encode(name);
  if (nameBytes.length === 0 || nameBytes.length > 99)
    throw new BundleError('BAD_INPUT', `tar entry name ${JSON.stringify(name)} must be 1-99 bytes`);
  const h = new Uint8Array(BLOCK);
  h.set(nameBytes, 0);
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtimeSeconds);
  h.fill(0x20, 148, 156);
  h[156] = 0x30; // '0' regular file
  h.set(enc.encode('ustar\u0000'), 257);
  h.set(enc.encode('00'), 263);
  let sum = 0;
  for (const b of h) sum += b;
  const cs = sum.toString(8).padStart(6, '0');
  h.set(enc.encode(cs), 148);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

export interface TarEntryHeader {
  name: string;
  size: number;
  mtime: number;
}

const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** Parses a header block; undefined for a zero block; BundleError BAD_FORMAT unless it is canonical. */
export function parseTarHeader(block: Uint8Array, offset: number): TarEntryHeader | undefined {
  if (isZero(block)) return undefined;
  const bad = (why: string) => new BundleError('BAD_FORMAT', `tar header at byte ${offset}: ${why}`, { details: { offset } });
  const nul = block.indexOf(0);
  if (nul <= 0 || nul > 99) throw bad('bad name');
  const name = new TextDecoder('utf-8', { fatal: false }).decode(block.subarray(0, nul));
  const num = (at: number, width: number): number => {
    const s = new TextDecoder().decode(block.subarray(at, at + width - 1));
    if (!/^[0-7]+$/.test(s)) throw bad(`field at ${at} is not octal`);
    return Number.parseInt(s, 8);
  };
  const size = num(124, 12);
  const mtime = num(136, 12);
  let canonical: Uint8Array;
  try {
    canonical = tarHeader(name, size, mtime);
  } catch {
    throw bad('not canonical');
  }
  for (let i = 0; i < BLOCK; i++) if (canonical[i] !== block[i]) throw bad(`byte ${i} differs from the canonical header`);
  return { name, size, mtime };
}

export const paddedSize = (size: number): number => Math.ceil(size / BLOCK) * BLOCK;

/** A complete tar of the given entries, in the order given. */
export function writeTar(entries: readonly { name: string; data: Uint8Array }[], mtimeSeconds: number): Uint8Array {
  let total = 2 * BLOCK;
  for (const e of entries) total += BLOCK + paddedSize(e.data.length);
  const out = new Uint8Array(total);
  let o = 0;
  for (const e of entries) {
    out.set(tarHeader(e.name, e.data.length, mtimeSeconds), o);
    o += BLOCK;
    out.set(e.data, o);
    o += paddedSize(e.data.length);
  }
  return out;
}
