/**
 * Uart: a byte stream to one device (R307 fingerprint sensor, a serial console).
 *
 * Contract (every implementation - serialport, the in-memory sim peer - passes
 * `describeUartContract`):
 * - `open()` rejects with `TransportError` (code `PORT_NOT_FOUND`) when the path does not
 *   exist, and with `TransportError` when already open. Nothing else may be called
 *   before `open()` resolves except `close()`.
 * - `write()` is one at a time: a second call waits for the first to finish, so bytes of
 *   two writes never interleave. It resolves once the bytes are handed to the OS (or
 *   the peer); `drain()` resolves once they have left the host.
 * - `read()` resolves with AT LEAST ONE byte and at most `maxBytes`; reads may be
 *   fragmented arbitrarily (a 12-byte frame can arrive as 5 + 7). Only one `read()` may
 *   be pending. Bytes that arrive while no read is pending are buffered, not lost.
 * - `close()` rejects a pending read or write with `CanceledError`; after close every
 *   call rejects with `TransportError` (code `NOT_OPEN`). close() is idempotent.
 * - A port that vanishes (USB adapter pulled, pty peer gone) rejects the pending read
 *   with `TransportError` (code `DISCONNECTED`) and emits nothing further.
 */
export interface UartOptions {
  path: string;
  baudRate: number;
  dataBits?: 5 | 6 | 7 | 8;
  stopBits?: 1 | 2;
  parity?: 'none' | 'even' | 'odd';
}

export interface Uart {
  readonly path: string;
  readonly baudRate: number;
  readonly isOpen: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  write(data: Uint8Array): Promise<void>;
  drain(): Promise<void>;
  read(maxBytes?: number): Promise<Uint8Array>;
  /** Changes the line speed of an open port (R307 SetSysPara baud change). */
  setBaudRate(baudRate: number): Promise<void>;
  /** Discards received bytes that nobody has read yet. */
  discardInput(): Promise<void>;
}

/** Time in ms that `bytes` take on the wire at `baudRate` with 8N1 framing (10 bits/byte). */
export function uartWireTimeMs(bytes: number, baudRate: number, bitsPerByte = 10): number {
  return (bytes * bitsPerByte * 1000) / baudRate;
}
