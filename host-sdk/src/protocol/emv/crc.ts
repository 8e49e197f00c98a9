import { utf8 } from '../encoding';

/**
 * CRC-16/CCITT-FALSE (ISO/IEC 13239 as used by EMV MPM §4.7.3): polynomial 0x1021,
 * initial 0xFFFF, MSB first, no reflection, no final XOR. Check value over ASCII
 * "123456789" = 0x29B1.
 */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

export function crc16CcittFalse(bytes: Uint8Array, initial = 0xffff): number {
  let crc = initial;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ b) & 0xff]!;
  return crc;
}

/**
 * The CRC of an MPM payload prefix as 4 upper-case hex digits, zero-padded. `text` must
 * be everything up to and including "6304"; the CRC runs over its UTF-8 bytes (not over
 * UTF-16 code units: the reference's A13A example differs from the C919 that bug gives).
 */
export function mpmCrc(text: string): string {
  return crc16CcittFalse(utf8(text)).toString(16).toUpperCase().padStart(4, '0');
}
