/**
 * A barcode/QR scanner attached to the terminal itself (read through the `HidDevice`
 * transport, e.g. `/dev/hidraw0` via node-hid), for tills where the scanner is not typing
 * into the page: every scanned line is charged as a pay code against the open order.
 *
 * Which order: `pickOrder()` (default: the newest order awaiting payment). A scan with no
 * open order, a malformed code or a cloud failure is reported through `onError` (typed)
 * and the scanner keeps going; an unplugged scanner or `stop()` ends the loop.
 */

import { type HandsetError, toHandsetError } from '@handset/device-drivers/core';
import type { HidDevice } from '@handset/device-drivers/transport';
import { type KeyboardDecoderOptions, scanLines } from './hid-scanner';
import { type MerchantTerminal, type OrderView, TerminalError } from './terminal';

export interface AttachScannerOptions extends KeyboardDecoderOptions {
  /** Reference of the order a scan pays; undefined = nothing open. Default: newest awaiting order. */
  pickOrder?: () => string | undefined;
  /** Every charge the scanner made (the order after it). */
  onCharge?: (view: OrderView) => void;
  /** Typed problems: bad reports, no open order, bad codes, cloud errors. Never secrets (the code is not included). */
  onError?: (err: HandsetError) => void;
}

export interface AttachedScanner {
  /** Stops reading (closes the device) and resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Resolves when the loop ends: `undefined` after stop(), the transport error otherwise. */
  readonly done: Promise<HandsetError | undefined>;
}

/** Newest order in `awaiting_payment`, if any. */
export function newestAwaitingOrder(terminal: MerchantTerminal): string | undefined {
  return terminal.list().find((v) => v.order.state === 'awaiting_payment')?.order.reference;
}

export function attachScanner(
  terminal: MerchantTerminal,
  device: HidDevice,
  options: AttachScannerOptions = {},
): AttachedScanner {
  const ac = new AbortController();
  const pick = options.pickOrder ?? (() => newestAwaitingOrder(terminal));
  const report = (err: unknown) => options.onError?.(toHandsetError(err, 'merchant:scanner'));
  const done = (async (): Promise<HandsetError | undefined> => {
    try {
      for await (const line of scanLines(device, { ...options, signal: ac.signal, onError: report })) {
        const reference = pick();
        if (!reference) {
          report(new TerminalError('NO_OPEN_ORDER', 'a pay code was scanned but no order is waiting for payment'));
          continue;
        }
        try {
          options.onCharge?.(await terminal.chargePayCode(reference, line));
        } catch (err) {
          report(err);
        }
      }
      return undefined;
    } catch (err) {
      return ac.signal.aborted ? undefined : toHandsetError(err, 'merchant:scanner');
    }
  })();
  return {
    done,
    async stop() {
      ac.abort();
      await device.close().catch(() => undefined);
      await done;
    },
  };
}
