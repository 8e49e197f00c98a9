import { afterEach, describe, expect, it } from 'vitest';
import { describeUartContract, readExactly, within } from '../../src/transport/contract';
import { pattern } from '../../src/transport/contract/util';
import { openPtyPair, type PtyPair } from '../../src/transport/linux/socat';
import { SerialPortUart } from '../../src/transport/linux/uart';

describeUartContract(
  'SerialPortUart over a socat pty pair',
  async () => {
    const pty = await openPtyPair();
    return {
      a: new SerialPortUart({ path: pty.a, baudRate: 57600 }),
      b: new SerialPortUart({ path: pty.b, baudRate: 57600 }),
      disconnect: () => pty.kill(),
      cleanup: () => pty.close(),
    };
  },
  // socat forwards between the two ptys; give it time under load before discardInput
  { missing: () => new SerialPortUart({ path: '/tmp/handset-no-such-dir/ttyNOPE', baudRate: 57600 }), settleMs: 250 },
);

describe('SerialPortUart (real pty)', () => {
  let pty: PtyPair | undefined;
  const ends: SerialPortUart[] = [];
  afterEach(async () => {
    for (const u of ends.splice(0)) await u.close();
    await pty?.close();
    pty = undefined;
  });
  const pair = async () => {
    pty = await openPtyPair();
    const a = new SerialPortUart({ path: pty.a, baudRate: 57600 });
    const b = new SerialPortUart({ path: pty.b, baudRate: 57600 });
    ends.push(a, b);
    await a.open();
    await b.open();
    return { a, b, pty };
  };

  it('moves a 36,864-byte image byte-exact', async () => {
    const { a, b } = await pair();
    const image = pattern(36_864, 11);
    const got = readExactly(b, image.length, 4096, 10_000);
    await a.write(image);
    await a.drain();
    expect(Buffer.from(await got).equals(Buffer.from(image))).toBe(true);
  });

  it('killing socat mid-read rejects the pending read with DISCONNECTED, fast, and later reads too', async () => {
    const { a, b, pty } = await pair();
    await b.write(Uint8Array.of(1, 2, 3));
    expect(await readExactly(a, 3)).toEqual(Uint8Array.of(1, 2, 3));
    const pending = expect(within(a.read(), 3000, 'read after socat died')).rejects.toMatchObject({
      code: 'DISCONNECTED',
      device: pty.a,
    });
    const t0 = Date.now();
    await pty.kill('SIGKILL');
    await pending;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(a.isOpen).toBe(false);
    await expect(a.read()).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(a.write(Uint8Array.of(1))).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('opening a nonexistent path names the path', async () => {
    const u = new SerialPortUart({ path: '/dev/ttyHANDSET_NOPE', baudRate: 57600 });
    await expect(u.open()).rejects.toMatchObject({
      code: 'PORT_NOT_FOUND',
      message: expect.stringContaining('/dev/ttyHANDSET_NOPE'),
    });
  });

  it('a bad baud rate is a ValidationError, at open and at setBaudRate', async () => {
    await expect(new SerialPortUart({ path: '/dev/null', baudRate: 0 }).open()).rejects.toMatchObject({ code: 'INVALID' });
    const { a } = await pair();
    await expect(a.setBaudRate(Number.NaN)).rejects.toMatchObject({ code: 'INVALID' });
    expect(a.baudRate).toBe(57600);
  });

  it('opening a path that is not a tty fails with a typed error', async () => {
    const u = new SerialPortUart({ path: '/etc/hostname', baudRate: 57600 });
    await expect(u.open()).rejects.toMatchObject({ name: 'TransportError', message: expect.stringContaining('/etc/hostname') });
  });
});
