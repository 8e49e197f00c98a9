/**
 * A simulated handset for the cloud's tests and benchmarks (and the merchant terminal's):
 * it holds an Ed25519 device key, a monotonic counter and, after registration, the
 * pay-code seed, and it makes exactly the messages a real handset sends - signed with the
 * protocol's canonical signing, so the cloud cannot tell it apart.
 */
import { createHash, createPrivateKey, sign } from 'node:crypto';
import {
  type AuthMethod,
  type Authorisation,
  type CryptoProvider,
  type Ed25519KeyPair,
  fromBase64Url,
  generatePaycode,
  newPaymentId,
  nodeCrypto,
  publicKeyToBase64Url,
  type RegistrationRequest,
  type RegistrationResponse,
  signAuthorisation,
  signRegistration,
} from '../protocol/index';

export interface SimHandsetOptions {
  deviceId: string;
  account: string;
  crypto?: CryptoProvider;
  /** Enrolled R307 slots (default [1]); digests are made from the name. */
  slots?: number[];
}

export class SimHandset {
  readonly deviceId: string;
  readonly account: string;
  readonly keys: Ed25519KeyPair;
  counter = 0;
  grant: RegistrationResponse['paycode'];
  private readonly crypto: CryptoProvider;
  private readonly slots: number[];

  constructor(o: SimHandsetOptions) {
    this.deviceId = o.deviceId;
    this.account = o.account;
    const base = o.crypto ?? nodeCrypto;
    this.keys = base.generateEd25519KeyPair();
    // a fleet of simulated handsets would thrash the provider's small private-key cache:
    // each handset keeps its own imported key, as a real handset does
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(this.keys.privateKey)]);
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    this.crypto = o.crypto
      ? base
      : {
          ...base,
          ed25519Sign: (priv, msg) =>
            priv === this.keys.privateKey ? new Uint8Array(sign(null, msg, key)) : base.ed25519Sign(priv, msg),
        };
    this.slots = o.slots ?? [1];
  }

  newPaymentId(nowMs: number): string {
    return newPaymentId((n) => this.crypto.randomBytes(n), nowMs);
  }

  registrationRequest(nowMs: number, requestId = this.newPaymentId(nowMs)): RegistrationRequest {
    return signRegistration(this.crypto, this.keys.privateKey, {
      requestId,
      deviceId: this.deviceId,
      account: this.account,
      publicKey: publicKeyToBase64Url(this.keys.publicKey),
      slots: this.slots.map((slot) => ({
        slot,
        templateSha256: createHash('sha256').update(`${this.deviceId}/template/${slot}`).digest('hex'),
      })),
      ts: nowMs,
    });
  }

  /** Keeps the pay-code grant from a registration response. */
  accept(res: RegistrationResponse): void {
    if (res.status === 'registered') this.grant = res.paycode;
  }

  /** A signed authorisation with the next counter value. */
  authorise(o: {
    merchantId: string;
    orderRef: string;
    amount: bigint;
    currency: string;
    nowMs: number;
    method?: AuthMethod;
    paymentId?: string;
    counter?: number;
  }): Authorisation {
    this.counter = o.counter ?? this.counter + 1;
    return signAuthorisation(this.crypto, this.keys.privateKey, {
      paymentId: o.paymentId ?? this.newPaymentId(o.nowMs),
      deviceId: this.deviceId,
      account: this.account,
      merchantId: o.merchantId,
      orderRef: o.orderRef,
      amount: o.amount,
      currency: o.currency,
      method: o.method ?? 'fingerprint',
      counter: this.counter,
      ts: o.nowMs,
    });
  }

  /** A one-time pay code from the seed of the registration grant. */
  paycode(nowMs: number, step?: number): string {
    if (!this.grant) throw new Error(`${this.deviceId} is not registered`);
    const seed = fromBase64Url(this.grant.seed);
    if (!(seed instanceof Uint8Array)) throw new Error('bad seed');
    return generatePaycode(this.crypto, { seed, index: this.grant.index, nowMs, step, stepSeconds: this.grant.stepSeconds }).code;
  }
}
