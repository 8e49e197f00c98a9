import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors';
import {
  BadPasswordError,
  Confirmation,
  checksum,
  DataAssembler,
  decodePacket,
  decodeSystemParameters,
  describeConfirmation,
  EnrolMismatchError,
  encodeAck,
  encodeCommand,
  encodeDataPackets,
  encodePacket,
  encodeSystemParameters,
  FlashError,
  ImageQualityError,
  INSTRUCTIONS,
  Instruction,
  imagePixel,
  NoFingerError,
  NotFoundError,
  PacketReceiveError,
  PasswordRequiredError,
  packImage,
  params,
  R307Error,
  r307Error,
  splitData,
  unpackImage,
} from '../../src/r307';
import { h, hexOf, testPacket } from './helpers';

describe('R307 packets (reference §2 worked examples)', () => {
  it.each([
    ['GenImg', Instruction.GenImg, [], 'EF01 FFFFFFFF 01 0003 01 0005'],
    ['TempleteNum', Instruction.TemplateNum, [], 'EF01 FFFFFFFF 01 0003 1D 0021'],
    ['Empty', Instruction.Empty, [], 'EF01 FFFFFFFF 01 0003 0D 0011'],
    ['VfyPwd(0)', Instruction.VfyPwd, params.password(0), 'EF01 FFFFFFFF 01 0007 13 00000000 001B'],
  ])('%s command', (_name, code, p, hex) => {
    expect(encodeCommand(0xffffffff, code, p)).toEqual(h(hex));
    expect(testPacket(1, h(hex).subarray(9, h(hex).length - 2))).toBe(hexOf(h(hex)));
  });

  it('bare OK acknowledge', () => {
    expect(encodeAck(0xffffffff, 0)).toEqual(h('EF01 FFFFFFFF 07 0003 00 000A'));
    expect(decodePacket(h('EF01 FFFFFFFF 07 0003 00 000A'))).toEqual({ address: 0xffffffff, pid: 7, content: h('00') });
  });

  it('checksum covers PID, length and content, not header or address', () => {
    expect(checksum(1, 3, h('01'))).toBe(5);
    expect(encodePacket({ address: 0x12345678, pid: 1, content: h('01') })).toEqual(h('EF01 12345678 01 0003 01 0005'));
    expect(checksum(0x02, 0x0102, new Uint8Array(256).fill(0xff))).toBe((2 + 1 + 2 + 256 * 255) & 0xffff);
  });

  it('decodePacket rejects a bad header, bad checksum, wrong length with ValidationError', () => {
    expect(() => decodePacket(h('EF02 FFFFFFFF 07 0003 00 000A'))).toThrow(ValidationError);
    expect(() => decodePacket(h('EF01 FFFFFFFF 07 0003 00 000B'))).toThrow(/checksum/);
    expect(() => decodePacket(h('EF01 FFFFFFFF 07 0004 00 000A'))).toThrow(/length/);
    expect(() => decodePacket(h('EF01 FFFFFFFF 05 0003 00 0008'))).toThrow(/PID/);
  });

  it('instruction table: ack sizes match the reference (reply bytes = 9 + Ack L)', () => {
    const ackL = (code: number) => (INSTRUCTIONS.get(code)?.ackContent ?? 0) + 2;
    expect(ackL(Instruction.GenImg)).toBe(3);
    expect(ackL(Instruction.Match)).toBe(5);
    expect(ackL(Instruction.Search)).toBe(7);
    expect(ackL(Instruction.HighSpeedSearch)).toBe(7);
    expect(ackL(Instruction.ReadSysPara)).toBe(0x13);
    expect(ackL(Instruction.GetRandomCode)).toBe(7);
    expect(ackL(Instruction.ReadNotepad)).toBe(0x23);
    expect(ackL(Instruction.TemplateNum)).toBe(5);
    expect(ackL(Instruction.ReadIndexTable)).toBe(0x23);
    // CircuitPython's fixed read sizes: 12, 14, 16, 28, 44
    expect(9 + ackL(Instruction.GenImg)).toBe(12);
    expect(9 + ackL(Instruction.Match)).toBe(14);
    expect(9 + ackL(Instruction.Search)).toBe(16);
    expect(9 + ackL(Instruction.ReadSysPara)).toBe(28);
    expect(9 + ackL(Instruction.ReadIndexTable)).toBe(44);
    expect(INSTRUCTIONS.size).toBe(Object.keys(Instruction).length);
  });

  it('every confirmation code has a name and message', () => {
    for (const code of Object.values(Confirmation)) expect(describeConfirmation(code).message).not.toMatch(/unknown/);
    expect(describeConfirmation(0x77).message).toMatch(/unknown confirmation code 0x77/);
  });

  it('one factory maps confirmation codes to typed errors', () => {
    expect(r307Error(0x01, 1)).toBeInstanceOf(PacketReceiveError);
    expect(r307Error(0x02, 1)).toBeInstanceOf(NoFingerError);
    for (const c of [4, 5, 6, 7]) expect(r307Error(c, 2)).toBeInstanceOf(ImageQualityError);
    expect(r307Error(0x09, 4)).toBeInstanceOf(NotFoundError);
    expect(r307Error(0x0a, 5)).toBeInstanceOf(EnrolMismatchError);
    expect(r307Error(0x13, 0x13)).toBeInstanceOf(BadPasswordError);
    expect(r307Error(0x18, 6)).toBeInstanceOf(FlashError);
    expect(r307Error(0x21, 1)).toBeInstanceOf(PasswordRequiredError);
    const e = r307Error(0x0a, Instruction.RegModel);
    expect(e).toBeInstanceOf(R307Error);
    expect(e.code).toBe('R307_MERGE_FAILED');
    expect(e.message).toBe('RegModel (0x05): feature merge failed (different fingers) (confirmation 0x0A)');
    expect(e.toJSON()).toMatchObject({ device: 'r307', details: { confirmationCode: 10, instruction: 5 } });
  });
});

describe('R307 system parameters (reference §6)', () => {
  it('decodes and re-encodes the 16-byte block', () => {
    const block = h('0004 0000 03E8 0003 FFFFFFFF 0002 0006');
    const p = decodeSystemParameters(block);
    expect(p).toEqual({
      status: 4,
      systemId: 0,
      capacity: 1000,
      securityLevel: 3,
      address: 0xffffffff,
      packetSize: 128,
      baudRate: 57600,
    });
    expect(encodeSystemParameters(p)).toEqual(block);
    expect(decodeSystemParameters(h('0000 0000 00A2 0005 12345678 0003 000C'))).toMatchObject({
      capacity: 162,
      packetSize: 256,
      baudRate: 115200,
      address: 0x12345678,
    });
    expect(() => decodeSystemParameters(h('0000 0000 00A2 0005 12345678 0004 000C'))).toThrow(ValidationError);
  });
});

describe('R307 data streaming (reference §3)', () => {
  it('a 512-byte template at 128 B = three 0x02 packets and one 0x08', () => {
    const parts = splitData(new Uint8Array(512), 128);
    expect(parts.map((p) => [p.pid, p.content.length])).toEqual([
      [2, 128],
      [2, 128],
      [2, 128],
      [8, 128],
    ]);
    expect(splitData(new Uint8Array(512), 256).map((p) => p.pid)).toEqual([2, 8]);
    expect(splitData(new Uint8Array(100), 32).map((p) => p.content.length)).toEqual([32, 32, 32, 4]);
    expect(splitData(new Uint8Array(0), 64)).toHaveLength(1);
    expect(() => splitData(new Uint8Array(10), 100)).toThrow(ValidationError);
  });

  it.each([32, 64, 128, 256])('encode + reassemble a 36,864-byte image at %i B per packet', (size) => {
    const img = Uint8Array.from({ length: 36864 }, (_, i) => (i * 37) & 0xff);
    const packets = encodeDataPackets(0xffffffff, img, size);
    expect(packets).toHaveLength(36864 / size);
    expect(packets[0]!.length).toBe(size + 11);
    const asm = new DataAssembler();
    let done = false;
    for (const p of packets) done = asm.push(decodePacket(p));
    expect(done).toBe(true);
    expect(asm.result()).toEqual(img);
    expect(() => asm.push({ pid: 2, content: new Uint8Array(1) })).toThrow(ValidationError);
  });
});

describe('R307 image format (reference §3: 256 x 288, 4 bpp, high nibble = left pixel)', () => {
  it('unpacks nibbles x 17 and packs back', () => {
    const packed = new Uint8Array(36864);
    packed[0] = 0xf0;
    packed[128] = 0x0a;
    const gray = unpackImage(packed);
    expect(gray.length).toBe(256 * 288);
    expect(gray[0]).toBe(255);
    expect(gray[1]).toBe(0);
    expect(gray[257]).toBe(170); // byte 128 = row 1, pixels 0-1; low nibble = right pixel
    expect(imagePixel(packed, 1, 1)).toBe(10);
    expect(packImage(gray)).toEqual(packed);
    expect(() => unpackImage(new Uint8Array(10))).toThrow(ValidationError);
  });
});
