/**
 * R307 stream parser: bytes in (any fragmentation), packets out.
 *
 * - Resynchronises on `EF 01`: bytes before a header are counted as garbage.
 * - A header whose PID or length field is impossible is a false start: skip one byte.
 * - A frame with a bad checksum is reported (`badChecksum`) and only its header is
 *   skipped, so a good frame hiding inside a false start is still found.
 * - A frame for another address (when `address` is set) is reported (`wrongAddress`)
 *   and dropped whole.
 * - Never throws on input.
 */
import { EventEmitter } from 'node:events';
import {
  checksum,
  HEADER_HI,
  HEADER_LO,
  isPid,
  MAX_LENGTH,
  MIN_LENGTH,
  PACKET_OVERHEAD,
  type Packet,
  Pid,
  readU32,
} from './protocol';

export interface BadChecksumEvent {
  address: number;
  pid: number;
  length: number;
  received: number;
  expected: number;
}

export interface R307ParserEvents {
  packet: [Packet];
  badChecksum: [BadChecksumEvent];
  wrongAddress: [Packet];
  /** Bytes skipped while looking for a header. */
  garbage: [number];
}

export interface R307ParserOptions {
  /** Accept only packets for this address; `undefined` accepts any. */
  address?: number;
  /** Largest length field accepted (default 258 = 256 payload + checksum). */
  maxLength?: number;
}

export interface R307ParserStats {
  packets: number;
  badChecksum: number;
  wrongAddress: number;
  garbageBytes: number;
}

export class R307Parser extends EventEmitter<R307ParserEvents> {
  /** Packets for other addresses are dropped; undefined accepts all. */
  address: number | undefined;
  readonly maxLength: number;
  readonly stats: R307ParserStats = { packets: 0, badChecksum: 0, wrongAddress: 0, garbageBytes: 0 };
  private buf: Uint8Array = new Uint8Array(0);

  constructor(options: R307ParserOptions = {}) {
    super();
    this.address = options.address;
    this.maxLength = options.maxLength ?? MAX_LENGTH;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.buf.length;
  }

  /** Drops any partial frame (after a timeout, before a new command). */
  reset(): void {
    this.buf = new Uint8Array(0);
  }

  /** Feeds bytes; emits and returns the complete, valid packets they finish. */
  push(chunk: Uint8Array): Packet[] {
    const out: Packet[] = [];
    if (chunk.length === 0) return out;
    let buf: Uint8Array;
    if (this.buf.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.buf.length + chunk.length);
      buf.set(this.buf);
      buf.set(chunk, this.buf.length);
    }
    let pos = 0;
    let garbage = 0;
    const flushGarbage = () => {
      if (garbage) {
        this.stats.garbageBytes += garbage;
        this.emit('garbage', garbage);
        garbage = 0;
      }
    };
    while (pos < buf.length) {
      if (buf[pos] !== HEADER_HI) {
        pos++;
        garbage++;
        continue;
      }
      if (pos + 1 >= buf.length) break;
      if (buf[pos + 1] !== HEADER_LO) {
        pos++;
        garbage++;
        continue;
      }
      if (buf.length - pos < PACKET_OVERHEAD) break;
      const pid = buf[pos + 6]!;
      const length = (buf[pos + 7]! << 8) | buf[pos + 8]!;
      const minLength = pid === Pid.Data || pid === Pid.EndData ? MIN_LENGTH : MIN_LENGTH + 1;
      if (!isPid(pid) || length < minLength || length > this.maxLength) {
        pos++;
        garbage++;
        continue;
      }
      const total = PACKET_OVERHEAD + length;
      if (buf.length - pos < total) break;
      flushGarbage();
      const content = buf.slice(pos + 9, pos + 9 + length - 2);
      const received = (buf[pos + 7 + length]! << 8) | buf[pos + 8 + length]!;
      const expected = checksum(pid, length, content);
      const address = readU32(buf, pos + 2);
      if (received !== expected) {
        this.stats.badChecksum++;
        this.emit('badChecksum', { address, pid, length, received, expected });
        pos += 2;
        continue;
      }
      const packet: Packet = { address, pid, content };
      pos += total;
      if (this.address !== undefined && address !== this.address) {
        this.stats.wrongAddress++;
        this.emit('wrongAddress', packet);
        continue;
      }
      this.stats.packets++;
      out.push(packet);
      this.emit('packet', packet);
    }
    flushGarbage();
    this.buf = pos >= buf.length ? new Uint8Array(0) : buf.slice(pos);
    return out;
  }
}
