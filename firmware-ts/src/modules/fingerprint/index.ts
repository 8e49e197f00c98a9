/**
 * The fingerprint identification module: enrolment for registration, and the match that
 * unlocks the device key for one signature (WebAuthn model, reference §4.2).
 *
 * - `enrol()`: R307 guided enrolment (two captures, RegModel, Store), then LoadChar +
 *   UpChar of the STORED template and its SHA-256. Only the digest leaves this module;
 *   the template bytes are dropped here and never logged, sent or written.
 * - `register()`: the signed registration request (device id, public key, slot ids,
 *   digests) through the uplink; the pay-code seed of the answer goes into the keystore
 *   sealed.
 * - `verify()`: up to `maxAttempts` presses (DESIGN §4: 3). Each press is GenImg ->
 *   Img2Tz -> HighSpeedSearch over the enrolled slots; a match yields a `SigningGrant`.
 *   Between presses the holder is asked to lift and press again. After the last miss, or
 *   when the sensor is unavailable, the answer says the PIN step-up is needed; the chain
 *   decides what to do with that.
 */
import { EventEmitter } from 'node:events';
import { CanceledError, type Clock, DeviceTimeoutError, HandsetError, systemClock } from '@handset/device-drivers/core';
import { type EnrollPrompt, ImageQualityError, type R307 } from '@handset/device-drivers/r307';
import { newPaymentId, type RegistrationResponse } from '@handset/host-sdk/protocol';
import type { Keystore, SigningGrant } from '../../keystore/index';
import type { Uplink } from '../../uplink/index';

const NS = 'fingerprint';

export class FingerprintError extends HandsetError {
  constructor(code: string, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(code, message, { device: NS, ...opts });
  }
}

export interface Enrolment {
  slot: number;
  /** SHA-256 (hex) of the 512-byte template as stored in the sensor. */
  templateSha256: string;
}

export type VerifyOutcome =
  | { matched: true; slot: number; score: number; attempts: number; grant: SigningGrant }
  | {
      matched: false;
      attempts: number;
      /** `no_match`: every press missed; `sensor_unavailable`: the sensor failed; `timeout`: nobody pressed. */
      reason: 'no_match' | 'sensor_unavailable' | 'timeout';
      /** DESIGN §4: after 3 misses or without a sensor the PIN step-up is what remains. */
      pinStepUp: boolean;
      error?: HandsetError;
    };

export interface FingerprintEvents {
  /** The holder should place a finger (attempt n of max). */
  prompt: [info: { attempt: number; maxAttempts: number }];
  /** One press was read. */
  press: [info: { attempt: number; matched: boolean; slot?: number; score?: number; quality?: string }];
  /** The holder should lift the finger before the next press. */
  lift: [info: { attempt: number }];
  /** Enrolment guidance from the sensor flow. */
  enrol: [prompt: EnrollPrompt];
}

export interface FingerprintOptions {
  r307: R307;
  keystore: Keystore;
  clock?: Clock;
  /** Presses per verification. Default 3. */
  maxAttempts?: number;
  /** Wait for each press (ms). Default 30,000. */
  fingerTimeoutMs?: number;
}

export class FingerprintModule extends EventEmitter<FingerprintEvents> {
  readonly r307: R307;
  readonly maxAttempts: number;
  private readonly keystore: Keystore;
  private readonly clock: Clock;
  private readonly fingerTimeoutMs: number;

  constructor(o: FingerprintOptions) {
    super();
    this.r307 = o.r307;
    this.keystore = o.keystore;
    this.clock = o.clock ?? systemClock;
    this.maxAttempts = o.maxAttempts ?? 3;
    this.fingerTimeoutMs = o.fingerTimeoutMs ?? 30_000;
  }

  /** Enrols one finger at `slot` (default: first free) and returns its template digest. */
  async enrol(options: { slot?: number; signal?: AbortSignal; allowDuplicate?: boolean } = {}): Promise<Enrolment> {
    const { slot } = await this.r307.enroll(options.slot, {
      signal: options.signal,
      timeoutMs: this.fingerTimeoutMs,
      allowDuplicate: options.allowDuplicate,
      onPrompt: (p) => {
        this.emit('enrol', p);
        if (p.step === 'place-finger' || p.step === 'place-again')
          this.emit('prompt', { attempt: p.capture ?? 1, maxAttempts: 2 });
        if (p.step === 'lift-finger' || p.step === 'retry') this.emit('lift', { attempt: p.capture ?? 1 });
      },
    });
    return { slot, templateSha256: await this.digest(slot, options.signal) };
  }

  /** SHA-256 of the template stored at `slot` (LoadChar + UpChar; the bytes stay here). */
  async digest(slot: number, signal?: AbortSignal): Promise<string> {
    await this.r307.loadModel(slot, 1, { signal });
    const template = await this.r307.uploadTemplate(1, { signal });
    const hex = Buffer.from(this.keystore.crypto.sha256(template)).toString('hex');
    template.fill(0);
    return hex;
  }

  /**
   * Registers the handset with the cloud: signed request with the public key and the
   * enrolment digests, through the uplink; stores the pay-code grant (seed sealed).
   */
  async register(o: {
    uplink: Uplink;
    account: string;
    enrolments: Enrolment[];
    timeoutMs?: number;
  }): Promise<RegistrationResponse> {
    if (o.enrolments.length === 0) throw new FingerprintError('NO_ENROLMENT', 'enrol at least one finger before registering');
    this.keystore.setEnrolments(o.enrolments);
    const now = this.clock.now();
    const req = this.keystore.registrationRequest({
      requestId: newPaymentId((n) => this.keystore.crypto.randomBytes(n), now),
      account: o.account,
      slots: o.enrolments.map((e) => ({ slot: e.slot, templateSha256: e.templateSha256 })),
      ts: now,
    });
    const res = await o.uplink.register(req, o.timeoutMs ?? 15_000);
    if (!res) throw new FingerprintError('REGISTRATION_TIMEOUT', 'the cloud did not answer the registration');
    if (res.status !== 'registered')
      throw new FingerprintError('REGISTRATION_REJECTED', `registration rejected: ${res.reason ?? 'no reason'}`, {
        details: { reason: res.reason },
      });
    this.keystore.acceptRegistration(res, this.clock.now());
    return res;
  }

  /**
   * Up to `maxAttempts` presses against the enrolled slots. A match unlocks the device
   * key for one signature (the returned grant). Never throws for a miss or a dead sensor;
   * throws `CanceledError` when `signal` aborts.
   */
  async verify(o: { signal?: AbortSignal } = {}): Promise<VerifyOutcome> {
    const enrolled = new Set(this.keystore.enrolments.map((e) => e.slot));
    let attempt = 0;
    while (attempt < this.maxAttempts) {
      attempt++;
      this.emit('prompt', { attempt, maxAttempts: this.maxAttempts });
      let hit: { slot: number; score: number } | undefined;
      try {
        hit = await this.r307.identify({ signal: o.signal, timeoutMs: this.fingerTimeoutMs });
      } catch (err) {
        if (err instanceof CanceledError || o.signal?.aborted) throw err;
        if (err instanceof DeviceTimeoutError && /no finger/.test(err.message))
          return { matched: false, attempts: attempt - 1, reason: 'timeout', pinStepUp: false, error: err };
        if (err instanceof ImageQualityError) {
          this.emit('press', { attempt, matched: false, quality: err.message });
          await this.liftBetween(attempt, o.signal);
          continue;
        }
        const error = err instanceof HandsetError ? err : new FingerprintError('SENSOR_FAILED', String(err), { cause: err });
        return { matched: false, attempts: attempt, reason: 'sensor_unavailable', pinStepUp: true, error };
      }
      const matched = hit !== undefined && enrolled.has(hit.slot);
      this.emit('press', { attempt, matched, slot: hit?.slot, score: hit?.score });
      if (matched && hit)
        return { matched: true, slot: hit.slot, score: hit.score, attempts: attempt, grant: this.keystore.unlock(hit) };
      if (attempt < this.maxAttempts) await this.liftBetween(attempt, o.signal);
    }
    return { matched: false, attempts: attempt, reason: 'no_match', pinStepUp: true };
  }

  private async liftBetween(attempt: number, signal?: AbortSignal): Promise<void> {
    this.emit('lift', { attempt });
    try {
      await this.r307.waitForLift({ signal, timeoutMs: this.fingerTimeoutMs });
    } catch (err) {
      if (err instanceof CanceledError || signal?.aborted) throw err;
      // a finger left resting is read again as the next press
    }
  }
}
