/**
 * R307 (R30x / ZFM-20 / AS608 family) UART protocol: the one file that both the host
 * driver (`driver.ts`) and the simulated sensor (`sim.ts`) import, so they cannot
 * disagree. Pure functions and tables only - no I/O.
 *
 * Packet: `EF 01 | address u32 | PID | length u16 | content | checksum u16`, big-endian.
 * `length` counts content + checksum; the checksum is the 16-bit truncated sum of the
 * PID, both length bytes and every content byte (header and address excluded).
 * Facts: shared/reference/r307.md §2-§7.
 */
import { ValidationError } from '../core/errors';

export const HEADER_HI = 0xef;
export const HEADER_LO = 0x01;
/** Header (2) + address (4) + PID (1) + length (2). */
export const PACKET_OVERHEAD = 9;
/** Smallest legal length field (an empty data packet: checksum only). */
export const MIN_LENGTH = 2;
/** Largest length field we accept: 256 bytes of payload + checksum (R503/ZFM maximum). */
export const MAX_LENGTH = 258;

export const DEFAULT_ADDRESS = 0xffffffff;
export const DEFAULT_PASSWORD = 0x00000000;
export const DEFAULT_BAUD_MULTIPLIER = 6;
export const DEFAULT_PACKET_SIZE = 128;
export const DEFAULT_SECURITY_LEVEL = 3;
/** R307 library capacity (slots 0..999). */
export const R307_CAPACITY = 1000;

export const IMAGE_WIDTH = 256;
export const IMAGE_HEIGHT = 288;
/** UART image: 4 bits/pixel, two horizontally adjacent pixels per byte, high nibble = left. */
export const IMAGE_BYTES = (IMAGE_WIDTH * IMAGE_HEIGHT) / 2;
/** A feature (character) file made by Img2Tz. */
export const CHAR_FILE_BYTES = 256;
/** A template made by RegModel / stored in the library; what UpChar/DownChar move. */
export const TEMPLATE_BYTES = 512;
export const NOTEPAD_PAGES = 16;
export const NOTEPAD_PAGE_BYTES = 32;
/** ReadIndexTable pages (256 slots each, one bit per slot). */
export const INDEX_TABLE_PAGES = 4;
export const INDEX_TABLE_PAGE_BYTES = 32;

/** Package identifier (byte 6). */
export const Pid = {
  Command: 0x01,
  /** Data packet, more follow. */
  Data: 0x02,
  Ack: 0x07,
  /** Last data packet. */
  EndData: 0x08,
} as const;
export type PidCode = (typeof Pid)[keyof typeof Pid];

export function isPid(b: number): b is PidCode {
  return b === Pid.Command || b === Pid.Data || b === Pid.Ack || b === Pid.EndData;
}

/** Every instruction code named by the reference (§4). The R307 implements 0x01-0x1F. */
export const Instruction = {
  GenImg: 0x01,
  Img2Tz: 0x02,
  Match: 0x03,
  Search: 0x04,
  RegModel: 0x05,
  Store: 0x06,
  LoadChar: 0x07,
  UpChar: 0x08,
  DownChar: 0x09,
  UpImage: 0x0a,
  DownImage: 0x0b,
  DeleteChar: 0x0c,
  Empty: 0x0d,
  SetSysPara: 0x0e,
  ReadSysPara: 0x0f,
  SetPwd: 0x12,
  VfyPwd: 0x13,
  GetRandomCode: 0x14,
  SetAdder: 0x15,
  ReadInfPage: 0x16,
  Control: 0x17,
  WriteNotepad: 0x18,
  ReadNotepad: 0x19,
  HighSpeedSearch: 0x1b,
  TemplateNum: 0x1d,
  ReadIndexTable: 0x1f,
  GetImageEx: 0x28,
  Cancel: 0x30,
  AutoEnroll: 0x31,
  AutoIdentify: 0x32,
  AuraLedConfig: 0x35,
  CheckSensor: 0x36,
  GetAlgVer: 0x39,
  GetFwVer: 0x3a,
  ReadProdInfo: 0x3c,
  SoftRst: 0x3d,
  HandShake: 0x40,
  LedOn: 0x50,
  LedOff: 0x51,
  GetEcho: 0x53,
} as const;
export type InstructionName = keyof typeof Instruction;
export type InstructionCode = (typeof Instruction)[InstructionName];

export interface InstructionInfo {
  name: InstructionName;
  code: number;
  /** Content length of a full acknowledge (confirmation code + return values); undefined = variable. */
  ackContent: number | undefined;
  /** Module -> host data packets follow a 0x00 ack. */
  uploads?: boolean;
  /** Host -> module data packets follow a 0x00 ack. */
  downloads?: boolean;
  /** Implemented by the R307 (the others belong to the R503 or LED variants). */
  r307: boolean;
  description: string;
}

const info = (
  name: InstructionName,
  ackContent: number | undefined,
  description: string,
  extra: Partial<InstructionInfo> = {},
): InstructionInfo => ({ name, code: Instruction[name], ackContent, r307: Instruction[name] <= 0x1f, description, ...extra });

/** Instruction table (reference §4): reply sizes, data direction, meaning. */
export const INSTRUCTIONS: ReadonlyMap<number, InstructionInfo> = new Map(
  [
    info('GenImg', 1, 'capture a finger image into the image buffer'),
    info('Img2Tz', 1, 'extract a feature file from the image into CharBuffer 1 or 2'),
    info('Match', 3, 'compare CharBuffer1 with CharBuffer2; returns a score'),
    info('Search', 5, 'search the library for the feature file in a CharBuffer'),
    info('RegModel', 1, 'merge CharBuffer1 and 2 into a template (in both buffers)'),
    info('Store', 1, 'store a CharBuffer at a library page'),
    info('LoadChar', 1, 'load a library page into a CharBuffer'),
    info('UpChar', 1, 'upload a CharBuffer to the host', { uploads: true }),
    info('DownChar', 1, 'download a template from the host into a CharBuffer', { downloads: true }),
    info('UpImage', 1, 'upload the image buffer to the host', { uploads: true }),
    info('DownImage', 1, 'download an image from the host into the image buffer', { downloads: true }),
    info('DeleteChar', 1, 'delete N library pages from a start page'),
    info('Empty', 1, 'delete every library page'),
    info('SetSysPara', 1, 'set a system parameter (4 baud, 5 security level, 6 packet size)'),
    info('ReadSysPara', 17, 'read the 16-byte system parameter block'),
    info('SetPwd', 1, 'set the handshake password'),
    info('VfyPwd', 1, 'verify the handshake password'),
    info('GetRandomCode', 5, 'read a 32-bit hardware random number'),
    info('SetAdder', 1, 'set the module address (the ack carries the new address)'),
    info('ReadInfPage', 1, 'upload the 512-byte information page', { uploads: true }),
    info('Control', 1, 'enable/disable the communication port'),
    info('WriteNotepad', 1, 'write a 32-byte notepad page (0-15)'),
    info('ReadNotepad', 33, 'read a 32-byte notepad page (0-15)'),
    info('HighSpeedSearch', 5, 'search, same parameters and reply as Search'),
    info('TemplateNum', 3, 'count stored templates'),
    info('ReadIndexTable', 33, 'read a 256-slot occupancy bitmap page (0-3)'),
    info('GetImageEx', 1, 'capture with quality check (R503)'),
    info('Cancel', 1, 'cancel an auto command (R503)'),
    info('AutoEnroll', undefined, 'automatic enrolment (R503)'),
    info('AutoIdentify', undefined, 'automatic identification (R503)'),
    info('AuraLedConfig', 1, 'ring LED control (R503)'),
    info('CheckSensor', 1, 'sensor self check (R503)'),
    info('GetAlgVer', undefined, 'algorithm version string (R503)'),
    info('GetFwVer', undefined, 'firmware version string (R503)'),
    info('ReadProdInfo', undefined, 'product information record (R503)'),
    info('SoftRst', 1, 'soft reset; ends with the byte 0x55 (R503)'),
    info('HandShake', 1, 'handshake; 0x00 = ready (R503)'),
    info('LedOn', 1, 'LED on (plain-LED modules)'),
    info('LedOff', 1, 'LED off (plain-LED modules)'),
    info('GetEcho', 1, 'echo check; confirmation 0x55 (CircuitPython check_module)'),
  ].map((i) => [i.code, i]),
);

/** `GenImg (0x01)`-style label used in logs and error messages. */
export function instructionLabel(code: number): string {
  const i = INSTRUCTIONS.get(code);
  return `${i ? i.name : 'instruction'} (0x${hex2(code)})`;
}

/** Confirmation codes (reference §5). */
export const Confirmation = {
  Ok: 0x00,
  PacketReceive: 0x01,
  NoFinger: 0x02,
  CaptureFailed: 0x03,
  ImageDisorderly: 0x04,
  ImageWet: 0x05,
  ImageMessy: 0x06,
  TooFewFeatures: 0x07,
  NoMatch: 0x08,
  NotFound: 0x09,
  MergeFailed: 0x0a,
  PageOutOfRange: 0x0b,
  TemplateReadError: 0x0c,
  UpCharFailed: 0x0d,
  CannotReceive: 0x0e,
  UpImageFailed: 0x0f,
  DeleteFailed: 0x10,
  EmptyFailed: 0x11,
  WrongPassword: 0x13,
  NoValidImage: 0x15,
  FlashError: 0x18,
  Undefined: 0x19,
  InvalidRegister: 0x1a,
  WrongRegisterConfig: 0x1b,
  WrongNotepadPage: 0x1c,
  PortOperationFailed: 0x1d,
  LibraryFull: 0x1f,
  AddressError: 0x20,
  PasswordRequired: 0x21,
  TemplateEmpty: 0x22,
  LibraryEmpty: 0x24,
  Timeout: 0x26,
  AlreadyEnrolled: 0x27,
  SensorError: 0x29,
  AutoEnroll1: 0x41,
  AutoEnroll2: 0x42,
  AutoEnroll3: 0x43,
  AutoEnroll4: 0x44,
  AutoEnroll5: 0x45,
  Echo: 0x55,
  Unsupported: 0xfc,
  HardwareError: 0xfd,
  ExecutionFailed: 0xfe,
} as const;
export type ConfirmationName = keyof typeof Confirmation;

const CONFIRMATION_MESSAGES: Record<ConfirmationName, string> = {
  Ok: 'OK',
  PacketReceive: 'error receiving the packet (bad checksum or format)',
  NoFinger: 'no finger on the sensor',
  CaptureFailed: 'image capture failed',
  ImageDisorderly: 'feature extraction failed: image too disorderly',
  ImageWet: 'feature extraction failed: image too wet',
  ImageMessy: 'image too messy to extract features',
  TooFewFeatures: 'too few feature points',
  NoMatch: 'fingers do not match',
  NotFound: 'no match in the library',
  MergeFailed: 'feature merge failed (different fingers)',
  PageOutOfRange: 'page ID beyond the library',
  TemplateReadError: 'template read error or invalid template',
  UpCharFailed: 'template upload failed',
  CannotReceive: 'module cannot accept the following data packets',
  UpImageFailed: 'image upload failed / cannot send data packets',
  DeleteFailed: 'delete failed',
  EmptyFailed: 'clearing the library failed',
  WrongPassword: 'wrong password',
  NoValidImage: 'no valid original image in the buffer',
  FlashError: 'flash read/write error',
  Undefined: 'undefined error',
  InvalidRegister: 'invalid register number',
  WrongRegisterConfig: 'wrong register configuration',
  WrongNotepadPage: 'wrong notepad page number',
  PortOperationFailed: 'communication port operation failed',
  LibraryFull: 'library full',
  AddressError: 'address code error',
  PasswordRequired: 'password must be verified first',
  TemplateEmpty: 'template empty',
  LibraryEmpty: 'library empty',
  Timeout: 'timeout',
  AlreadyEnrolled: 'fingerprint already enrolled',
  SensorError: 'sensor hardware error',
  AutoEnroll1: 'auto-enrol second scan error (0x41)',
  AutoEnroll2: 'auto-enrol second scan error (0x42)',
  AutoEnroll3: 'auto-enrol second scan error (0x43)',
  AutoEnroll4: 'auto-enrol second scan error (0x44)',
  AutoEnroll5: 'auto-enrol second scan error (0x45)',
  Echo: 'echo (module present)',
  Unsupported: 'unsupported command',
  HardwareError: 'hardware error',
  ExecutionFailed: 'command execution failed',
};

const CONFIRMATION_BY_CODE = new Map<number, ConfirmationName>(
  (Object.entries(Confirmation) as Array<[ConfirmationName, number]>).map(([k, v]) => [v, k]),
);

/** Name and human message of a confirmation code (unknown codes get a generic text). */
export function describeConfirmation(code: number): { name: string; message: string } {
  const name = CONFIRMATION_BY_CODE.get(code);
  if (!name) return { name: `Unknown0x${hex2(code)}`, message: `unknown confirmation code 0x${hex2(code)}` };
  return { name, message: CONFIRMATION_MESSAGES[name] };
}

// ---------------------------------------------------------------------------------
// Packets

export interface Packet {
  address: number;
  pid: number;
  /** Everything between the length field and the checksum. */
  content: Uint8Array;
}

/** 16-bit truncated sum of PID, both length bytes and the content. */
export function checksum(pid: number, length: number, content: Uint8Array): number {
  let sum = pid + (length >> 8) + (length & 0xff);
  for (const b of content) sum += b;
  return sum & 0xffff;
}

/** Encodes one packet. Throws ValidationError on an oversized content or a bad PID. */
export function encodePacket(packet: Packet): Uint8Array {
  const { address, pid, content } = packet;
  if (!isPid(pid)) throw new ValidationError(`R307 packet: PID 0x${hex2(pid)} is not 01/02/07/08`, { device: 'r307' });
  const length = content.length + 2;
  if (length > 0xffff)
    throw new ValidationError(`R307 packet: content of ${content.length} bytes is too long`, { device: 'r307' });
  const out = new Uint8Array(PACKET_OVERHEAD + length);
  out[0] = HEADER_HI;
  out[1] = HEADER_LO;
  writeU32(out, 2, address);
  out[6] = pid;
  out[7] = length >> 8;
  out[8] = length & 0xff;
  out.set(content, 9);
  const sum = checksum(pid, length, content);
  out[9 + content.length] = sum >> 8;
  out[10 + content.length] = sum & 0xff;
  return out;
}

/** Decodes exactly one whole packet (strict: header, length, checksum). */
export function decodePacket(bytes: Uint8Array): Packet {
  const bad = (why: string) => new ValidationError(`R307 packet: ${why}`, { device: 'r307', code: 'R307_BAD_PACKET' });
  if (bytes.length < PACKET_OVERHEAD + MIN_LENGTH) throw bad(`${bytes.length} bytes is shorter than a packet`);
  if (bytes[0] !== HEADER_HI || bytes[1] !== HEADER_LO) throw bad('header is not EF 01');
  const pid = bytes[6]!;
  if (!isPid(pid)) throw bad(`PID 0x${hex2(pid)} is not 01/02/07/08`);
  const length = (bytes[7]! << 8) | bytes[8]!;
  if (bytes.length !== PACKET_OVERHEAD + length) throw bad(`length field ${length} does not match ${bytes.length} bytes`);
  const content = bytes.slice(9, 9 + length - 2);
  const sum = (bytes[7 + length]! << 8) | bytes[8 + length]!;
  const expected = checksum(pid, length, content);
  if (sum !== expected) throw bad(`checksum 0x${hex4(sum)} != 0x${hex4(expected)}`);
  return { address: readU32(bytes, 2), pid, content };
}

/** A command packet: instruction code followed by its parameters. */
export function encodeCommand(address: number, instruction: number, params: ArrayLike<number> = []): Uint8Array {
  const content = new Uint8Array(1 + params.length);
  content[0] = instruction;
  content.set(Array.from(params), 1);
  return encodePacket({ address, pid: Pid.Command, content });
}

/** An acknowledge packet: confirmation code followed by return values. */
export function encodeAck(address: number, confirmation: number, returns: ArrayLike<number> = []): Uint8Array {
  const content = new Uint8Array(1 + returns.length);
  content[0] = confirmation;
  content.set(Array.from(returns), 1);
  return encodePacket({ address, pid: Pid.Ack, content });
}

// ---------------------------------------------------------------------------------
// Command parameters (what follows the instruction byte). Shared by driver and sim.

export const params = {
  img2Tz: (buffer: number) => [buffer & 0xff],
  search: (buffer: number, startPage: number, pageCount: number) => [buffer & 0xff, ...u16(startPage), ...u16(pageCount)],
  store: (buffer: number, page: number) => [buffer & 0xff, ...u16(page)],
  loadChar: (buffer: number, page: number) => [buffer & 0xff, ...u16(page)],
  upChar: (buffer: number) => [buffer & 0xff],
  downChar: (buffer: number) => [buffer & 0xff],
  deleteChar: (page: number, count: number) => [...u16(page), ...u16(count)],
  setSysPara: (parameter: number, value: number) => [parameter & 0xff, value & 0xff],
  password: (password: number) => u32(password),
  setAdder: (address: number) => u32(address),
  control: (enable: boolean) => [enable ? 1 : 0],
  writeNotepad: (page: number, data: Uint8Array) => {
    if (data.length > NOTEPAD_PAGE_BYTES)
      throw new ValidationError(`notepad data is ${data.length} bytes; a page holds ${NOTEPAD_PAGE_BYTES}`, { device: 'r307' });
    const padded = new Uint8Array(NOTEPAD_PAGE_BYTES);
    padded.set(data);
    return [page & 0xff, ...padded];
  },
  readNotepad: (page: number) => [page & 0xff],
  readIndexTable: (page: number) => [page & 0xff],
};

/** SetSysPara parameter numbers. */
export const SysParam = { BaudRate: 4, SecurityLevel: 5, PacketSize: 6 } as const;

// ---------------------------------------------------------------------------------
// System parameters (ReadSysPara, 16 bytes = eight big-endian words)

export const StatusFlag = { Busy: 1, Pass: 2, PasswordVerified: 4, ImageBufferValid: 8 } as const;

export interface SystemParameters {
  /** Status register: StatusFlag bits. */
  status: number;
  systemId: number;
  /** Library capacity (R307: 1000). */
  capacity: number;
  /** 1-5. */
  securityLevel: number;
  address: number;
  /** Payload bytes per data packet: 32, 64, 128 or 256. */
  packetSize: PacketSize;
  /** 9600 x N. */
  baudRate: number;
}

export type PacketSize = 32 | 64 | 128 | 256;
export const PACKET_SIZES: readonly PacketSize[] = [32, 64, 128, 256];

export function packetSizeFromCode(code: number): PacketSize {
  const s = PACKET_SIZES[code];
  if (s === undefined) throw new ValidationError(`packet size code ${code} is not 0-3`, { device: 'r307' });
  return s;
}

export function packetSizeCode(size: number): number {
  const i = PACKET_SIZES.indexOf(size as PacketSize);
  if (i < 0) throw new ValidationError(`packet size ${size} is not 32, 64, 128 or 256`, { device: 'r307' });
  return i;
}

/** Baud multiplier N (1-12) for a baud rate; throws unless the rate is 9600 x N. */
export function baudMultiplier(baudRate: number): number {
  const n = baudRate / 9600;
  if (!Number.isInteger(n) || n < 1 || n > 12)
    throw new ValidationError(`baud rate ${baudRate} is not 9600 x N with N = 1..12`, { device: 'r307' });
  return n;
}

export function encodeSystemParameters(p: SystemParameters): Uint8Array {
  const out = new Uint8Array(16);
  writeU16(out, 0, p.status);
  writeU16(out, 2, p.systemId);
  writeU16(out, 4, p.capacity);
  writeU16(out, 6, p.securityLevel);
  writeU32(out, 8, p.address);
  writeU16(out, 12, packetSizeCode(p.packetSize));
  writeU16(out, 14, baudMultiplier(p.baudRate));
  return out;
}

export function decodeSystemParameters(bytes: Uint8Array): SystemParameters {
  if (bytes.length < 16) throw new ValidationError(`system parameter block is ${bytes.length} bytes, not 16`, { device: 'r307' });
  return {
    status: readU16(bytes, 0),
    systemId: readU16(bytes, 2),
    capacity: readU16(bytes, 4),
    securityLevel: readU16(bytes, 6),
    address: readU32(bytes, 8),
    packetSize: packetSizeFromCode(readU16(bytes, 12)),
    baudRate: 9600 * readU16(bytes, 14),
  };
}

// ---------------------------------------------------------------------------------
// Bulk data (UpChar / DownChar / UpImage / DownImage)

/**
 * Splits a payload into data packets of `packetSize` bytes: PID 0x02 for all but the
 * last, PID 0x08 for the last (an empty payload is one empty 0x08 packet).
 */
export function splitData(payload: Uint8Array, packetSize: number): Array<{ pid: number; content: Uint8Array }> {
  if (!PACKET_SIZES.includes(packetSize as PacketSize))
    throw new ValidationError(`packet size ${packetSize} is not 32, 64, 128 or 256`, { device: 'r307' });
  const out: Array<{ pid: number; content: Uint8Array }> = [];
  for (let off = 0; off < payload.length || out.length === 0; off += packetSize) {
    const end = Math.min(payload.length, off + packetSize);
    out.push({ pid: end >= payload.length ? Pid.EndData : Pid.Data, content: payload.subarray(off, end) });
    if (end >= payload.length) break;
  }
  return out;
}

/** Encodes a payload as wire-ready data packets. */
export function encodeDataPackets(address: number, payload: Uint8Array, packetSize: number): Uint8Array[] {
  return splitData(payload, packetSize).map((p) => encodePacket({ address, ...p }));
}

/** Bytes on the wire for a payload sent as data packets. */
export function dataWireBytes(payloadBytes: number, packetSize: number): number {
  const packets = Math.max(1, Math.ceil(payloadBytes / packetSize));
  return payloadBytes + packets * (PACKET_OVERHEAD + 2);
}

/** Reassembles data packets (0x02 ... 0x08) into one payload. */
export class DataAssembler {
  private parts: Uint8Array[] = [];
  private size = 0;
  done = false;

  /** Adds a data packet; returns true once the final (0x08) packet has arrived. */
  push(packet: { pid: number; content: Uint8Array }): boolean {
    if (this.done) throw new ValidationError('data packet after the final (0x08) packet', { device: 'r307' });
    if (packet.pid !== Pid.Data && packet.pid !== Pid.EndData)
      throw new ValidationError(`expected a data packet, got PID 0x${hex2(packet.pid)}`, { device: 'r307' });
    this.parts.push(packet.content);
    this.size += packet.content.length;
    if (packet.pid === Pid.EndData) this.done = true;
    return this.done;
  }

  get received(): number {
    return this.size;
  }

  get packets(): number {
    return this.parts.length;
  }

  result(): Uint8Array {
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------
// Images: 256 x 288, 4 bits per pixel, high nibble = left pixel

/** Unpacks a 36,864-byte 4-bpp image into 73,728 8-bit gray pixels (nibble x 17). */
export function unpackImage(packed: Uint8Array): Uint8Array {
  if (packed.length !== IMAGE_BYTES)
    throw new ValidationError(`R307 image is ${packed.length} bytes, expected ${IMAGE_BYTES}`, { device: 'r307' });
  const out = new Uint8Array(IMAGE_WIDTH * IMAGE_HEIGHT);
  for (let i = 0; i < packed.length; i++) {
    const b = packed[i]!;
    out[2 * i] = (b >> 4) * 17;
    out[2 * i + 1] = (b & 0x0f) * 17;
  }
  return out;
}

/** Packs 73,728 8-bit gray pixels into the 4-bpp UART image (rounded to 16 levels). */
export function packImage(gray: Uint8Array): Uint8Array {
  if (gray.length !== IMAGE_WIDTH * IMAGE_HEIGHT)
    throw new ValidationError(`gray image is ${gray.length} pixels, expected ${IMAGE_WIDTH * IMAGE_HEIGHT}`, { device: 'r307' });
  const out = new Uint8Array(IMAGE_BYTES);
  for (let i = 0; i < out.length; i++) {
    out[i] = (Math.round(gray[2 * i]! / 17) << 4) | Math.round(gray[2 * i + 1]! / 17);
  }
  return out;
}

/** 4-bit pixel value (0-15) at (x, y) of a packed image. */
export function imagePixel(packed: Uint8Array, x: number, y: number): number {
  const b = packed[(y * IMAGE_WIDTH + x) >> 1]!;
  return x & 1 ? b & 0x0f : b >> 4;
}

// ---------------------------------------------------------------------------------
// Byte helpers

export function u16(v: number): [number, number] {
  return [(v >> 8) & 0xff, v & 0xff];
}

export function u32(v: number): [number, number, number, number] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

export function readU16(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}

export function readU32(b: Uint8Array, off: number): number {
  return (((b[off] ?? 0) << 24) | ((b[off + 1] ?? 0) << 16) | ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0)) >>> 0;
}

function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function hex2(b: number): string {
  return b.toString(16).padStart(2, '0').toUpperCase();
}

export function hex4(b: number): string {
  return b.toString(16).padStart(4, '0').toUpperCase();
}

/** `EF 01 FF FF ...` - for logs and test failure messages. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, hex2).join(' ');
}
