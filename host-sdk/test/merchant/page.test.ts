/**
 * The cashier's page in headless Chromium (Debian package, driven by playwright-core)
 * against the real cloud: create an order with the keyboard, decode the QR from a page
 * screenshot (jsQR) and check it is the EMV payload with the amount, pay it with a
 * simulated handset that signs an authorisation over MQTT, see PAID with the amount
 * comparison; a forged mismatched result shows REJECTED; a typed pay code pays; refunds.
 *
 * Screenshots go to a temp dir; with UPDATE_SCREENSHOTS=1 they replace
 * docs/images/merchant-{order,paid,rejected}.png.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jsQR from 'jsqr';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MerchantServer, startMerchantServer } from '../../src/merchant/server';
import { parseMpm } from '../../src/protocol/emv/mpm';
import { MERCHANT, type MerchantWorld, merchantWorld } from './world';

// Browser globals used inside page.evaluate / waitForFunction callbacks (they run in
// Chromium; the project's type check has no DOM lib).
interface DomElement {
  id: string;
  textContent: string | null;
  complete?: boolean;
  getAttribute(name: string): string | null;
}
declare const document: {
  activeElement: DomElement | null;
  getElementById(id: string): DomElement | null;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
};
declare const location: { origin: string };

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs/images') : mkdtempSync(join(tmpdir(), 'merchant-page-'));
mkdirSync(SHOTS, { recursive: true });

let w: MerchantWorld;
let server: MerchantServer;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

async function decodeQrFromScreenshot(p: Page): Promise<string> {
  const png = await p.screenshot({ fullPage: false });
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const code = jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height);
  if (!code) throw new Error('no QR code found in the page screenshot');
  return code.data;
}

async function newSale(amount: string): Promise<string> {
  if (await page.isVisible('#new-sale')) await page.click('#new-sale');
  await page.fill('#amount', amount);
  await page.press('#amount', 'Enter');
  await page.waitForSelector('#order:not([hidden])');
  await page.waitForFunction(() => document.getElementById('qr')?.complete === true);
  return (await page.textContent('#ref'))!.trim();
}

beforeAll(async () => {
  w = await merchantWorld();
  server = await startMerchantServer({ terminal: w.terminal, currencies: ['EUR'] });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(server.url);
  await page.waitForSelector('#live.online');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  const rep = await w?.cloud.center.checkInvariants();
  await w?.close();
  expect(rep?.violations).toEqual([]);
});

describe('merchant page in headless Chromium', () => {
  it('loads with every asset from our own server, named controls and the merchant', async () => {
    expect(await page.textContent('#merchant-name')).toBe('Corner Cafe');
    expect(await page.getAttribute('#amount', 'id')).toBe('amount');
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select')]
        .filter((el) => !(el.id && document.querySelector(`label[for="${el.id}"]`)) && !el.getAttribute('aria-label'))
        .map((el) => el.id),
    );
    expect(unlabeled).toEqual([]);
    const foreign = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .map((e) => e.name)
        .filter((n) => !n.startsWith(location.origin)),
    );
    expect(foreign).toEqual([]);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('amount');
  });

  it('create order -> QR in a screenshot decodes to the EMV payload with the amount -> handset pays -> PAID with the comparison', async () => {
    const ref = await newSale('12.34');
    expect(await page.textContent('#due-amount')).toBe('12.34');
    expect(await page.textContent('#state-banner')).toBe('Awaiting payment');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('paycode');
    await page.screenshot({ path: join(SHOTS, 'merchant-order.png') });

    const payload = await decodeQrFromScreenshot(page);
    const parsed = parseMpm(payload);
    expect(parsed.ok).toBe(true);
    expect(parsed.data).toMatchObject({
      initiation: 'dynamic',
      amount: { text: '12.34', minor: 1234n },
      currency: { alpha: 'EUR' },
      merchantName: 'Corner Cafe',
      handset: { merchantId: MERCHANT.id, orderRef: ref },
    });
    expect(payload).toBe(w.terminal.get(ref).qrPayload);

    const result = await w.payQr(payload);
    expect(result.status).toBe('approved');
    await page.waitForSelector('.verdict.paid');
    expect(await page.textContent('#state-banner')).toBe('Paid');
    expect(await page.textContent('#verdict-main')).toBe('\u2713 Paid');
    expect(await page.textContent('#verdict-sub')).toBe('due = authorised = booked');
    for (const row of ['due', 'authorised', 'booked']) expect(await page.textContent(`#row-${row} td.num`)).toBe('12.34 EUR');
    expect(await page.textContent('#row-booked td.mark')).toBe('\u2713');
    await page.waitForFunction(() => document.getElementById('receipt')?.textContent?.includes('*** PAID ***'));
    expect(await page.textContent('#history tbody tr:first-child')).toContain(ref);
    await page.screenshot({ path: join(SHOTS, 'merchant-paid.png') });
  });

  it('a mismatched booked amount shows REJECTED with the reason, never paid', async () => {
    const ref = await newSale('20.00');
    await w.forgeResult({
      paymentId: '01900000-0000-7000-8000-0000000000aa',
      flow: 'scan',
      deviceId: 'hs-alice',
      merchantId: MERCHANT.id,
      orderRef: ref,
      status: 'approved',
      currency: 'EUR',
      authorisedAmount: '1999',
      bookedAmount: '1999',
      ledgerTransferId: 'pc-forged',
      receivedAt: Date.now(),
      decidedAt: Date.now(),
    });
    await page.waitForSelector('.verdict.rejected');
    expect(await page.textContent('#state-banner')).toBe('Rejected - not paid');
    expect(await page.textContent('#verdict-main')).toBe('\u2717 Rejected');
    expect(await page.textContent('#verdict-sub')).toBe('underpaid');
    expect(await page.getAttribute('#row-booked', 'class')).toBe('bad');
    expect(await page.textContent('#row-booked td.num')).toBe('19.99 EUR');
    expect(await page.textContent('#reasons')).toContain('booked 19.99 EUR < due 20.00 EUR');
    await page.waitForFunction(() => document.getElementById('receipt')?.textContent?.includes('NOT PAID'));
    expect(await page.isVisible('.verdict.paid')).toBe(false);
    await page.screenshot({ path: join(SHOTS, 'merchant-rejected.png') });
  });

  it('keyboard only: a typed pay code pays; a mistyped one shows a clear error', async () => {
    const ref = await newSale('4.50');
    const code = w.alice.paycode(Date.now(), Math.floor(Date.now() / 15000) + 1);
    const typo = code.slice(0, 19) + ((Number(code[19]) + 1) % 10);
    await page.keyboard.type(typo);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (document.getElementById('paycode-error')?.textContent ?? '').length > 0);
    expect(await page.textContent('#paycode-error')).toContain('PAYCODE_CHECK_DIGIT');
    await page.fill('#paycode', code);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.verdict.paid');
    expect(w.terminal.get(ref).order.payments[0]?.result.flow).toBe('paycode');
  });

  it('refund from the page: partial then the rest', async () => {
    await page.waitForSelector('#refund-box:not([hidden])');
    await page.fill('#refund-amount', '1.50');
    await page.click('#refund');
    await page.waitForFunction(() => document.getElementById('state-banner')?.textContent === 'Paid - partly refunded');
    await page.click('#refund');
    await page.waitForFunction(() => document.getElementById('state-banner')?.textContent === 'Refunded');
    await page.waitForFunction(() => (document.getElementById('receipt')?.textContent ?? '').includes('REFUND'));
    expect(await page.isVisible('#refund-box')).toBe(false);
  });

  it('bad amount input shows an error and creates nothing; Esc cancels an open sale', async () => {
    await page.click('#new-sale');
    const before = w.terminal.list().length;
    await page.fill('#amount', '12,34');
    await page.press('#amount', 'Enter');
    expect(await page.textContent('#form-error')).toContain('digits');
    await page.fill('#amount', '1.234');
    await page.press('#amount', 'Enter');
    await page.waitForFunction(() =>
      (document.getElementById('form-error')?.textContent ?? '').includes('AMOUNT_TOO_MANY_DECIMALS'),
    );
    expect(w.terminal.list().length).toBe(before);
    const ref = await newSale('9.99');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => document.getElementById('state-banner')?.textContent === 'Cancelled');
    expect(w.terminal.get(ref).order.state).toBe('cancelled');
    expect(consoleErrors.filter((e) => !e.includes('Failed to load resource'))).toEqual([]);
  });
});
