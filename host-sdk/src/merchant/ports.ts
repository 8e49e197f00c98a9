/**
 * The outside things the merchant terminal talks to, each as one narrow interface:
 * - {@link CloudClient}: the cloud service center (orders, pay-code charges, refunds,
 *   voids, and the live stream of payment results for this merchant);
 * - {@link MpmEncoder}: the EMV MPM encoder that turns an order into the dynamic
 *   merchant QR payload.
 *
 * The real implementations live in `cloud-client.ts` (over the cloud's HTTP API and the
 * MQTT results topic) and `mpm.ts` (over `protocol/emv`).
 */

import type { Amount, PaymentResult } from './amount-comparison';

/** Who the terminal is: printed on the QR (EMV tags 59/60/58/52) and on receipts. */
export interface MerchantProfile {
  /** Merchant id of the wire contract: `m-` + 1-62 of `[A-Za-z0-9_-]`. */
  readonly id: string;
  /** "Doing business as" name, at most 25 characters (EMV tag 59). */
  readonly name: string;
  /** At most 15 characters (EMV tag 60). */
  readonly city: string;
  /** ISO 3166-1 alpha-2 (EMV tag 58). */
  readonly country: string;
  /** ISO 18245 merchant category code, 4 digits (EMV tag 52). */
  readonly mcc: string;
  /** Shown on receipts and put in EMV 62-07 (terminal label), at most 25 characters. */
  readonly terminalLabel?: string;
}

/** Builds the dynamic merchant-presented QR payload for one order. */
export interface MpmEncoder {
  /**
   * Returns the EMV MPM payload text: point of initiation "12" (dynamic), the amount in
   * tag 54 in the currency's exponent, tag 53 the ISO 4217 numeric code, our merchant
   * account template (GUI + merchant id + order reference), 62-05 the order reference,
   * 63 the CRC. Throws a typed error for anything that cannot be encoded.
   */
  encodeDynamic(input: { merchant: MerchantProfile; amount: Amount; reference: string }): string;
}

/** An order as registered with the cloud (the cloud checks authorisations against it). */
export interface CloudOrderInput {
  readonly merchantId: string;
  readonly reference: string;
  readonly amount: Amount;
  /** Epoch ms after which the cloud must refuse payments for it. */
  readonly expiresAt: number;
  /**
   * `auto` (default): the payment is booked at once. `manual`: the payer's money is only
   * reserved (booked as a pending transfer) until the terminal captures or voids it.
   */
  readonly capture?: 'auto' | 'manual';
}

/** A consumer-presented charge: the terminal scanned the payer's one-time pay code. */
export interface PayCodeChargeInput {
  readonly merchantId: string;
  readonly reference: string;
  readonly amount: Amount;
  /** The numeric pay code as scanned or typed (digits only). */
  readonly payCode: string;
  /** Idempotency key of the charge; it becomes the payment id. */
  readonly paymentId: string;
}

export interface RefundInput {
  readonly merchantId: string;
  readonly paymentId: string;
  /** Idempotency key of the refund. */
  readonly refundId: string;
  readonly amount: Amount;
}

export interface CaptureInput {
  readonly merchantId: string;
  readonly paymentId: string;
}

export interface VoidInput {
  readonly merchantId: string;
  readonly paymentId: string;
  readonly refundId: string;
}

/** What the cloud did with a refund or a void. */
export interface RefundOutcome {
  readonly refundId: string;
  readonly paymentId: string;
  readonly status: 'refunded' | 'voided';
  readonly amount: Amount;
}

/**
 * The cloud service center as the terminal needs it.
 *
 * Contract:
 * - every call is idempotent on its id (`reference`, `paymentId`, `refundId`): a retry
 *   returns the first outcome;
 * - failures reject with a `HandsetError` (typed code from the cloud, or a transport error);
 * - `chargePayCode` resolves with the cloud's result for that charge (booked or declined);
 *   the same result may also arrive on the results stream (the terminal treats it as a
 *   redelivery);
 * - `subscribeResults` delivers every result for the merchant at least once, in any order,
 *   with `at` taken from the cloud's clock, until the returned function is called.
 */
export interface CloudClient {
  createOrder(order: CloudOrderInput): Promise<void>;
  /** Closes an unpaid order so the cloud refuses later payments. Rejects if it is already paid. */
  cancelOrder(merchantId: string, reference: string): Promise<void>;
  chargePayCode(charge: PayCodeChargeInput): Promise<PaymentResult>;
  refund(refund: RefundInput): Promise<RefundOutcome>;
  /** Releases the reservation of a manual-capture payment (before capture). Rejects once captured. */
  voidPayment(input: VoidInput): Promise<RefundOutcome>;
  /** Posts the full reservation of a manual-capture payment. Idempotent. */
  capture(input: CaptureInput): Promise<{ readonly paymentId: string; readonly amount: Amount }>;
  /** The results recorded for an order (for reconciliation after a reconnect). */
  paymentsFor(merchantId: string, reference: string): Promise<PaymentResult[]>;
  subscribeResults(
    merchantId: string,
    onResult: (result: PaymentResult) => void,
    onError?: (err: Error) => void,
  ): Promise<() => Promise<void>>;
}
