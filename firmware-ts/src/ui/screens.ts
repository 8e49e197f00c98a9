/**
 * The handset's e-ink screens: pure functions from a `Screen` description to a 1-bit
 * landscape bitmap (250 x 122 for the 2.13" panel mounted with rotation 90). Text uses
 * the bundled Unifont (CJK merchant names included) and is truncated with an ellipsis
 * when wider than its box; money is integer minor units; the pay code QR is laid out by
 * `layoutQr` (>= 3 px/module, 4-module quiet zone) or refused with `QrDoesNotFitError`.
 */
import { MonoBitmap } from '@handset/device-drivers/ssd1680';
import { checkIcon, crossIcon, fingerprintIcon, lockIcon, strokeRect, warningIcon } from './draw';
import { formatMoney, type Money } from './money';
import { drawQr, layoutQr, type QrFitOptions, type QrLayout } from './qr';
import { drawText, measureText } from './text';

export const SCREEN_WIDTH = 250;
export const SCREEN_HEIGHT = 122;

export type Screen =
  | { kind: 'idle'; title?: string; time?: string; status?: string }
  | { kind: 'confirm'; merchant: string; amount: Money; reference?: string }
  | { kind: 'finger'; amount?: Money; attemptsLeft?: number; message?: string }
  | { kind: 'pin'; entered: number; maxDigits?: number; amount?: Money; attemptsLeft?: number }
  | { kind: 'processing'; step?: string; progress?: number }
  | { kind: 'paid'; merchant: string; amount: Money; reference?: string; time?: string }
  | { kind: 'declined'; reason: string; merchant?: string; amount?: Money }
  | {
      kind: 'paycode';
      payload: string;
      amount?: Money;
      secondsLeft: number;
      totalSeconds?: number;
      /** Precomputed layout (keeps version/EC stable across a session). */
      qr?: QrLayout;
    }
  | { kind: 'error'; message: string; title?: string; code?: string }
  | { kind: 'locked'; message?: string };

export type ScreenKind = Screen['kind'];

export interface RenderOptions {
  width?: number;
  height?: number;
  qr?: QrFitOptions;
}

/** Region of the pay code screen that holds the QR (the rest is status). */
export function payCodeQrBox(height = SCREEN_HEIGHT): { x: number; y: number; size: number } {
  return { x: 0, y: 0, size: height };
}

export function renderScreen(screen: Screen, options: RenderOptions = {}): MonoBitmap {
  const W = options.width ?? SCREEN_WIDTH;
  const H = options.height ?? SCREEN_HEIGHT;
  const bm = new MonoBitmap(W, H);
  switch (screen.kind) {
    case 'idle':
      header(bm, screen.title ?? 'Handset', screen.time);
      drawText(bm, 0, 34, 'Ready to pay', { scale: 2, width: W, align: 'center' });
      drawText(bm, 0, 72, screen.status ?? 'Touch the sensor for a pay code', { width: W, align: 'center' });
      footer(bm, 'or scan a merchant QR code');
      break;
    case 'confirm': {
      header(bm, 'Confirm payment');
      drawText(bm, 4, 22, 'Pay to', { width: W - 8 });
      drawText(bm, 4, 38, screen.merchant, { width: W - 8 });
      amountLine(bm, 58, screen.amount);
      footer(bm, screen.reference ? `Ref ${screen.reference}` : 'Place finger to confirm');
      break;
    }
    case 'finger': {
      header(bm, 'Fingerprint');
      fingerprintIcon(bm, 40, 62, 70);
      const tx = 84;
      drawText(bm, tx, 26, 'Place your', { width: W - tx - 4 });
      drawText(bm, tx, 42, 'finger on the', { width: W - tx - 4 });
      drawText(bm, tx, 58, 'sensor', { width: W - tx - 4 });
      if (screen.amount) drawText(bm, tx, 80, formatMoney(screen.amount).text, { width: W - tx - 4 });
      if (screen.message) drawText(bm, tx, 100, screen.message, { width: W - tx - 4 });
      else if (screen.attemptsLeft !== undefined)
        drawText(bm, tx, 100, `${screen.attemptsLeft} attempt${screen.attemptsLeft === 1 ? '' : 's'} left`, {
          width: W - tx - 4,
        });
      break;
    }
    case 'pin': {
      header(bm, 'Enter PIN');
      if (screen.amount) drawText(bm, 4, 22, formatMoney(screen.amount).text, { width: W - 8 });
      const max = Math.max(4, Math.min(12, screen.maxDigits ?? 6));
      const box = 22;
      const gap = 6;
      const total = max * box + (max - 1) * gap;
      const scale = total > W - 8 ? (W - 8) / total : 1;
      const b = Math.floor(box * scale);
      const g = Math.floor(gap * scale);
      const x0 = Math.floor((W - (max * b + (max - 1) * g)) / 2);
      for (let i = 0; i < max; i++) {
        const x = x0 + i * (b + g);
        strokeRect(bm, x, 46, b, b, 2);
        if (i < screen.entered) bm.fillRect(x + Math.floor(b / 2) - 4, 46 + Math.floor(b / 2) - 4, 8, 8, 1);
      }
      footer(
        bm,
        screen.attemptsLeft !== undefined
          ? `${screen.attemptsLeft} attempt${screen.attemptsLeft === 1 ? '' : 's'} left  ·  Enter = OK`
          : 'Enter = OK   Del = correct',
      );
      break;
    }
    case 'processing': {
      header(bm, 'Processing');
      drawText(bm, 0, 36, 'Please wait', { scale: 2, width: W, align: 'center' });
      drawText(bm, 0, 72, screen.step ?? 'Authorising payment', { width: W, align: 'center' });
      const p = Math.max(0, Math.min(1, screen.progress ?? 0));
      strokeRect(bm, 25, 96, W - 50, 10, 1);
      bm.fillRect(27, 98, Math.round((W - 54) * p), 6, 1);
      break;
    }
    case 'paid': {
      header(bm, 'Payment complete', screen.time);
      checkIcon(bm, 6, 26, 40, 5);
      drawText(bm, 54, 24, 'PAID', { scale: 2 });
      drawText(bm, 54, 60, formatMoney(screen.amount).text, { width: W - 58 });
      drawText(bm, 54, 78, screen.merchant, { width: W - 58 });
      if (screen.reference) footer(bm, `Ref ${screen.reference}`);
      break;
    }
    case 'declined': {
      header(bm, 'Payment declined');
      crossIcon(bm, 6, 26, 40, 5);
      drawText(bm, 54, 24, 'DECLINED', { scale: 2, width: W - 58 });
      let y = 58;
      if (screen.merchant) {
        drawText(bm, 54, y, screen.merchant, { width: W - 58 });
        y += 17;
      }
      if (screen.amount) drawText(bm, 54, y, formatMoney(screen.amount).text, { width: W - 58 });
      footer(bm, screen.reason);
      break;
    }
    case 'paycode':
      renderPayCode(bm, screen, options);
      break;
    case 'error': {
      header(bm, screen.title ?? 'Error');
      warningIcon(bm, 8, 28, 36);
      const lines = wrap(screen.message, W - 62, 4);
      lines.forEach((l, i) => {
        drawText(bm, 54, 26 + i * 17, l, { width: W - 58 });
      });
      if (screen.code) footer(bm, screen.code);
      break;
    }
    case 'locked': {
      header(bm, 'Payments locked');
      lockIcon(bm, 8, 28, 40);
      const lines = wrap(screen.message ?? 'Too many wrong PINs. Ask your provider to unlock this handset.', W - 62, 5);
      lines.forEach((l, i) => {
        drawText(bm, 58, 24 + i * 17, l, { width: W - 62 });
      });
      break;
    }
  }
  return bm;
}

function renderPayCode(bm: MonoBitmap, s: Extract<Screen, { kind: 'paycode' }>, options: RenderOptions): void {
  const W = bm.width;
  const box = payCodeQrBox(bm.height);
  const qr = s.qr ?? layoutQr(s.payload, box.size, options.qr);
  const off = Math.floor((box.size - qr.sizePx) / 2);
  drawQr(bm, box.x + off, box.y + off, qr);
  const x = box.size + 4;
  const w = W - x - 2;
  drawText(bm, x, 2, 'Pay code', { width: w });
  if (s.amount) drawText(bm, x, 19, formatMoney(s.amount).text, { width: w });
  else drawText(bm, x, 19, 'Show to merchant', { width: w });
  countdown(bm, x, w, s.secondsLeft, s.totalSeconds ?? 60);
  const text = /^\d{8,24}$/.test(s.payload) ? groupDigits(s.payload) : [s.payload];
  text.slice(0, 2).forEach((l, i) => {
    drawText(bm, x, 86 + i * 17, l, { width: w });
  });
}

/** The part of the pay code screen that changes every second: digits and bar. */
export function countdown(bm: MonoBitmap, x: number, w: number, secondsLeft: number, totalSeconds: number): void {
  const secs = Math.max(0, Math.ceil(secondsLeft));
  drawText(bm, x, 38, `${secs}`, { scale: 2 });
  drawText(bm, x + measureText(`${secs}`, 2) + 2, 54, 's left');
  const p = totalSeconds > 0 ? Math.max(0, Math.min(1, secondsLeft / totalSeconds)) : 0;
  strokeRect(bm, x, 73, w - 2, 8, 1);
  bm.fillRect(x + 2, 75, Math.round((w - 6) * p), 4, 1);
}

/** "91234567890123456789" -> ["91234 56789", "01234 56789"]. */
export function groupDigits(digits: string): string[] {
  const half = Math.ceil(digits.length / 2);
  const g = (s: string) => s.replace(/(\d{5})(?=\d)/g, '$1 ');
  return [g(digits.slice(0, half)), g(digits.slice(half))];
}

function header(bm: MonoBitmap, title: string, right?: string): void {
  bm.fillRect(0, 0, bm.width, 18, 1);
  const rw = right ? measureText(right) : 0;
  drawText(bm, 4, 1, title, { invert: true, width: bm.width - 8 - (rw ? rw + 6 : 0) });
  if (right) drawText(bm, bm.width - 4 - rw, 1, right, { invert: true });
}

function footer(bm: MonoBitmap, text: string): void {
  bm.fillRect(0, bm.height - 20, bm.width, 1, 1);
  drawText(bm, 4, bm.height - 18, text, { width: bm.width - 8, align: 'center' });
}

/** Currency code at 1x, amount at 2x when it fits, else 1x. */
function amountLine(bm: MonoBitmap, y: number, money: Money, x = 4): void {
  const m = formatMoney(money);
  const avail = bm.width - x - 4;
  const codeW = measureText(m.code) + 6;
  if (codeW + measureText(m.amount, 2) <= avail) {
    drawText(bm, x, y + 14, m.code);
    drawText(bm, x + codeW, y, m.amount, { scale: 2 });
  } else drawText(bm, x, y + 8, m.text, { width: avail });
}

/** Greedy word wrap into at most `maxLines` lines of `width` px; the last line gets the ellipsis. */
export function wrap(text: string, width: number, maxLines: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = '';
  for (const word of words) {
    const next = cur ? `${cur} ${word}` : word;
    if (measureText(next) <= width || !cur) cur = next;
    else {
      lines.push(cur);
      cur = word;
    }
  }
  if (cur) lines.push(cur);
  if (lines.length > maxLines) {
    const kept = lines.slice(0, maxLines);
    kept[maxLines - 1] = `${kept[maxLines - 1]} ${lines.slice(maxLines).join(' ')}`;
    return kept;
  }
  return lines;
}
