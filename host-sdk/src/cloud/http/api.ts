import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HandsetError } from '@handset/device-drivers/core';
import { z } from 'zod';
import {
  accountSchema,
  currencySchema,
  merchantIdSchema,
  minorUnitsSchema,
  orderRefSchema,
  timestampSchema,
} from '../../protocol/index';
import type { CloudCenter, Outcome } from '../center';
import { BadRequestError, httpStatusOf, NotFoundError, PayloadTooLargeError } from '../errors';
import { ledgerIds } from '../ids';
import { type CloudLogger, silentLogger } from '../log';
import type { DeviceRecord } from '../registry/index';

/**
 * The HTTP API for merchants and operators (node:http, JSON, zod-validated). Amounts
 * are decimal strings of minor units in both directions. Errors are
 * `{"error": {"code", "message", "details"}}` with the status of the typed error
 * (400 bad input, 404 unknown, 409 idempotency/state conflict, 413 too large, 422 refund
 * refused, 503 store down). Full table with examples: docs/cloud.md.
 */
export interface HttpApiOptions {
  center: CloudCenter;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest accepted body. Default 64 KiB. */
  maxBodyBytes?: number;
  logger?: CloudLogger;
  /** Extra health facts (store kind, broker URL). */
  health?: () => Record<string, unknown>;
  /**
   * Called with the outcomes of payments decided over HTTP (pay-code charges,
   * authorisations), so they reach the handset's and merchant's result topics exactly as
   * when the request came over MQTT. `startCloud` wires it to `CloudIngest.publishAll`.
   */
  publishResults?: (outcomes: readonly Outcome[]) => void;
}

type Params = Record<string, string>;
interface Ctx {
  params: Params;
  query: URLSearchParams;
  body: () => Promise<unknown>;
  headers: IncomingMessage['headers'];
}
type Handler = (ctx: Ctx) => Promise<{ status?: number; body: unknown }>;

const amount = minorUnitsSchema({ positive: true });
const userBody = z.strictObject({ account: accountSchema, name: z.string().max(200).optional(), currency: currencySchema });
const merchantBody = z.strictObject({
  merchantId: merchantIdSchema,
  name: z.string().max(200).optional(),
  currency: currencySchema,
});
const depositBody = z.strictObject({ amount, key: z.string().min(1).max(128) });
const orderBody = z.strictObject({
  orderRef: orderRefSchema,
  amount,
  currency: currencySchema,
  expiresAt: timestampSchema.optional(),
  capture: z.enum(['auto', 'manual']).optional(),
});
const captureBody = z.strictObject({ amount: amount.optional() });
const refundBody = z.strictObject({ amount, key: z.string().min(1).max(128).optional() });
const lockBody = z.strictObject({ reason: z.string().max(64).optional() });

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new BadRequestError(`${issue.path.join('.') || '$'}: ${issue.message}`, {
    issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

const publicDevice = ({ seedSealed: _s, ...d }: DeviceRecord) => d;

function outcomeBody(o: Outcome | undefined): { status: number; body: unknown } {
  if (!o) throw new BadRequestError('no outcome');
  if (o.kind === 'rejected') throw new HandsetError(o.code, o.message, { device: 'cloud' });
  return { status: 200, body: { result: o.result, replayed: o.replayed } };
}

export class HttpApi {
  readonly server: Server;
  private readonly routes: Array<{ method: string; pattern: RegExp; keys: string[]; handler: Handler }> = [];
  private readonly log: CloudLogger;
  private readonly maxBody: number;

  constructor(private readonly o: HttpApiOptions) {
    this.log = o.logger ?? silentLogger;
    this.maxBody = o.maxBodyBytes ?? 64 * 1024;
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.on('connection', (s) => s.setNoDelay(true));
    this.define();
  }

  /** Hands the outcomes to `publishResults` (a publish failure never fails the HTTP answer) and returns the first. */
  private published(outcomes: Outcome[]): Outcome | undefined {
    try {
      this.o.publishResults?.(outcomes);
    } catch (err) {
      this.log.warn('http.publish_failed', { error: String(err) });
    }
    return outcomes[0];
  }

  private route(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const pattern = new RegExp(
      `^${path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => {
        keys.push(k);
        return '([^/]+)';
      })}$`,
    );
    this.routes.push({ method, pattern, keys, handler });
  }

  private define(): void {
    const c = this.o.center;
    const r = c.registry.read;
    const balanceOf = async (id: string) => {
      const [a] = await c.ledger.lookupAccounts([id]);
      return (
        a && {
          id: a.id,
          currency: a.currency,
          posted: a.creditsPosted - a.debitsPosted,
          pending: a.creditsPending - a.debitsPending,
          available: a.creditsPosted - a.debitsPosted - a.debitsPending,
        }
      );
    };
    this.route('GET', '/health', async () => ({ body: { ok: true, ...this.o.health?.() } }));
    this.route('POST', '/v1/users', async (x) => ({ status: 201, body: await c.createUser(parse(userBody, await x.body())) }));
    this.route('GET', '/v1/users/:account', async (x) => {
      const u = await r.getUser(x.params.account!);
      if (!u) throw new NotFoundError('account', x.params.account!);
      return { body: { ...u, balance: await balanceOf(ledgerIds.user(u.account)) } };
    });
    this.route('POST', '/v1/users/:account/deposits', async (x) => {
      const b = parse(depositBody, await x.body());
      return { status: 201, body: await c.deposit(x.params.account!, b.amount, b.key) };
    });
    this.route('POST', '/v1/merchants', async (x) => ({
      status: 201,
      body: await c.createMerchant(parse(merchantBody, await x.body())),
    }));
    this.route('GET', '/v1/merchants/:id', async (x) => {
      const m = await r.getMerchant(x.params.id!);
      if (!m) throw new NotFoundError('merchant', x.params.id!);
      return { body: { ...m, balance: await balanceOf(ledgerIds.merchant(m.merchantId)) } };
    });
    this.route('POST', '/v1/merchants/:id/orders', async (x) => {
      const b = parse(orderBody, await x.body());
      return { status: 201, body: await c.createOrder({ merchantId: x.params.id!, ...b }) };
    });
    this.route('GET', '/v1/merchants/:id/orders', async (x) => ({
      body: { orders: await r.listOrders(x.params.id!, Number(x.query.get('limit') ?? 100)) },
    }));
    this.route('GET', '/v1/merchants/:id/orders/:ref', async (x) => {
      const o = await r.getOrder(x.params.id!, x.params.ref!);
      if (!o) throw new NotFoundError('order', x.params.ref!);
      const payment = o.paymentId ? ((await r.getPayment(o.paymentId)) ?? null) : null;
      return { body: { ...o, payment: payment && c.resultOf(payment), settlement: payment?.settlement ?? null } };
    });
    this.route('POST', '/v1/merchants/:id/charges', async (x) => {
      const body = (await x.body()) as Record<string, unknown>;
      const payload = { v: 1, type: 'merchant.charge', merchantId: x.params.id, ts: c.clock.now(), ...body };
      return outcomeBody(this.published(await c.charge([{ payload: JSON.stringify(payload), topicMerchantId: x.params.id }])));
    });
    this.route('POST', '/v1/authorisations', async (x) =>
      outcomeBody(this.published(await c.authorise([{ payload: JSON.stringify(await x.body()) }]))),
    );
    this.route('POST', '/v1/registrations', async (x) => ({ body: await c.register(JSON.stringify(await x.body())) }));
    this.route('GET', '/v1/payments', async (x) => {
      const status = x.query.get('status');
      const list = await r.listPayments({
        merchantId: x.query.get('merchantId') ?? undefined,
        deviceId: x.query.get('deviceId') ?? undefined,
        status: status === 'approved' || status === 'declined' || status === 'processing' ? status : undefined,
        limit: Math.min(1000, Number(x.query.get('limit') ?? 100) || 100),
      });
      return { body: { payments: list.map(({ requestHash: _h, ...p }) => p) } };
    });
    this.route('GET', '/v1/payments/:id', async (x) => {
      const p = await r.getPayment(x.params.id!);
      if (!p) throw new NotFoundError('payment', x.params.id!);
      const { requestHash: _h, ...rest } = p;
      return {
        body: { ...rest, result: p.status === 'processing' ? null : c.resultOf(p), refunds: await r.listRefunds(p.paymentId) },
      };
    });
    this.route('POST', '/v1/payments/:id/capture', async (x) => ({
      body: await c.capture(x.params.id!, parse(captureBody, await x.body()).amount),
    }));
    this.route('POST', '/v1/payments/:id/void', async (x) => ({ body: await c.voidPayment(x.params.id!) }));
    this.route('POST', '/v1/payments/:id/refunds', async (x) => {
      const b = parse(refundBody, await x.body());
      const key = b.key ?? (x.headers['idempotency-key'] as string | undefined);
      if (!key) throw new BadRequestError('a refund needs an idempotency key (body "key" or Idempotency-Key header)');
      return { status: 201, body: await c.refund(x.params.id!, b.amount, key) };
    });
    this.route('GET', '/v1/accounts/:id', async (x) => {
      const id = decodeURIComponent(x.params.id!);
      const b = await balanceOf(id);
      if (!b) throw new NotFoundError('ledger account', id);
      return { body: b };
    });
    this.route('GET', '/v1/devices', async (x) => ({
      body: { devices: (await r.listDevices({ account: x.query.get('account') ?? undefined })).map(publicDevice) },
    }));
    this.route('GET', '/v1/devices/:id', async (x) => {
      const d = await r.getDevice(x.params.id!, false, true);
      if (!d) throw new NotFoundError('device', x.params.id!);
      return { body: publicDevice(d) };
    });
    this.route('POST', '/v1/devices/:id/lock', async (x) => ({
      body: publicDevice(await c.lockDevice(x.params.id!, parse(lockBody, await x.body()).reason ?? 'operator')),
    }));
    this.route('POST', '/v1/devices/:id/unlock', async (x) => ({ body: publicDevice(await c.unlockDevice(x.params.id!)) }));
    this.route('GET', '/v1/invariants', async () => ({ body: await c.checkInvariants() }));
  }

  private readBody(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (d: Buffer) => {
        size += d.length;
        if (size > this.maxBody) {
          chunks.length = 0;
          reject(new PayloadTooLargeError(this.maxBody));
          return;
        }
        chunks.push(d);
      });
      req.on('end', () => {
        if (size > this.maxBody) return;
        if (!size) return resolve(undefined);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new BadRequestError('body is not JSON'));
        }
      });
      req.on('error', reject);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      const text = toJson(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'access-control-allow-origin': '*',
        'access-control-allow-headers': 'content-type, authorization, idempotency-key',
        'access-control-allow-methods': 'GET, POST, OPTIONS',
      });
      res.end(text);
    };
    try {
      if (req.method === 'OPTIONS') return send(204, null);
      if (this.o.token && req.headers.authorization !== `Bearer ${this.o.token}`) {
        return send(401, { error: { code: 'UNAUTHORISED', message: 'missing or wrong bearer token' } });
      }
      const url = new URL(req.url ?? '/', 'http://x');
      for (const route of this.routes) {
        const m = route.pattern.exec(url.pathname);
        if (!m) continue;
        if (route.method !== req.method) continue;
        const params: Params = {};
        route.keys.forEach((k, i) => {
          params[k] = decodeURIComponent(m[i + 1] ?? '');
        });
        let body: Promise<unknown> | undefined;
        const out = await route.handler({
          params,
          query: url.searchParams,
          headers: req.headers,
          body: () => (body ??= this.readBody(req)),
        });
        return send(out.status ?? 200, out.body);
      }
      const known = this.routes.some((r) => r.pattern.test(url.pathname));
      send(known ? 405 : 404, {
        error: { code: known ? 'METHOD_NOT_ALLOWED' : 'NO_ROUTE', message: `${req.method} ${url.pathname}` },
      });
    } catch (err) {
      const status = httpStatusOf(err);
      const e = err instanceof HandsetError ? err : undefined;
      if (status >= 500) this.log.error('http.error', { url: req.url, error: err instanceof Error ? err.message : String(err) });
      send(status, { error: { code: e?.code ?? 'INTERNAL', message: e?.message ?? 'internal error', details: e?.details } });
    }
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        resolve(`http://${host}:${typeof a === 'object' && a ? a.port : port}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
