/**
 * The page server's HTTP edge on the real cloud: the QR SVG (decoded back, byte mode
 * only), SSE live updates, receipts, and typed answers for every kind of bad request.
 */
import { request } from 'node:http';
import jsQR from 'jsqr';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MerchantServer, startMerchantServer } from '../../src/merchant/server';
import { type MerchantWorld, merchantWorld, waitForOrder } from './world';

let w: MerchantWorld;
let server: MerchantServer;

async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const res = await fetch(server.url + path.replace(/^\//, ''), {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    body: type.includes('json') ? ((await res.json()) as Record<string, never>) : await res.text(),
  };
}

beforeAll(async () => {
  w = await merchantWorld();
  server = await startMerchantServer({ terminal: w.terminal, currencies: ['EUR'] });
});

afterAll(async () => {
  await server?.close();
  await w?.close();
});

describe('merchant page server', () => {
  it('serves the page with a strict CSP and no inline code', async () => {
    const r = await api('GET', '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.body as string).not.toMatch(/<script>|style="/);
    expect((await api('GET', '/assets/app.js')).headers.get('content-type')).toContain('javascript');
    expect((await api('GET', '/assets/app.css')).headers.get('content-type')).toContain('text/css');
  });

  it('the QR SVG decodes back to the order payload, encoded in byte mode only', async () => {
    const o = (await api('POST', '/api/orders', { amount: '7.05', reference: 'svg-1' })).body as unknown as {
      qrPayload: string;
      qrUrl: string;
      due: unknown;
    };
    expect(o.due).toEqual({ minor: '705', currency: 'EUR', display: '7.05 EUR' });
    const svg = await api('GET', o.qrUrl);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    const { data, info } = await sharp(Buffer.from(svg.body as string), { density: 300 })
      .flatten({ background: '#ffffff' })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const code = jsQR(new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength), info.width, info.height);
    expect(code?.data).toBe(o.qrPayload);
    expect(new Set(code?.chunks.map((c) => c.type))).toEqual(new Set(['byte']));
  });

  it('pushes order updates over Server-Sent Events', async () => {
    const events: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}api/events`, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          events.push(chunk);
          if (events.join('').includes('"reference":"sse-1"') && events.join('').includes('"state":"paid"')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (e) => (e.message.includes('aborted') || e.message.includes('socket hang up') ? resolve() : reject(e)));
      req.end();
    });
    await new Promise((r) => setTimeout(r, 50));
    const o = (await api('POST', '/api/orders', { amount: '1.00', reference: 'sse-1' })).body as unknown as { qrPayload: string };
    await w.payQr(o.qrPayload);
    await done;
    const text = events.join('');
    expect(text).toContain('event: hello');
    expect(text).toMatch(/event: order\ndata: \{[^\n]*"reference":"sse-1"[^\n]*"state":"awaiting_payment"/);
    expect(text).toMatch(/"comparison":\{"verdict":"PAID"/);
    const receipt = await api('GET', '/api/orders/sse-1/receipt.txt');
    expect(receipt.body).toContain('*** PAID ***');
    const json = (await api('GET', '/api/orders/sse-1/receipt')).body as unknown as {
      receipt: { paid: boolean; due: { minor: string } };
    };
    expect(json.receipt).toMatchObject({ paid: true, due: { minor: '100', currency: 'EUR' } });
  });

  it.each([
    ['text/plain body', { amount: '1.00' }, { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['not JSON', '{"amount":', undefined, 400, 'BAD_JSON'],
    ['a JSON array', '[1]', undefined, 400, 'BAD_JSON'],
    ['missing amount', {}, undefined, 400, 'MISSING_FIELD'],
    ['amount as a JSON number', { amount: 12.34 }, undefined, 400, 'BAD_FIELD'],
    ['comma decimal', { amount: '12,34' }, undefined, 400, 'AMOUNT_SYNTAX'],
    ['too many decimals', { amount: '1.234' }, undefined, 400, 'AMOUNT_TOO_MANY_DECIMALS'],
    ['zero', { amount: '0.00' }, undefined, 400, 'BAD_AMOUNT'],
    ['negative', { amount: '-5' }, undefined, 400, 'AMOUNT_NEGATIVE'],
    ['overflow', { amount: '99999999999999' }, undefined, 400, 'AMOUNT_OVERFLOW'],
    ['unknown currency', { amount: '1', currency: 'XXX' }, undefined, 400, 'CURRENCY_UNKNOWN'],
    ['currency the merchant does not take', { amount: '1', currency: 'USD' }, undefined, 400, 'BAD_REQUEST'],
    ['bad reference', { amount: '1', reference: '../etc' }, undefined, 400, 'BAD_REFERENCE'],
    ['ttl not an integer', { amount: '1', ttlSeconds: '60' }, undefined, 400, 'BAD_FIELD'],
    ['ttl too short', { amount: '1', ttlSeconds: 0 }, undefined, 400, 'BAD_TTL'],
  ] as const)('POST /api/orders with %s -> %i %s, nothing created', async (_name, body, headers, status, code) => {
    const before = w.terminal.list().length;
    const r = await api('POST', '/api/orders', body, headers ?? { 'content-type': 'application/json' });
    expect(r.status).toBe(status);
    expect((r.body as unknown as { error: { code: string } }).error.code).toBe(code);
    expect(w.terminal.list().length).toBe(before);
  });

  it('on loopback, refuses a foreign Host header (DNS rebinding) with 421', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}api/orders`, { headers: { host: 'evil.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
    expect((await api('GET', '/api/orders')).status).toBe(200);
  });

  it('manual capture over the API: reserved -> capturable/voidable; capture, then refundable; void on another', async () => {
    type Pay = { paymentId: string; captured: boolean; capturable: boolean; voidable: boolean; refundable: unknown };
    type Order = { qrPayload: string; capture: string; state: string; payments: Pay[] };
    const pay = async (reference: string) => {
      const o = (await api('POST', '/api/orders', { amount: '3.00', reference, capture: 'manual' })).body as unknown as Order;
      expect(o.capture).toBe('manual');
      const r = await w.payQr(o.qrPayload);
      await waitForOrder(w.terminal, reference, (x) => x.order.state === 'paid');
      const now = (await api('GET', `/api/orders/${reference}`)).body as unknown as Order;
      expect(now.payments[0]).toMatchObject({
        paymentId: r.paymentId,
        captured: false,
        capturable: true,
        voidable: true,
        refundable: null,
      });
      return r.paymentId;
    };
    const a = await pay('cap-1');
    const captured = (await api('POST', '/api/orders/cap-1/capture', { paymentId: a })).body as unknown as Order;
    expect(captured.payments[0]).toMatchObject({
      captured: true,
      capturable: false,
      voidable: false,
      refundable: { minor: '300' },
    });
    expect((await api('POST', '/api/orders/cap-1/void', { paymentId: a })).status).toBe(409);
    const b = await pay('cap-2');
    const voided = (await api('POST', '/api/orders/cap-2/void', { paymentId: b })).body as unknown as Order;
    expect(voided.state).toBe('voided');
    expect((await api('POST', '/api/orders', { amount: '1', capture: 'later' })).status).toBe(400);
  });

  it('refuses oversized bodies with 413', async () => {
    const r = await api('POST', '/api/orders', { amount: '1', pad: 'x'.repeat(20_000) });
    expect(r.status).toBe(413);
  });

  it('unknown orders are 404, wrong-state actions 409, unknown routes 404', async () => {
    expect((await api('GET', '/api/orders/nope')).status).toBe(404);
    expect((await api('GET', '/api/orders/nope/qr.svg')).status).toBe(404);
    expect((await api('POST', '/api/orders/nope/paycode', { code: '1' })).status).toBe(404);
    expect((await api('GET', '/api/nothing')).status).toBe(404);
    await api('POST', '/api/orders', { amount: '2.00', reference: 'state-1' });
    const refund = await api('POST', '/api/orders/state-1/refund', { paymentId: 'x' });
    expect(refund.status).toBe(409);
    const pc = await api('POST', '/api/orders/state-1/paycode', { code: '12345' });
    expect(pc.status).toBe(400);
    expect((pc.body as unknown as { error: { code: string } }).error.code).toBe('BAD_PAY_CODE');
    expect((await api('POST', '/api/orders/state-1/cancel', {})).status).toBe(200);
    expect((await api('POST', '/api/orders/state-1/cancel', {})).status).toBe(409);
  });
});
