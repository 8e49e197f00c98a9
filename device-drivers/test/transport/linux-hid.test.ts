import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { describeHidContract } from '../../src/transport/contract';
import { listHidDevices, type NodeHidAsyncDevice, NodeHidDevice, type NodeHidModule } from '../../src/transport/linux/hid';

/** A fake node-hid 3 module: one PIN pad at /dev/hidraw3 whose reports the test emits. */
function fakeNodeHid(opts: { openError?: Error; devicesError?: Error } = {}) {
  const written: Uint8Array[] = [];
  let device: (EventEmitter & NodeHidAsyncDevice) | undefined;
  let closed = 0;
  const hid: NodeHidModule = {
    async devicesAsync(vid?: number, pid?: number) {
      if (opts.devicesError) throw opts.devicesError;
      const all = [
        { vendorId: 0x046d, productId: 0xc31c, path: '/dev/hidraw0', product: 'Keyboard' },
        { vendorId: 0x1a2c, productId: 0x0e24, path: '/dev/hidraw3', product: 'USB Keypad', manufacturer: 'SEM' },
      ];
      return vid === undefined ? all : all.filter((d) => d.vendorId === vid && d.productId === pid);
    },
    HIDAsync: {
      async open(path: string) {
        if (opts.openError) throw opts.openError;
        if (path !== '/dev/hidraw3') throw new Error(`cannot open device with path ${path}`);
        const d = Object.assign(new EventEmitter(), {
          async write(values: number[] | Buffer) {
            written.push(Uint8Array.from(values));
            return values.length;
          },
          async close() {
            closed++;
          },
        });
        device = d;
        return d;
      },
    },
  };
  return {
    hid,
    written,
    send: (r: Uint8Array) => device?.emit('data', Buffer.from(r)),
    unplug: () => device?.emit('error', new Error('could not read from HID device')),
    closed: () => closed,
  };
}

describeHidContract('NodeHidDevice with a fake node-hid module', async () => {
  const f = fakeNodeHid();
  const device = new NodeHidDevice({ vendorId: 0x1a2c, productId: 0x0e24, hid: f.hid });
  return { device, send: f.send, unplug: f.unplug, written: () => f.written };
});

describe('NodeHidDevice', () => {
  it('opens by vendor/product, fills info from enumeration, closes the device', async () => {
    const f = fakeNodeHid();
    const d = new NodeHidDevice({ vendorId: 0x1a2c, productId: 0x0e24, hid: f.hid });
    await d.open();
    expect(d.info).toEqual({
      vendorId: 0x1a2c,
      productId: 0x0e24,
      path: '/dev/hidraw3',
      product: 'USB Keypad',
      manufacturer: 'SEM',
    });
    await d.close();
    expect(f.closed()).toBe(1);
  });

  it('maps failures to typed errors naming the device', async () => {
    const none = new NodeHidDevice({ vendorId: 0xdead, productId: 0xbeef, hid: fakeNodeHid().hid });
    await expect(none.open()).rejects.toMatchObject({ code: 'PORT_NOT_FOUND', message: expect.stringContaining('dead:beef') });
    const byPath = new NodeHidDevice({ path: '/dev/hidraw9', hid: fakeNodeHid().hid });
    await expect(byPath.open()).rejects.toMatchObject({
      code: 'PORT_NOT_FOUND',
      message: expect.stringContaining('/dev/hidraw9'),
    });
    const noLib = new NodeHidDevice({
      vendorId: 1,
      productId: 2,
      hid: fakeNodeHid({ devicesError: new Error('libusb-1.0.so.0: cannot open shared object file: No such file or directory') })
        .hid,
    });
    await expect(noLib.open()).rejects.toMatchObject({
      code: 'HID_UNAVAILABLE',
      message: expect.stringContaining('libusb-1.0-0'),
    });
    const denied = new NodeHidDevice({
      path: '/dev/hidraw3',
      hid: fakeNodeHid({ openError: new Error('EACCES: permission denied') }).hid,
    });
    await expect(denied.open()).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('/dev/hidraw3'),
    });
  });

  it('the real node-hid loads lazily on this machine and enumerates (an array, likely empty)', async () => {
    const list = await listHidDevices();
    expect(Array.isArray(list)).toBe(true);
    for (const d of list) expect(typeof d.vendorId).toBe('number');
    const missing = new NodeHidDevice({ vendorId: 0xfffe, productId: 0xfffd });
    await expect(missing.open()).rejects.toMatchObject({ code: 'PORT_NOT_FOUND' });
  });
});
