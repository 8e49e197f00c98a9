import { afterEach, describe, expect, it } from 'vitest';
import type { HidDevice } from '../hid';
import { expectRejectsCode, wallSleep, within } from './util';

export interface HidContractFixture {
  /** A NOT yet opened device. */
  device: HidDevice;
  /** The device sends one input report. */
  send: (report: Uint8Array) => void;
  /** The device is unplugged. */
  unplug: () => void;
  /** Output reports the device received. */
  written: () => Uint8Array[];
  cleanup?: () => Promise<void> | void;
}

/** The HidDevice contract (see hid.ts). */
export function describeHidContract(name: string, make: () => Promise<HidContractFixture>): void {
  describe(`HidDevice contract: ${name}`, () => {
    let fx: HidContractFixture | undefined;
    const opened = async () => {
      fx = await make();
      await fx.device.open();
      return fx;
    };
    afterEach(async () => {
      await fx?.device.close().catch(() => undefined);
      await fx?.cleanup?.();
      fx = undefined;
    });

    it('read before open rejects NOT_OPEN', async () => {
      fx = await make();
      const { device } = fx;
      expect(device.isOpen).toBe(false);
      await expectRejectsCode(() => device.read(), 'NOT_OPEN');
    });

    it('delivers one report per read, never merged or split, queued in order', async () => {
      const { device, send } = await opened();
      const a = Uint8Array.of(0, 0, 0x59, 0, 0, 0, 0, 0);
      const z = new Uint8Array(8);
      const b = Uint8Array.of(0, 0, 0x5a, 0, 0, 0, 0, 0);
      send(a);
      send(z);
      send(b);
      await wallSleep(5);
      expect(await within(device.read(), 2000, 'read 1')).toEqual(a);
      expect(await within(device.read(), 2000, 'read 2')).toEqual(z);
      const pending = device.read();
      expect(await within(pending, 2000, 'read 3')).toEqual(b);
      const later = device.read();
      await wallSleep(5);
      send(a);
      expect(await within(later, 2000, 'read 4')).toEqual(a);
    });

    it('write sends an output report', async () => {
      const { device, written } = await opened();
      await device.write(Uint8Array.of(0, 0x01));
      expect(written().map((r) => [...r])).toContainEqual([0, 0x01]);
    });

    it('close rejects a pending read with CANCELED; later reads reject NOT_OPEN', async () => {
      const { device } = await opened();
      const pending = expect(within(device.read(), 2000, 'canceled read')).rejects.toMatchObject({ code: 'CANCELED' });
      await device.close();
      await pending;
      await expectRejectsCode(() => device.read(), 'NOT_OPEN');
      await device.close();
    });

    it('an abort signal cancels a pending read', async () => {
      const { device, send } = await opened();
      const ac = new AbortController();
      const pending = expect(within(device.read(ac.signal), 2000, 'aborted read')).rejects.toMatchObject({ code: 'CANCELED' });
      ac.abort();
      await pending;
      send(Uint8Array.of(1, 2, 3));
      expect(await within(device.read(), 2000, 'read after abort')).toEqual(Uint8Array.of(1, 2, 3));
    });

    it('unplug rejects the pending read with DISCONNECTED', async () => {
      const { device, unplug } = await opened();
      const pending = expect(within(device.read(), 2000, 'read on unplugged device')).rejects.toMatchObject({
        code: 'DISCONNECTED',
      });
      await wallSleep(2);
      unplug();
      await pending;
    });
  });
}
