/**
 * The cashier's web page, served locally by node:http: plain HTML/CSS/JS from this
 * process (no framework, no CDN), a JSON API over the {@link MerchantTerminal}, live
 * status by Server-Sent Events, and the QR drawn here as SVG with `qrcode`.
 *
 * API (JSON; amounts as decimal strings in major units on input, `{minor, currency,
 * display}` on output; minor units are decimal strings, never JSON numbers):
 *
 * | method | path                              | body / result |
 * | ------ | --------------------------------- | ------------- |
 * | GET    | /                                 | the page |
 * | GET    | /api/config                       | merchant, currencies |
 * | GET    | /api/orders                       | order history, newest first |
 * | POST   | /api/orders                       | `{amount: "12.34", currency: "EUR", reference?, ttlSeconds?, capture?}` -> order (201) |
 * | GET    | /api/orders/:ref                  | order |
 * | GET    | /api/orders/:ref/qr.svg           | the dynamic MPM QR (byte mode, level M) |
 * | POST   | /api/orders/:ref/paycode          | `{code}` -> order (charge the payer's pay code) |
 * | POST   | /api/orders/:ref/cancel           | order |
 * | POST   | /api/orders/:ref/refund           | `{paymentId, amount?}` -> order |
 * | POST   | /api/orders/:ref/void             | `{paymentId}` -> order (manual capture, before capture) |
 * | POST   | /api/orders/:ref/capture          | `{paymentId}` -> order (manual capture) |
 * | GET    | /api/orders/:ref/receipt          | `{receipt, text}` |
 * | GET    | /api/orders/:ref/receipt.txt      | the receipt as text |
 * | GET    | /api/events                       | SSE: `order` events (order JSON), `unknown` events |
 *
 * POSTs must be `Content-Type: application/json` (a cross-site form cannot send that
 * without a CORS preflight, which this server never grants). Errors are
 * `{error: {code, message}}` with 400 (bad input), 404 (unknown order), 409 (wrong state),
 * 502 (cloud failed), 413 (body too large).
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HandsetError, ValidationError } from '@handset/device-drivers/core';
import QRCode from 'qrcode';
import { CURRENCIES, currency as currencyOf, findCurrency, parseDecimalAmount } from '../protocol/money';
import type { Amount, AmountComparison, RecordedPayment } from './amount-comparison';
import { refundableMinor } from './amount-comparison';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './page';
import { formatAmount, renderReceiptText } from './receipt';
import type { MerchantTerminal, OrderView } from './terminal';

export interface MerchantServerOptions {
  terminal: MerchantTerminal;
  /** 0 = a free port (default). */
  port?: number;
  /** Default 127.0.0.1: the page is for the till's own screen. */
  host?: string;
  /** Currency preselected in the form (default EUR). */
  defaultCurrency?: string;
  /** Currencies offered in the form (alpha codes; default every known one). The cloud takes only the merchant's. */
  currencies?: readonly string[];
  /** SSE keep-alive comment interval (default 15 s). */
  heartbeatMs?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface MerchantServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Ends SSE streams and stops listening. */
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;

/** Amount as JSON: minor units as a decimal string, plus a display string. */
export function amountJson(a: Amount | null | undefined): { minor: string; currency: string; display: string } | null {
  if (!a) return null;
  return { minor: String(a.minor), currency: a.currency, display: formatAmount(a) };
}

function comparisonJson(c: AmountComparison | null) {
  if (!c) return null;
  return {
    verdict: c.verdict,
    flagged: c.flagged,
    due: amountJson(c.due),
    authorised: amountJson(c.authorised),
    booked: amountJson(c.booked),
    reasons: c.reasons.map((r) => ({ code: r.code, field: r.field ?? null, message: r.message })),
  };
}

function paymentJson(p: RecordedPayment, v: OrderView) {
  const reserved = v.capture === 'manual' && !v.captured.includes(p.result.paymentId);
  const booked = p.result.status === 'booked';
  return {
    captured: booked && !reserved,
    capturable: booked && reserved && p.comparison.verdict === 'PAID' && p.refundedMinor === 0n,
    voidable: booked && reserved && p.refundedMinor === 0n,
    paymentId: p.result.paymentId,
    status: p.result.status,
    flow: p.result.flow ?? null,
    deviceId: p.result.deviceId ?? null,
    declineReason: p.result.declineReason ?? null,
    at: p.result.at,
    receivedAt: p.receivedAt,
    comparison: comparisonJson(p.comparison),
    refunded: amountJson(
      p.refundedMinor > 0n && p.result.booked ? { minor: p.refundedMinor, currency: p.result.booked.currency } : null,
    ),
    refundable: amountJson(
      refundableMinor(p) > 0n && p.result.booked && !reserved
        ? { minor: refundableMinor(p), currency: p.result.booked.currency }
        : null,
    ),
  };
}

/** The order as the page (and API clients) see it. */
export function orderJson(v: OrderView) {
  const o = v.order;
  return {
    reference: o.reference,
    merchantId: o.merchantId,
    state: o.state,
    due: amountJson(o.due),
    createdAt: o.createdAt,
    expiresAt: o.expiresAt,
    closedAt: o.closedAt ?? null,
    settledBy: o.settledBy ?? null,
    qrPayload: v.qrPayload,
    qrUrl: `/api/orders/${encodeURIComponent(o.reference)}/qr.svg`,
    comparison: comparisonJson(v.comparison),
    lastEvent: v.lastEvent?.kind ?? null,
    capture: v.capture,
    payments: o.payments.map((p) => paymentJson(p, v)),
    refunds: v.refunds.map((r) => ({
      refundId: r.refundId,
      paymentId: r.paymentId,
      status: r.status,
      amount: amountJson(r.amount),
    })),
  };
}

/** The dynamic MPM payload as an SVG QR: byte mode only (EMV MPM §3.2), level M, 4-module quiet zone. */
export async function qrSvg(payload: string): Promise<string> {
  return QRCode.toString([{ data: Buffer.from(payload, 'utf8'), mode: 'byte' }], {
    type: 'svg',
    errorCorrectionLevel: 'M',
    margin: 4,
    color: { dark: '#000000', light: '#ffffff' },
  });
}

function httpStatus(err: HandsetError): number {
  const cloudStatus = (err as { status?: unknown }).status;
  if (err.device === 'cloud' && typeof cloudStatus === 'number' && cloudStatus >= 400 && cloudStatus < 500) {
    return cloudStatus === 401 || cloudStatus === 403 ? 502 : cloudStatus;
  }
  switch (err.code) {
    case 'UNKNOWN_ORDER':
      return 404;
    case 'ORDER_NOT_PAYABLE':
    case 'ORDER_NOT_CANCELLABLE':
    case 'DUPLICATE_REFERENCE':
    case 'NOTHING_TO_REFUND':
    case 'NOT_VOIDABLE':
    case 'NOT_CAPTURABLE':
    case 'NOT_CAPTURED':
    case 'INVALID_ORDER':
      return 409;
    case 'BODY_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    default:
      if (err instanceof ValidationError || err.device === 'protocol') return 400;
      if (err.device === 'cloud' || err.code.startsWith('CLOUD')) return 502;
      return err.device === 'merchant' || err.device === 'merchant:terminal' ? 409 : 502;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ValidationError('POST bodies must be application/json', {
      code: 'UNSUPPORTED_MEDIA_TYPE',
      device: 'merchant:http',
    });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY)
      throw new ValidationError(`body larger than ${MAX_BODY} bytes`, { code: 'BODY_TOO_LARGE', device: 'merchant:http' });
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ValidationError('body is not JSON', { code: 'BAD_JSON', device: 'merchant:http' });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ValidationError('body must be a JSON object', { code: 'BAD_JSON', device: 'merchant:http' });
  return value as Record<string, unknown>;
}

function str(body: Record<string, unknown>, key: string, required: true): string;
function str(body: Record<string, unknown>, key: string, required?: false): string | undefined;
function str(body: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') {
    if (required)
      throw new ValidationError(`${key} is required`, {
        code: 'MISSING_FIELD',
        device: 'merchant:http',
        details: { field: key },
      });
    return undefined;
  }
  if (typeof v !== 'string')
    throw new ValidationError(`${key} must be a string`, { code: 'BAD_FIELD', device: 'merchant:http', details: { field: key } });
  return v;
}

/** Starts the page + API server. Resolves once listening; `url` is `http://host:port/`. */
export async function startMerchantServer(options: MerchantServerOptions): Promise<MerchantServer> {
  const { terminal } = options;
  const host = options.host ?? '127.0.0.1';
  const defaultCurrency = currencyOf(options.defaultCurrency ?? 'EUR').alpha;
  const streams = new Set<ServerResponse>();

  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const s of streams) s.write(frame);
  };
  const onUpdate = (v: OrderView) => broadcast('order', orderJson(v));
  const onUnknown = (c: AmountComparison, r: { orderReference: string; paymentId: string }) =>
    broadcast('unknown', { orderReference: r.orderReference, paymentId: r.paymentId, comparison: comparisonJson(c) });
  terminal.on('update', onUpdate);
  terminal.on('unknown', onUnknown);

  const config = {
    merchant: terminal.merchant,
    defaultCurrency,
    currencies: (options.currencies ? options.currencies.map((c) => currencyOf(c)) : CURRENCIES).map((c) => ({
      alpha: c.alpha,
      exponent: c.exponent,
      name: c.name,
    })),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const security = {
      'content-security-policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    for (const [k, v] of Object.entries(security)) res.setHeader(k, v);
    // The page has no login: it is the till's own screen. On a loopback address, refuse
    // requests whose Host is not loopback too (a DNS-rebinding page in the cashier's
    // browser cannot reach the API).
    if (LOOPBACK.has(host)) {
      const h = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (!LOOPBACK.has(h)) {
        return sendJson(res, 421, { error: { code: 'BAD_HOST', message: 'this terminal answers on its loopback address only' } });
      }
    }

    if (method === 'GET' && (path === '/' || path === '/index.html'))
      return sendText(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
    if (method === 'GET' && path === '/assets/app.css') return sendText(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
    if (method === 'GET' && path === '/assets/app.js') return sendText(res, 200, 'text/javascript; charset=utf-8', PAGE_JS);
    if (method === 'GET' && path === '/favicon.ico') {
      res.writeHead(204);
      return void res.end();
    }
    if (method === 'GET' && path === '/api/config') return sendJson(res, 200, config);
    if (method === 'GET' && path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ merchantId: terminal.merchant.id })}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (path === '/api/orders') {
      if (method === 'GET') return sendJson(res, 200, terminal.list().map(orderJson));
      if (method === 'POST') {
        const body = await readJson(req);
        const cur = currencyOf(str(body, 'currency') ?? defaultCurrency);
        const minor = parseDecimalAmount(str(body, 'amount', true).trim(), cur);
        if (minor === 0n)
          throw new ValidationError('amount must be greater than zero', { code: 'BAD_AMOUNT', device: 'merchant:http' });
        const ttlSeconds = body.ttlSeconds;
        if (ttlSeconds !== undefined && (typeof ttlSeconds !== 'number' || !Number.isInteger(ttlSeconds))) {
          throw new ValidationError('ttlSeconds must be an integer', { code: 'BAD_FIELD', device: 'merchant:http' });
        }
        const capture = str(body, 'capture');
        if (capture !== undefined && capture !== 'auto' && capture !== 'manual') {
          throw new ValidationError('capture must be "auto" or "manual"', { code: 'BAD_FIELD', device: 'merchant:http' });
        }
        const view = await terminal.createOrder({
          amount: { minor, currency: cur.alpha },
          reference: str(body, 'reference')?.trim() || undefined,
          ttlMs: ttlSeconds === undefined ? undefined : ttlSeconds * 1000,
          capture,
        });
        return sendJson(res, 201, orderJson(view));
      }
    }
    const m = /^\/api\/orders\/([^/]+)(?:\/([a-z.]+))?$/.exec(path);
    if (m) {
      const ref = decodeURIComponent(m[1]!);
      const action = m[2];
      if (method === 'GET' && !action) return sendJson(res, 200, orderJson(terminal.get(ref)));
      if (method === 'GET' && action === 'qr.svg')
        return sendText(res, 200, 'image/svg+xml', await qrSvg(terminal.get(ref).qrPayload));
      if (method === 'GET' && action === 'receipt') {
        const r = terminal.receipt(ref);
        return sendJson(res, 200, {
          receipt: JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))),
          text: renderReceiptText(r),
        });
      }
      if (method === 'GET' && action === 'receipt.txt')
        return sendText(res, 200, 'text/plain; charset=utf-8', renderReceiptText(terminal.receipt(ref)));
      if (method === 'POST') {
        const body = await readJson(req);
        if (action === 'paycode')
          return sendJson(res, 200, orderJson(await terminal.chargePayCode(ref, str(body, 'code', true))));
        if (action === 'cancel') return sendJson(res, 200, orderJson(await terminal.cancel(ref)));
        if (action === 'void')
          return sendJson(res, 200, orderJson(await terminal.voidPayment(ref, str(body, 'paymentId', true))));
        if (action === 'capture') return sendJson(res, 200, orderJson(await terminal.capture(ref, str(body, 'paymentId', true))));
        if (action === 'refund') {
          const paymentId = str(body, 'paymentId', true);
          const text = str(body, 'amount');
          const order = terminal.get(ref).order;
          const cur = findCurrency(order.due.currency) ?? currencyOf(order.due.currency);
          const amount = text === undefined ? undefined : { minor: parseDecimalAmount(text.trim(), cur), currency: cur.alpha };
          return sendJson(res, 200, orderJson(await terminal.refund(ref, paymentId, amount)));
        }
      }
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `${method} ${path} is not part of this API` } });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      if (err instanceof HandsetError) return sendJson(res, httpStatus(err), { error: { code: err.code, message: err.message } });
      sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    });
  });
  server.keepAliveTimeout = 5000;
  const heartbeat = setInterval(() => {
    for (const s of streams) s.write(': keep-alive\n\n');
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shownHost}:${port}/`,
    port,
    server,
    async close() {
      clearInterval(heartbeat);
      terminal.off('update', onUpdate);
      terminal.off('unknown', onUnknown);
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
