/**
 * QR generation module ("show to pay"): shows a one-time pay code as a QR code with a
 * live countdown on the e-ink panel for at most 60 s, refreshing the code when the
 * caller's generator makes a new one, and clears it when time is up.
 *
 * E-ink policy (shared/reference/eink-ssd1680.md §9 and DESIGN §8):
 * - the first frame of a session is a full refresh (a half-ghosted QR is a scan failure);
 * - every second only the countdown digits and bar change, and a new code changes only the
 *   QR (and its printed digits): the driver sends just those RAM windows (partial refresh);
 * - the driver forces a full refresh after 5 partials, so the QR never carries more than
 *   5 partials' worth of ghosting;
 * - the QR is laid out once per code (`layoutQr`: >= 3 px/module, 4-module quiet zone);
 *   a payload that cannot be drawn scannably is refused with `QrDoesNotFitError` before
 *   the panel is touched.
 */
import { CanceledError, type Clock } from '@handset/device-drivers/core';
import type { EinkDisplay, RefreshKind, UpdateInfo } from '@handset/device-drivers/ssd1680';
import type { Money } from '../../ui/money';
import { layoutQr, type QrFitOptions, type QrLayout } from '../../ui/qr';
import { payCodeQrBox, renderScreen, type Screen } from '../../ui/screens';

/** A pay code and, optionally, when the cloud stops accepting it (wall-clock ms). */
export interface PayCode {
  code: string;
  validUntilMs?: number;
}

export interface QrGenerateOptions {
  display: EinkDisplay;
  clock: Clock;
  /** Longest a session shows codes (DESIGN: 60 s). */
  maxShowMs?: number;
  /** Countdown period. Default 1000 ms. */
  tickMs?: number;
  qr?: QrFitOptions;
  /**
   * Refresh used whenever a new code is drawn: the first frame of a session and each code
   * refresh. A half-ghosted QR is a failed scan, so new codes never go out as partials
   * (shared/reference/eink-ssd1680.md §9); the countdown does. Default 'full'.
   */
  firstRefresh?: RefreshKind;
}

export interface PayCodeRequest {
  /** The first code (e.g. `generatePaycode(...).code`). */
  code: string | PayCode;
  /** Shown under "Pay code" when the amount is known. */
  amount?: Money;
  /** Makes the next code (a new time step); called every `refreshEveryMs`. */
  nextCode?: () => PayCode | string | Promise<PayCode | string>;
  /** Default 15,000 ms (the pay code step) when `nextCode` is given. */
  refreshEveryMs?: number;
  /** Abort when the code was consumed or the user cancelled. */
  signal?: AbortSignal;
  /** Shown when time is up, replacing the QR. Default: idle screen "Pay code expired". */
  expiredScreen?: Screen;
  /** Observer of each panel update. */
  onUpdate?: (info: UpdateInfo, secondsLeft: number, code: string) => void;
}

export interface PayCodeResult {
  reason: 'expired' | 'aborted';
  /** Distinct codes shown. */
  codes: string[];
  updates: UpdateInfo[];
  /** Wall time of the session on the module's clock, ms. */
  elapsedMs: number;
}

export class QrGenerateModule {
  readonly display: EinkDisplay;
  readonly clock: Clock;
  readonly maxShowMs: number;
  readonly tickMs: number;
  private readonly qrOptions: QrFitOptions;
  private readonly firstRefresh: RefreshKind;

  constructor(options: QrGenerateOptions) {
    this.display = options.display;
    this.clock = options.clock;
    this.maxShowMs = options.maxShowMs ?? 60_000;
    this.tickMs = options.tickMs ?? 1000;
    this.qrOptions = options.qr ?? {};
    this.firstRefresh = options.firstRefresh ?? 'full';
  }

  /** Lays out a payload for this display, or throws `QrDoesNotFitError`. */
  layout(payload: string): QrLayout {
    return layoutQr(payload, payCodeQrBox(this.display.height).size, this.qrOptions);
  }

  /** Renders the pay code screen for this display (no I/O). */
  frame(code: string, secondsLeft: number, amount?: Money, qr?: QrLayout) {
    return renderScreen(
      { kind: 'paycode', payload: code, amount, secondsLeft, totalSeconds: this.maxShowMs / 1000, qr: qr ?? this.layout(code) },
      { width: this.display.width, height: this.display.height, qr: this.qrOptions },
    );
  }

  /** Runs one pay code session; resolves when it expired or was aborted. */
  async showPayCode(req: PayCodeRequest): Promise<PayCodeResult> {
    const first = typeof req.code === 'string' ? { code: req.code } : req.code;
    let code = first.code;
    let qr = this.layout(code);
    const codes = [code];
    const updates: UpdateInfo[] = [];
    const start = this.clock.monotonic();
    const end = start + this.maxShowMs;
    const refreshEvery = req.refreshEveryMs ?? 15_000;
    let nextRefresh = req.nextCode ? start + refreshEvery : Number.POSITIVE_INFINITY;
    let newCode = true;
    try {
      for (;;) {
        if (req.signal?.aborted) throw new CanceledError('pay code session aborted', { device: 'qr-generate' });
        const now = this.clock.monotonic();
        if (now >= end) break;
        if (req.nextCode && now >= nextRefresh) {
          const n = await req.nextCode();
          const next = typeof n === 'string' ? n : n.code;
          const nextQr = this.layout(next);
          newCode ||= next !== code;
          code = next;
          qr = nextQr;
          if (codes[codes.length - 1] !== code) codes.push(code);
          while (nextRefresh <= now) nextRefresh += refreshEvery;
        }
        const secondsLeft = Math.ceil((end - now) / 1000);
        const info = await this.display.update(this.frame(code, secondsLeft, req.amount, qr), {
          mode: newCode ? this.firstRefresh : 'auto',
          signal: req.signal,
        });
        newCode = false;
        updates.push(info);
        req.onUpdate?.(info, secondsLeft, code);
        const after = this.clock.monotonic();
        if (after >= end) break;
        const nextTick = start + (Math.floor((after - start) / this.tickMs) + 1) * this.tickMs;
        await this.clock.sleep(Math.min(nextTick, end) - after, req.signal);
      }
    } catch (err) {
      if (req.signal?.aborted) return { reason: 'aborted', codes, updates, elapsedMs: this.clock.monotonic() - start };
      throw err;
    }
    const expired = req.expiredScreen ?? { kind: 'idle', status: 'Pay code expired' };
    const info = await this.display.update(
      renderScreen(expired, { width: this.display.width, height: this.display.height, qr: this.qrOptions }),
      { mode: 'auto' },
    );
    updates.push(info);
    return { reason: 'expired', codes, updates, elapsedMs: this.clock.monotonic() - start };
  }
}

export { QrDoesNotFitError } from '../../ui/qr';
export * from './render';
