/**
 * {@link CloudClient} over the real cloud service center: its HTTP API (orders, pay-code
 * charges, refunds, voids, order lookups; see docs/cloud.md) and its MQTT results topic
 * `merchant/v1/{merchantId}/results` (see `mqtt-results.ts`).
 *
 * Every HTTP error body `{error: {code, message}}` becomes a {@link CloudRequestError}
 * with the cloud's code and the HTTP status; a connection failure becomes a
 * `TransportError` (code `CLOUD_UNREACHABLE`). Requests time out after `timeoutMs`.
 */

import { HandsetError, TransportError } from '@handset/device-drivers/core';
import { validateMessage } from '../protocol/messages';
import type { Amount, PaymentResult } from './amount-comparison';
import { fromWireResult, type MqttResultsOptions, subscribeMqttResults } from './mqtt-results';
import type {
  CaptureInput,
  CloudClient,
  CloudOrderInput,
  PayCodeChargeInput,
  RefundInput,
  RefundOutcome,
  VoidInput,
} from './ports';

/** The cloud answered with an error. `code` is the cloud's (e.g. NOT_FOUND, REFUND_EXCEEDS_CAPTURED). */
export class CloudRequestError extends HandsetError {
  readonly status: number;
  constructor(code: string, message: string, status: number, details?: Record<string, unknown>) {
    super(code, message, { device: 'cloud', details: { status, ...details } });
    this.status = status;
  }
}

export interface HttpCloudClientOptions {
  /** Base URL of the cloud HTTP API, e.g. `http://127.0.0.1:8080`. */
  httpUrl: string;
  /** MQTT broker for the live results; without it `subscribeResults` fails with a typed error. */
  brokerUrl?: string;
  /** Topic root prefix (tests on a shared broker). */
  root?: string;
  /** Bearer token of the cloud API, if it wants one. */
  apiToken?: string;
  mqttPassword?: string;
  /** Results subscription options (session handling, timeouts). */
  mqtt?: Partial<Omit<MqttResultsOptions, 'url' | 'merchantId' | 'root'>>;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Order capture mode sent with every order: `auto` (default, booked at once) or `manual` (reserved until captured/voided). */
  capture?: 'auto' | 'manual';
}

interface CloudOrderJson {
  merchantId: string;
  orderRef: string;
  status: 'open' | 'paid' | 'cancelled';
  paymentId: string | null;
  payment: unknown;
  settlement: string | null;
}

interface RefundJson {
  refundId: string;
  paymentId: string;
  amount: string;
  status: 'processing' | 'succeeded' | 'failed';
  reason: string | null;
}

interface PaymentJson {
  paymentId: string;
  merchantId: string;
  currency: string;
  amount: string;
  settlement: string | null;
  status: string;
}

const bigintJson = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

export class HttpCloudClient implements CloudClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: HttpCloudClientOptions) {
    this.base = o.httpUrl.replace(/\/+$/, '');
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** One JSON request. Resolves with the parsed body; rejects with CloudRequestError / TransportError. */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.o.apiToken) headers.authorization = `Bearer ${this.o.apiToken}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : bigintJson(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new TransportError(`cloud ${method} ${path} failed: ${err instanceof Error ? err.message : String(err)}`, {
        code: 'CLOUD_UNREACHABLE',
        device: 'cloud',
        cause: err,
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw new CloudRequestError('CLOUD_BAD_RESPONSE', `cloud ${method} ${path}: not JSON (HTTP ${res.status})`, res.status);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | null)?.error;
      throw new CloudRequestError(
        e?.code ?? `HTTP_${res.status}`,
        e?.message ?? `cloud ${method} ${path}: HTTP ${res.status}`,
        res.status,
        e?.details,
      );
    }
    return json as T;
  }

  async ensureMerchant(m: { merchantId: string; name: string; currency: string }): Promise<void> {
    await this.request('POST', '/v1/merchants', m);
  }

  /** The merchant's settlement currency and name as the cloud knows them. */
  async merchantInfo(merchantId: string): Promise<{ merchantId: string; name: string; currency: string }> {
    return this.request('GET', `/v1/merchants/${encodeURIComponent(merchantId)}`);
  }

  async createOrder(order: CloudOrderInput): Promise<void> {
    await this.request('POST', `/v1/merchants/${encodeURIComponent(order.merchantId)}/orders`, {
      orderRef: order.reference,
      amount: order.amount.minor.toString(),
      currency: order.amount.currency,
      expiresAt: order.expiresAt,
      capture: order.capture ?? this.o.capture ?? 'auto',
    });
  }

  /**
   * The cloud API has no order-cancel call yet: this checks that no payment claimed the
   * order (rejecting with ORDER_ALREADY_PAID if one did). A payment the cloud still
   * accepts before `expiresAt` reaches the terminal as a LATE_RESULT: flagged, refundable.
   */
  async cancelOrder(merchantId: string, reference: string): Promise<void> {
    const o = await this.request<CloudOrderJson>(
      'GET',
      `/v1/merchants/${encodeURIComponent(merchantId)}/orders/${encodeURIComponent(reference)}`,
    );
    if (o.paymentId)
      throw new CloudRequestError('ORDER_ALREADY_PAID', `order ${reference} was claimed by payment ${o.paymentId}`, 409);
  }

  async chargePayCode(charge: PayCodeChargeInput): Promise<PaymentResult> {
    const out = await this.request<{ result: unknown }>(
      'POST',
      `/v1/merchants/${encodeURIComponent(charge.merchantId)}/charges`,
      {
        paymentId: charge.paymentId,
        orderRef: charge.reference,
        code: charge.payCode,
        amount: charge.amount.minor.toString(),
        currency: charge.amount.currency,
      },
    );
    return fromWireResult(validateMessage('result', out.result));
  }

  async refund(refund: RefundInput): Promise<RefundOutcome> {
    const r = await this.request<RefundJson>('POST', `/v1/payments/${encodeURIComponent(refund.paymentId)}/refunds`, {
      amount: refund.amount.minor.toString(),
      key: refund.refundId,
    });
    if (r.status !== 'succeeded') {
      throw new CloudRequestError('REFUND_FAILED', `refund ${refund.refundId} ${r.status}: ${r.reason ?? 'no reason'}`, 422, {
        refundId: r.refundId,
      });
    }
    return {
      refundId: r.refundId,
      paymentId: r.paymentId,
      status: 'refunded',
      amount: { minor: BigInt(r.amount), currency: refund.amount.currency },
    };
  }

  async voidPayment(input: VoidInput): Promise<RefundOutcome> {
    const p = await this.request<PaymentJson>('POST', `/v1/payments/${encodeURIComponent(input.paymentId)}/void`, {});
    if (p.settlement !== 'voided') {
      throw new CloudRequestError('VOID_FAILED', `payment ${input.paymentId} is ${p.settlement ?? p.status} after the void`, 409);
    }
    const amount: Amount = { minor: BigInt(p.amount), currency: p.currency };
    return { refundId: input.refundId, paymentId: input.paymentId, status: 'voided', amount };
  }

  async capture(input: CaptureInput): Promise<{ paymentId: string; amount: Amount }> {
    const p = await this.request<PaymentJson & { captured: string }>(
      'POST',
      `/v1/payments/${encodeURIComponent(input.paymentId)}/capture`,
      {},
    );
    if (p.settlement !== 'captured') {
      throw new CloudRequestError(
        'CAPTURE_FAILED',
        `payment ${input.paymentId} is ${p.settlement ?? p.status} after the capture`,
        409,
      );
    }
    return { paymentId: input.paymentId, amount: { minor: BigInt(p.captured), currency: p.currency } };
  }

  async paymentsFor(merchantId: string, reference: string): Promise<PaymentResult[]> {
    const o = await this.request<CloudOrderJson>(
      'GET',
      `/v1/merchants/${encodeURIComponent(merchantId)}/orders/${encodeURIComponent(reference)}`,
    );
    return o.payment ? [fromWireResult(validateMessage('result', o.payment))] : [];
  }

  async subscribeResults(
    merchantId: string,
    onResult: (r: PaymentResult) => void,
    onError?: (err: Error) => void,
  ): Promise<() => Promise<void>> {
    if (!this.o.brokerUrl) {
      throw new TransportError('no MQTT broker URL: live results need the cloud broker', {
        code: 'NO_BROKER',
        device: 'merchant:mqtt',
      });
    }
    return subscribeMqttResults(
      { ...this.o.mqtt, url: this.o.brokerUrl, merchantId, root: this.o.root, password: this.o.mqttPassword },
      onResult,
      onError,
    );
  }
}
