/**
 * The real PIN pad: a `PinPad` over `NodeHidDevice` (node-hid 3 `HIDAsync`). Nothing
 * native loads at construction; node-hid is imported inside `open()`.
 *
 * Backend: node-hid on Linux uses hidraw by default, and with hidraw the keystrokes ALSO
 * reach the console / focused application (shared/reference/camera-light-pinpad.md
 * §6.2). PIN digits must not leak there, so the default here is the libusb backend, which
 * detaches the kernel driver and reads exclusively. node-hid picks its binding once per
 * process (`setDriverType` before the first use), so open the PIN pad before anything
 * else touches node-hid.
 */
import { loadNodeHid, NodeHidDevice, type NodeHidModule } from '../transport/linux/hid';
import { PinPad, type PinPadOptions } from './driver';

export type NodeHidBackend = 'libusb' | 'hidraw';

export interface NodeHidPinPadOptions extends Omit<PinPadOptions, 'device'> {
  vendorId?: number;
  productId?: number;
  /** hidraw path (hidraw backend) or libusb path ("1-1.2:1.0"); else the first vendor/product match. */
  path?: string;
  /** Default 'libusb' (exclusive reads). */
  backend?: NodeHidBackend;
  /** How node-hid is loaded. Default: `loadNodeHid()` (dynamic import, HID_UNAVAILABLE when missing). */
  loadHid?: () => Promise<NodeHidModule & { setDriverType?: (type: NodeHidBackend) => void }>;
}

/**
 * A node-hid module facade that loads the real module at first use and selects the
 * backend before anything else runs.
 */
export function lazyNodeHid(
  backend: NodeHidBackend = 'libusb',
  load: NodeHidPinPadOptions['loadHid'] = loadNodeHid,
): NodeHidModule {
  let mod: Promise<NodeHidModule> | undefined;
  const get = () => {
    mod ??= load().then((m) => {
      m.setDriverType?.(backend);
      return m;
    });
    return mod;
  };
  return {
    async devicesAsync(vendorId?: number, productId?: number) {
      const m = await get();
      return vendorId === undefined || productId === undefined ? m.devicesAsync() : m.devicesAsync(vendorId, productId);
    },
    HIDAsync: {
      async open(path: string) {
        return (await get()).HIDAsync.open(path);
      },
    },
  };
}

/** A `PinPad` on a real USB keypad, by vendor/product id or path. Open it with `await pinpad.open()`. */
export function createNodeHidPinPad(options: NodeHidPinPadOptions): PinPad {
  const { vendorId, productId, path, backend, loadHid, ...rest } = options;
  const device = new NodeHidDevice({
    ...(vendorId === undefined ? {} : { vendorId }),
    ...(productId === undefined ? {} : { productId }),
    ...(path === undefined ? {} : { path }),
    hid: lazyNodeHid(backend ?? 'libusb', loadHid ?? loadNodeHid),
  });
  return new PinPad({ ...rest, device });
}
