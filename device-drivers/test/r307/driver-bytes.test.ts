/**
 * Byte-exact tests: every driver instruction against literal packets from the
 * reference tables (shared/reference/r307.md §2, §4). The device end is a script that
 * knows nothing of our protocol code.
 */
import { describe, expect, it } from 'vitest';
import {
  BadPasswordError,
  EnrolMismatchError,
  ImageQualityError,
  NoFingerError,
  NotFoundError,
  NotMatchedError,
  PageOutOfRangeError,
  PasswordRequiredError,
  R307,
  R307Error,
} from '../../src/r307';
import { createSimUartPair } from '../../src/transport/sim/uart';
import { h, hexOf, type ScriptStep, scriptedDevice, testDataPackets, testPacket } from './helpers';

const ACK_OK = 'EF01 FFFFFFFF 07 0003 00 000A';
const SYS = 'EF01 FFFFFFFF 07 0013 000004000003E80003FFFFFFFF00020006 0510';

async function exchange<T>(steps: ScriptStep[], fn: (d: R307) => Promise<T>): Promise<T> {
  const { host, device } = createSimUartPair();
  const script = scriptedDevice(device, steps);
  const d = new R307({ uart: host });
  await d.open({ handshake: false });
  try {
    const result = await fn(d);
    await script.done;
    expect(script.received).toEqual(steps.map((s) => hexOf(h(s.expect))));
    return result;
  } finally {
    await d.close();
  }
}

describe('R307 driver: every instruction, byte-exact', () => {
  it('VfyPwd(0) and SetPwd', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0007 13 00000000 001B', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0007 12 12345678 012E', reply: [ACK_OK] },
      ],
      async (d) => {
        await d.verifyPassword(0);
        await d.setPassword(0x12345678);
      },
    );
  });

  it('VfyPwd wrong password -> BadPasswordError with the confirmation code', async () => {
    const err = await exchange(
      [{ expect: 'EF01 FFFFFFFF 01 0007 13 00000000 001B', reply: ['EF01 FFFFFFFF 07 0003 13 001D'] }],
      (d) => d.verifyPassword(0).catch((e) => e),
    );
    expect(err).toBeInstanceOf(BadPasswordError);
    expect(err.confirmationCode).toBe(0x13);
    expect(err.code).toBe('R307_WRONG_PASSWORD');
    expect(err.message).toContain('VfyPwd (0x13)');
  });

  it('open() handshake: VfyPwd then ReadSysPara, decoded', async () => {
    const { host, device } = createSimUartPair();
    const script = scriptedDevice(device, [
      { expect: 'EF01 FFFFFFFF 01 0007 13 00000000 001B', reply: [ACK_OK] },
      { expect: 'EF01 FFFFFFFF 01 0003 0F 0013', reply: [SYS] },
    ]);
    const d = new R307({ uart: host });
    const p = await d.open();
    await script.done;
    expect(p).toEqual({
      status: 4,
      systemId: 0,
      capacity: 1000,
      securityLevel: 3,
      address: 0xffffffff,
      packetSize: 128,
      baudRate: 57600,
    });
    await d.close();
  });

  it('SetSysPara: security level 4, packet size 256 (code 3)', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0005 0E 05 04 001D', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0005 0E 06 03 001D', reply: [ACK_OK] },
      ],
      async (d) => {
        await d.setSecurityLevel(4);
        await d.setPacketSize(256);
      },
    );
  });

  it('SetSysPara baud N=12 (115200): ack at the old speed, probe at the new one', async () => {
    const result = await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0005 0E 04 0C 0024', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0003 0F 0013', reply: [SYS] },
      ],
      (d) => d.setBaudRate(115200),
    );
    expect(result).toEqual({ baudRate: 115200, applied: true });
  });

  it('SetAdder: the ack already carries the new address, later packets use it', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0007 15 11223344 00C7', reply: ['EF01 11223344 07 0003 00 000A'] },
        { expect: 'EF01 11223344 01 0003 01 0005', reply: ['EF01 11223344 07 0003 02 000C'] },
      ],
      async (d) => {
        await d.setAddress(0x11223344);
        expect(d.address).toBe(0x11223344);
        await expect(d.captureImage()).rejects.toBeInstanceOf(NoFingerError);
      },
    );
  });

  it('GenImg OK / no finger (0x02)', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0003 01 0005', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0003 01 0005', reply: ['EF01 FFFFFFFF 07 0003 02 000C'] },
      ],
      async (d) => {
        await d.captureImage();
        const e = await d.captureImage().catch((x) => x);
        expect(e).toBeInstanceOf(NoFingerError);
        expect(e.confirmationCode).toBe(2);
      },
    );
  });

  it('Img2Tz buffers 1 and 2; 0x06 and 0x07 are ImageQualityError', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0004 02 01 0008', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0004 02 02 0009', reply: ['EF01 FFFFFFFF 07 0003 06 0010'] },
        { expect: 'EF01 FFFFFFFF 01 0004 02 02 0009', reply: ['EF01 FFFFFFFF 07 0003 07 0011'] },
      ],
      async (d) => {
        await d.imageToTemplate(1);
        await expect(d.imageToTemplate(2)).rejects.toBeInstanceOf(ImageQualityError);
        await expect(d.imageToTemplate(2)).rejects.toMatchObject({ confirmationCode: 7 });
      },
    );
  });

  it('Match: score on 0x00, NotMatchedError on 0x08', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0003 03 0007', reply: ['EF01 FFFFFFFF 07 0005 00 00C8 00D4'] },
        { expect: 'EF01 FFFFFFFF 01 0003 03 0007', reply: ['EF01 FFFFFFFF 07 0005 08 0003 0017'] },
      ],
      async (d) => {
        expect(await d.match()).toBe(200);
        await expect(d.match()).rejects.toBeInstanceOf(NotMatchedError);
      },
    );
  });

  it('Search / HighSpeedSearch over the whole library; not found (full and short acks)', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0008 04 01 0000 03E8 00F9', reply: ['EF01 FFFFFFFF 07 0007 00 0005 0064 0077'] },
        { expect: 'EF01 FFFFFFFF 01 0008 1B 01 0000 03E8 0110', reply: ['EF01 FFFFFFFF 07 0007 09 0000 0000 0017'] },
        { expect: 'EF01 FFFFFFFF 01 0008 04 01 0007 0001 0016', reply: ['EF01 FFFFFFFF 07 0003 09 0013'] },
      ],
      async (d) => {
        expect(await d.search(1, 0, 1000)).toEqual({ slot: 5, score: 100 });
        await expect(d.highSpeedSearch(1, 0, 1000)).rejects.toBeInstanceOf(NotFoundError);
        await expect(d.search(1, 7, 1)).rejects.toBeInstanceOf(NotFoundError);
      },
    );
  });

  it('RegModel; 0x0A is EnrolMismatchError', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0003 05 0009', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0003 05 0009', reply: ['EF01 FFFFFFFF 07 0003 0A 0014'] },
      ],
      async (d) => {
        await d.createModel();
        await expect(d.createModel()).rejects.toBeInstanceOf(EnrolMismatchError);
      },
    );
  });

  it('Store(buffer 1, page 7), LoadChar(buffer 2, page 7); 0x0B is PageOutOfRangeError', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0006 06 01 0007 0015', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0006 07 02 0007 0017', reply: ['EF01 FFFFFFFF 07 0003 0B 0015'] },
      ],
      async (d) => {
        await d.storeModel(7, 1);
        await expect(d.loadModel(7, 2)).rejects.toBeInstanceOf(PageOutOfRangeError);
      },
    );
  });

  it('UpChar: ack, then 3 x 0x02 + 1 x 0x08 packets of 128 bytes', async () => {
    const tpl = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff);
    const progress: number[] = [];
    const got = await exchange(
      [{ expect: 'EF01 FFFFFFFF 01 0004 08 01 000E', reply: [ACK_OK, ...testDataPackets(tpl, 128)] }],
      (d) => d.uploadTemplate(1, { onProgress: (p) => progress.push(p.bytes) }),
    );
    expect(got).toEqual(tpl);
    expect(progress).toEqual([128, 256, 384, 512]);
  });

  it('DownChar: command, wait for the ack, then data packets, no ack awaited after them', async () => {
    const tpl = Uint8Array.from({ length: 512 }, (_, i) => (i * 13) & 0xff);
    await exchange(
      [{ expect: 'EF01 FFFFFFFF 01 0004 09 01 000F', reply: [ACK_OK] }, { expect: testDataPackets(tpl, 128).join('') }],
      (d) => d.downloadTemplate(tpl, 1),
    );
  });

  it('UpImage: 288 packets of 128 bytes; DownImage sends them back', async () => {
    const img = Uint8Array.from({ length: 36864 }, (_, i) => (i * 31) & 0xff);
    const got = await exchange(
      [{ expect: 'EF01 FFFFFFFF 01 0003 0A 000E', reply: [ACK_OK, testDataPackets(img, 128).join('')] }],
      (d) => d.uploadImage(),
    );
    expect(got).toEqual(img);
    await exchange(
      [{ expect: 'EF01 FFFFFFFF 01 0003 0B 000F', reply: [ACK_OK] }, { expect: testDataPackets(img, 128).join('') }],
      (d) => d.downloadImage(img),
    );
  });

  it('DeleteChar(5, 3), Empty, TemplateNum', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0007 0C 0005 0003 001C', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0003 0D 0011', reply: [ACK_OK] },
        { expect: 'EF01 FFFFFFFF 01 0003 1D 0021', reply: ['EF01 FFFFFFFF 07 0005 00 0003 000F'] },
      ],
      async (d) => {
        await d.deleteModels(5, 3);
        await d.emptyLibrary();
        expect(await d.templateCount()).toBe(3);
      },
    );
  });

  it('ReadIndexTable: bit b of byte k of page p is slot 256p + 8k + b', async () => {
    const slots = await exchange(
      [
        {
          expect: 'EF01 FFFFFFFF 01 0004 1F 00 0024',
          reply: ['EF01 FFFFFFFF 07 0023 00 8100000000000000000000000000000000000000000000000000000000000001 00AC'],
        },
        { expect: 'EF01 FFFFFFFF 01 0004 1F 01 0025', reply: [testPacket(7, h(`00${'00'.repeat(31)}04`))] },
        { expect: 'EF01 FFFFFFFF 01 0004 1F 02 0026', reply: [testPacket(7, h(`00${'00'.repeat(32)}`))] },
        { expect: 'EF01 FFFFFFFF 01 0004 1F 03 0027', reply: [testPacket(7, h(`00${'00'.repeat(32)}`))] },
      ],
      (d) => d.listTemplates(),
    );
    expect(slots).toEqual([0, 7, 248, 256 + 248 + 2]);
  });

  it('WriteNotepad(3) pads to 32 bytes; ReadNotepad(3)', async () => {
    const page = await exchange(
      [
        {
          expect: 'EF01 FFFFFFFF 01 0024 18 03 48616E64736574 00000000000000000000000000000000000000000000000000 0307',
          reply: [ACK_OK],
        },
        {
          expect: 'EF01 FFFFFFFF 01 0004 19 03 0021',
          reply: ['EF01 FFFFFFFF 07 0023 00 48616E6473657400000000000000000000000000000000000000000000000000 02F1'],
        },
      ],
      async (d) => {
        await d.writeNotepad(3, new TextEncoder().encode('Handset'));
        return d.readNotepad(3);
      },
    );
    expect(Buffer.from(page).toString('latin1').replace(/\0+$/, '')).toBe('Handset');
  });

  it('GetRandomCode returns the u32', async () => {
    const n = await exchange(
      [{ expect: 'EF01 FFFFFFFF 01 0003 14 0018', reply: ['EF01 FFFFFFFF 07 0007 00 DEADBEEF 0346'] }],
      (d) => d.randomCode(),
    );
    expect(n).toBe(0xdeadbeef);
  });

  it('rawCommand (Control 0x17) returns non-zero codes instead of throwing', async () => {
    const r = await exchange([{ expect: 'EF01 FFFFFFFF 01 0004 17 01 001D', reply: ['EF01 FFFFFFFF 07 0003 21 002B'] }], (d) =>
      d.rawCommand(0x17, [1]),
    );
    expect(r.code).toBe(0x21);
  });

  it('0x21 is PasswordRequiredError; unknown codes stay R307Error', async () => {
    await exchange(
      [
        { expect: 'EF01 FFFFFFFF 01 0003 1D 0021', reply: ['EF01 FFFFFFFF 07 0003 21 002B'] },
        { expect: 'EF01 FFFFFFFF 01 0003 0D 0011', reply: [testPacket(7, h('77'))] },
      ],
      async (d) => {
        await expect(d.templateCount()).rejects.toBeInstanceOf(PasswordRequiredError);
        const e = await d.emptyLibrary().catch((x) => x);
        expect(e).toBeInstanceOf(R307Error);
        expect(e.confirmationCode).toBe(0x77);
      },
    );
  });

  it('the reply may arrive one byte at a time, with garbage and a 0x55 before it', async () => {
    const ack = h('EF01 FFFFFFFF 07 0005 00 0003 000F');
    await exchange(
      [
        {
          expect: 'EF01 FFFFFFFF 01 0003 1D 0021',
          reply: ['55', '00FF', ...Array.from(ack, (b) => b.toString(16).padStart(2, '0'))],
        },
      ],
      async (d) => expect(await d.templateCount()).toBe(3),
    );
  });
});
