import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../src/core';
import { createNodeHidPinPad, encodeBootReport, lazyNodeHid, PinPad, usageForKey } from '../../src/pinpad';
import { type NodeHidAsyncDevice, NodeHidDevice, type NodeHidModule } from '../../src/transport/linux/hid';

/** A typed fake node-hid 3 module with one keypad (the seam NodeHidDevice declares). */
function fakeNodeHid() {
  const calls: string[] = [];
  let device: (EventEmitter & NodeHidAsyncDevice) | undefined;
  const mod: NodeHidModule & { setDriverType: (t: 'libusb' | 'hidraw') => void } = {
    setDriverType: (t) => calls.push(`setDriverType:${t}`),
    async devicesAsync(vid?: number, pid?: number) {
      calls.push(`devicesAsync:${vid}:${pid}`);
      return [{ vendorId: 0x1a2c, productId: 0x0e24, path: '1-1.2:1.0', product: 'USB Keypad' }];
    },
    HIDAsync: {
      async open(path: string) {
        calls.push(`open:${path}`);
        device = Object.assign(new EventEmitter(), {
          write: async (v: number[] | Buffer) => v.length,
          close: async () => undefined,
        });
        return device;
      },
    },
  };
  return { mod, calls, send: (r: Uint8Array) => device?.emit('data', Buffer.from(r)) };
}

describe('createNodeHidPinPad (the real pad path)', () => {
  it('construction builds a PinPad over NodeHidDevice and loads nothing native', () => {
    let loads = 0;
    const pinpad = createNodeHidPinPad({
      vendorId: 0x1a2c,
      productId: 0x0e24,
      loadHid: async () => {
        loads++;
        return fakeNodeHid().mod;
      },
    });
    expect(pinpad).toBeInstanceOf(PinPad);
    expect(pinpad.device).toBeInstanceOf(NodeHidDevice);
    expect(pinpad.device.info).toMatchObject({ vendorId: 0x1a2c, productId: 0x0e24 });
    expect(pinpad.isOpen).toBe(false);
    expect(loads).toBe(0);
  });

  it('open() loads node-hid once, selects the libusb backend before enumerating, then reads a PIN', async () => {
    const fake = fakeNodeHid();
    let loads = 0;
    const pinpad = createNodeHidPinPad({
      vendorId: 0x1a2c,
      productId: 0x0e24,
      loadHid: async () => {
        loads++;
        return fake.mod;
      },
    });
    await pinpad.open();
    expect(loads).toBe(1);
    expect(fake.calls).toEqual(['setDriverType:libusb', `devicesAsync:${0x1a2c}:${0x0e24}`, 'open:1-1.2:1.0']);
    const p = pinpad.readPin();
    for (const k of ['1', '9', '8', '4', 'enter'] as const) {
      fake.send(encodeBootReport({ keys: [usageForKey(k)] }));
      fake.send(encodeBootReport({ keys: [] }));
    }
    const pin = await p;
    expect(new TextDecoder().decode(pin.bytes())).toBe('1984');
    await pinpad.close();
  });

  it('hidraw backend can be chosen', async () => {
    const fake = fakeNodeHid();
    await lazyNodeHid('hidraw', async () => fake.mod).devicesAsync();
    expect(fake.calls).toEqual(['setDriverType:hidraw', 'devicesAsync:undefined:undefined']);
  });

  it('with the real node-hid and no pad attached, open() fails with a typed TransportError', async () => {
    const pinpad = createNodeHidPinPad({ vendorId: 0xfffe, productId: 0xfffd });
    const err = await pinpad.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(['PORT_NOT_FOUND', 'HID_UNAVAILABLE', 'HID', 'PERMISSION_DENIED']).toContain((err as TransportError).code);
    expect(pinpad.isOpen).toBe(false);
  });
});
