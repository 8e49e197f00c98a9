/**
 * The host tools' client of the cloud's HTTP API (docs/cloud.md "HTTP API"): what
 * `handset provision` and `handset fleet` need - health, registration, devices,
 * lock/unlock, the invariant report. Node's fetch; bearer token from the caller
 * (the CLI reads HANDSET_API_TOKEN).
 *
 * Every failure is a `CloudHttpError` whose code says what the operator can do:
 *
 * | code                | when                                                          |
 * | ------------------- | ------------------------------------------------------------- |
 * | CLOUD_URL_INVALID   | the base URL is not http(s)://host[:port][/prefix]            |
 * | CLOUD_UNREACHABLE   | no connection (refused, DNS, reset) or no answer in time      |
 * | CLOUD_UNAUTHORISED  | 401: missing or wrong token (set HANDSET_API_TOKEN)           |
 * | CLOUD_NOT_FOUND     | 404: unknown device (or path)                                 |
 * | CLOUD_BAD_REQUEST   | 400/409/413/422: the cloud refused the input (its code in `details`) |
 * | CLOUD_UNAVAILABLE   | 5xx: the cloud or its store failed; retry later               |
 * | CLOUD_BAD_ANSWER    | the answer is not the JSON the API documents                  |
 */
import { HandsetError, type HandsetErrorOptions } from '@handset/device-drivers/core';
import { decodeMessage, encodeMessageText, type RegistrationRequest, type RegistrationResponse } from '../protocol/index';

const NS = 'cloud-http';

export class CloudHttpError extends HandsetError {
  /** HTTP status when the cloud answered. */
  readonly status: number | undefined;
  constructor(code: string, message: string, options: HandsetErrorOptions & { status?: number } = {}) {
    super(code, message, { device: NS, ...options });
    this.status = options.status;
  }
}

/** A device as `GET /v1/devices[/:id]` shows it (never the seed). */
export interface FleetDevice {
  deviceId: string;
  account: string;
  publicKey: string;
  lastCounter: number;
  status: string;
  failures: number;
  lockReason: string | null;
  paycodeIndex: string;
  stepSeconds: number;
  registrationId: string;
  registeredAt: number;
  enrolments?: { slot: number; templateSha256: string }[];
}

/** `GET /v1/invariants`; totals are decimal strings of minor units on the wire. */
export interface FleetInvariantReport {
  ok: boolean;
  violations: string[];
  totals: Record<string, { posted: string; pending: string }>;
  accounts: number;
  booked: number;
}

export interface CloudHealth {
  ok: boolean;
  store?: string;
  /** The broker URL handsets connect to. */
  broker?: string;
}

export interface FleetClientOptions {
  /** `http://host:port` (a path prefix is kept). */
  baseUrl: string;
  /** Bearer token (HANDSET_API_TOKEN). */
  token?: string;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** Injected for tests; default the global fetch. */
  fetch?: typeof fetch;
}

export class FleetClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(o: FleetClientOptions) {
    this.baseUrl = normaliseCloudUrl(o.baseUrl);
    this.token = o.token || undefined;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.fetchFn = o.fetch ?? fetch;
  }

  health(): Promise<CloudHealth> {
    return this.json<CloudHealth>('GET', '/health');
  }

  /** POST /v1/registrations; the answer is validated as a `registration.response`. */
  async register(req: RegistrationRequest): Promise<RegistrationResponse> {
    const body = await this.request('POST', '/v1/registrations', encodeMessageText('registration.request', req));
    try {
      return decodeMessage('registration.response', body);
    } catch (err) {
      throw new CloudHttpError(
        'CLOUD_BAD_ANSWER',
        `the registration answer is not a registration.response: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async listDevices(account?: string): Promise<FleetDevice[]> {
    const q = account ? `?account=${encodeURIComponent(account)}` : '';
    const r = await this.json<{ devices?: FleetDevice[] }>('GET', `/v1/devices${q}`);
    if (!Array.isArray(r.devices)) throw new CloudHttpError('CLOUD_BAD_ANSWER', 'GET /v1/devices: no devices array');
    return r.devices;
  }

  getDevice(id: string): Promise<FleetDevice> {
    return this.json<FleetDevice>('GET', `/v1/devices/${encodeURIComponent(id)}`);
  }

  /** The device, or undefined when the cloud does not know it (404). */
  async findDevice(id: string): Promise<FleetDevice | undefined> {
    try {
      return await this.getDevice(id);
    } catch (err) {
      if (err instanceof CloudHttpError && err.code === 'CLOUD_NOT_FOUND') return undefined;
      throw err;
    }
  }

  lock(id: string, reason?: string): Promise<FleetDevice> {
    return this.json<FleetDevice>('POST', `/v1/devices/${encodeURIComponent(id)}/lock`, JSON.stringify(reason ? { reason } : {}));
  }

  unlock(id: string): Promise<FleetDevice> {
    return this.json<FleetDevice>('POST', `/v1/devices/${encodeURIComponent(id)}/unlock`, '{}');
  }

  invariants(): Promise<FleetInvariantReport> {
    return this.json<FleetInvariantReport>('GET', '/v1/invariants');
  }

  private async json<T>(method: string, path: string, body?: string): Promise<T> {
    const text = await this.request(method, path, body);
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v !== 'object' || v === null) throw new Error('not an object');
      return v as T;
    } catch (err) {
      throw new CloudHttpError('CLOUD_BAD_ANSWER', `${method} ${path}: the answer is not a JSON object`, { cause: err });
    }
  }

  /** One request; returns the body text of a 2xx answer, else throws the mapped CloudHttpError. */
  private async request(method: string, path: string, body?: string): Promise<string> {
    const url = this.baseUrl + path;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      const why =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : (cause?.code ?? (err as Error).message);
      throw new CloudHttpError('CLOUD_UNREACHABLE', `cannot reach the cloud at ${this.baseUrl} (${why})`, { cause: err });
    }
    if (res.ok) return text;
    throw httpError(method, path, res.status, text);
  }
}

/** The one mapping from an HTTP error answer to a typed error. */
export function httpError(method: string, path: string, status: number, text: string): CloudHttpError {
  let cloudCode: string | undefined;
  let message: string | undefined;
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    cloudCode = e?.code;
    message = e?.message;
  } catch {
    // not JSON: keep the status only
  }
  const what = `${method} ${path}: ${status}${cloudCode ? ` ${cloudCode}` : ''}${message ? ` (${message})` : ''}`;
  const opts = { status, details: { status, cloudCode } };
  if (status === 401)
    return new CloudHttpError('CLOUD_UNAUTHORISED', `${what}; set HANDSET_API_TOKEN to the cloud's API token`, opts);
  if (status === 404) return new CloudHttpError('CLOUD_NOT_FOUND', what, opts);
  if (status >= 500) return new CloudHttpError('CLOUD_UNAVAILABLE', what, opts);
  return new CloudHttpError('CLOUD_BAD_REQUEST', what, opts);
}

/** Checks and trims a cloud base URL (`http(s)://host[:port][/prefix]`, no trailing slash). */
export function normaliseCloudUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CloudHttpError('CLOUD_URL_INVALID', `cloud URL '${raw}' is not a URL (want http://host:port)`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username)
    throw new CloudHttpError(
      'CLOUD_URL_INVALID',
      `cloud URL '${raw}' must be http(s)://host[:port] without query or credentials`,
    );
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}
