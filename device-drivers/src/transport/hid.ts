/**
 * HidDevice: a USB HID device that sends input reports (the PIN pad, a barcode
 * scanner in keyboard mode).
 *
 * Contract:
 * - `read()` resolves with exactly one input report (for a boot keyboard: 8 bytes,
 *   modifiers, reserved, six key usages). Reports are never merged or split. Reports
 *   that arrive while no read is pending are queued in order.
 * - `close()` rejects a pending read with `CanceledError`.
 * - A device that is unplugged rejects the pending read with `TransportError` (code
 *   `DISCONNECTED`).
 * - The node-hid implementation is loaded lazily, so a machine without libusb or a pad
 *   still runs everything else; a missing library rejects `open()` with
 *   `TransportError` (code `HID_UNAVAILABLE`).
 */
export interface HidDeviceSelector {
  vendorId?: number;
  productId?: number;
  /** hidraw path, e.g. /dev/hidraw0 */
  path?: string;
}

export interface HidDeviceInfo {
  vendorId: number;
  productId: number;
  path?: string;
  product?: string;
  manufacturer?: string;
}

export interface HidDevice {
  readonly info: HidDeviceInfo;
  readonly isOpen: boolean;
  open(): Promise<void>;
  read(signal?: AbortSignal): Promise<Uint8Array>;
  write(report: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
