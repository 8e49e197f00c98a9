/**
 * The scenario suite's MQTT deployment: N CloudCenter workers, each with its own store
 * connections and its own CloudIngest on the real Mosquitto (MQTT 5 `$share/cloud/...`),
 * under a topic root unique to one World. The suite's inputs are published the way
 * handsets and merchant terminals publish them, and each input's outcome is read back
 * from the broker (the result topic) or - for input the cloud rejects without an answer -
 * from the worker's `mqtt.rejected` log entry (topic + payload digest).
 */
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { AuthInput, ChargeInput, CloudCenter } from '../../src/cloud/center';
import type { CloudLogger } from '../../src/cloud/log';
import { CloudIngest, payloadDigest } from '../../src/cloud/mqtt/ingest';
import { connectMqtt } from '../../src/mqtt/index';
import {
  type Authorisation,
  createTopics,
  decodeMessage,
  encodeMessageText,
  isDeviceId,
  isMerchantId,
  type MerchantCharge,
  type PaymentResult,
  type Topics,
} from '../../src/protocol/index';

export const MOSQUITTO_URL = process.env.HANDSET_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

/**
 * What the World answers for one input: the center's `Outcome`, except that `to` and
 * `replayed` exist only in-process (direct path); over MQTT they are undefined.
 */
export type SeenOutcome =
  | {
      kind: 'result';
      result: PaymentResult;
      /** Direct path only. */
      to?: { device: boolean; merchant: boolean };
      /** Direct path only. */
      replayed?: boolean;
    }
  | { kind: 'rejected'; code: string; message: string };

export interface WorkerStats {
  clientId: string;
  /** Messages the broker delivered to this worker. */
  received: number;
  /** Result outcomes this worker decided and published. */
  results: number;
  /** Inputs this worker rejected without a result. */
  rejected: number;
  batches: number;
}

interface Waiter {
  settle: (o: SeenOutcome) => void;
}

/** One message to publish and the keys that order it after earlier messages. */
interface Send {
  index: number;
  topic: string;
  bytes: Buffer;
  /** Result stream key (`d:`/`m:` + payment id) when the payload names a payment id. */
  resultKey?: string;
  /** Device / order / payment / merchant keys: inputs sharing one are sent in order. */
  keys: string[];
}

function lenient(payload: unknown): Record<string, unknown> {
  if (typeof payload === 'object' && payload !== null && !(payload instanceof Uint8Array))
    return payload as Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(Buffer.from(payload as Uint8Array | string).toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** `kind:a/b` for each part list whose values are all strings. */
function keys(...parts: Array<[string, ...unknown[]]>): string[] {
  return parts.filter(([, ...v]) => v.every((x) => typeof x === 'string')).map(([k, ...v]) => `${k}:${v.join('/')}`);
}

/** Deployment of `centers` as MQTT workers; `log(i)` is worker i's logger (the deployment listens to it). */
export class MosquittoDeployment {
  readonly root = `t${randomBytes(5).toString('hex')}/`;
  readonly topics: Topics;
  readonly ingests: CloudIngest[] = [];
  /** Messages published so far. */
  sent = 0;
  private client: MqttClient | undefined;
  private readonly run = randomBytes(3).toString('hex');
  private readonly results = new Map<string, SeenOutcome[]>();
  private readonly resultWaiters = new Map<string, Waiter[]>();
  private readonly rejections = new Map<string, SeenOutcome[]>();
  private readonly rejectionWaiters = new Map<string, Waiter[]>();
  private readonly failures = new Set<(err: Error) => void>();

  constructor(
    readonly centers: readonly CloudCenter[],
    readonly url = MOSQUITTO_URL,
  ) {
    this.topics = createTopics(this.root);
  }

  /** A logger for worker `i` that also feeds the deployment (rejections, failed batches). */
  workerLogger(i: number, base: CloudLogger): CloudLogger {
    const tap = (event: string, fields: Record<string, unknown> = {}) => {
      if (event === 'mqtt.rejected' && typeof fields.digest === 'string') {
        const o: SeenOutcome = {
          kind: 'rejected',
          code: String(fields.code),
          message: `rejected by ${this.clientId(i)} without a result (mqtt.rejected)`,
        };
        this.deliver(this.rejectionWaiters, this.rejections, `${fields.topic}|${fields.digest}`, o);
      }
      if (event === 'mqtt.batch_failed') {
        const err = new Error(String(fields.error));
        for (const f of [...this.failures]) f(err);
      }
    };
    return {
      info: (e, f) => base.info(e, f),
      warn: (e, f) => {
        base.warn(e, f);
        tap(e, f);
      },
      error: (e, f) => {
        base.error(e, f);
        tap(e, f);
      },
    };
  }

  clientId(i: number): string {
    return `cloud-${this.run}-${i + 1}`;
  }

  async start(loggers: readonly CloudLogger[]): Promise<void> {
    for (const [i, center] of this.centers.entries()) {
      const ingest = new CloudIngest({
        center,
        url: this.url,
        clientId: this.clientId(i),
        root: this.root,
        shared: true,
        logger: loggers[i],
      });
      await ingest.start();
      this.ingests.push(ingest);
    }
    const c = await connectMqtt(this.url, { clientId: `suite-${this.run}`, clean: true, protocolVersion: 5 });
    this.client = c;
    c.on('message', (topic, payload) => {
      let r: PaymentResult;
      let key: string;
      try {
        const t = this.topics.parse(topic);
        r = decodeMessage('result', payload);
        key = `${t.kind === 'result' ? 'd' : 'm'}:${r.paymentId}`;
      } catch {
        return;
      }
      this.deliver(this.resultWaiters, this.results, key, { kind: 'result', result: r });
    });
    await c.subscribeAsync({
      [`${this.root}handset/v1/+/result`]: { qos: 1 },
      [`${this.root}merchant/v1/+/results`]: { qos: 1 },
    });
  }

  private deliver(waiters: Map<string, Waiter[]>, buffer: Map<string, SeenOutcome[]>, key: string, v: SeenOutcome): void {
    const w = waiters.get(key)?.shift();
    if (w) {
      w.settle(v);
      return;
    }
    const b = buffer.get(key) ?? [];
    b.push(v);
    buffer.set(key, b);
  }

  authorise(inputs: readonly AuthInput[]): Promise<SeenOutcome[]> {
    return this.send(
      inputs.map((input, index) => {
        const p = lenient(input.payload);
        const deviceId = input.topicDeviceId ?? (isDeviceId(p.deviceId) ? p.deviceId : `hs-raw${index}`);
        const bytes =
          typeof input.payload === 'string' || input.payload instanceof Uint8Array
            ? Buffer.from(input.payload)
            : Buffer.from(encodeMessageText('authorisation', input.payload as Authorisation));
        const paymentId = str(p.paymentId);
        return {
          index,
          topic: this.topics.auth(deviceId),
          bytes,
          // scan-to-pay outcomes always go to the device's result topic
          resultKey: paymentId && `d:${paymentId}`,
          keys: keys(['dev', deviceId], ['dev', p.deviceId], ['order', p.merchantId, p.orderRef], ['pay', paymentId]),
        };
      }),
    );
  }

  charge(inputs: readonly ChargeInput[]): Promise<SeenOutcome[]> {
    return this.send(
      inputs.map((input, index) => {
        const p = lenient(input.payload);
        const merchantId = input.topicMerchantId ?? (isMerchantId(p.merchantId) ? p.merchantId : 'm-raw');
        const bytes =
          typeof input.payload === 'string' || input.payload instanceof Uint8Array
            ? Buffer.from(input.payload)
            : Buffer.from(encodeMessageText('merchant.charge', input.payload as MerchantCharge));
        const paymentId = str(p.paymentId);
        return {
          index,
          topic: this.topics.merchantCharges(merchantId),
          bytes,
          // pay-code outcomes always go to the merchant named in the message
          resultKey: paymentId && isMerchantId(p.merchantId) ? `m:${paymentId}` : undefined,
          keys: keys(['merchant', merchantId], ['order', p.merchantId, p.orderRef], ['pay', paymentId]),
        };
      }),
    );
  }

  /**
   * Publishes the inputs as devices and terminals would: a device (terminal, order,
   * payment id) has one message in flight at a time, so inputs sharing any of those are
   * published in input order, each after the previous one's outcome - the order the
   * direct path's single batch decides them in. Unrelated inputs go out at once, and an
   * input identical to an earlier one (same topic and bytes) is a redelivery: it goes out
   * together with the original, so the two workers may race on it.
   */
  private async send(sends: Send[]): Promise<SeenOutcome[]> {
    // nothing of an earlier call is still awaited (each call awaits all its outcomes)
    this.results.clear();
    this.rejections.clear();
    const out: SeenOutcome[] = new Array(sends.length);
    // slots: identical messages travel together
    const slots: Send[][] = [];
    const bySig = new Map<string, Send[]>();
    for (const s of sends) {
      const sig = `${s.topic}|${s.bytes.toString('base64')}`;
      const slot = bySig.get(sig);
      if (slot) slot.push(s);
      else {
        const fresh = [s];
        bySig.set(sig, fresh);
        slots.push(fresh);
      }
    }
    // chains: slots sharing a key, in input order (union-find over the keys)
    const parent = slots.map((_, i) => i);
    const find = (i: number): number => {
      while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
      return i;
    };
    const owner = new Map<string, number>();
    for (const [i, slot] of slots.entries()) {
      for (const k of slot[0]!.keys) {
        const j = owner.get(k);
        if (j === undefined) owner.set(k, i);
        else parent[find(i)] = find(j);
      }
    }
    const chains = new Map<number, Send[][]>();
    for (const [i, slot] of slots.entries()) {
      const r = find(i);
      chains.set(r, [...(chains.get(r) ?? []), slot]);
    }
    const cancels: Array<() => void> = [];
    let fail: (err: Error) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    this.failures.add(fail);
    const timer = setTimeout(() => {
      const missing = sends.filter((s) => !out[s.index]).map((s) => `#${s.index} ${s.topic}`);
      fail(new Error(`no outcome over MQTT within 10 s for ${missing.join(', ')}`));
    }, 10_000);
    try {
      await Promise.race([
        failed,
        Promise.all(
          [...chains.values()].map(async (chain) => {
            for (const slot of chain) {
              await Promise.all(
                slot.map(async (s) => {
                  const o = this.await(s, cancels);
                  this.sent++;
                  await this.client!.publishAsync(s.topic, s.bytes, { qos: 1 });
                  out[s.index] = await o;
                }),
              );
            }
          }),
        ),
      ]);
    } finally {
      clearTimeout(timer);
      this.failures.delete(fail);
      for (const c of cancels) c();
    }
    return out;
  }

  /** The first of: a result for the input's payment id, or a rejection of exactly its topic + bytes. */
  private await(s: Send, cancels: Array<() => void>): Promise<SeenOutcome> {
    return new Promise<SeenOutcome>((resolve) => {
      const entries: Array<[Map<string, Waiter[]>, string]> = [];
      const w: Waiter = {
        settle: (v) => {
          drop();
          resolve(v);
        },
      };
      const drop = () => {
        for (const [m, k] of entries) {
          const list = m.get(k);
          const at = list?.indexOf(w) ?? -1;
          if (list && at >= 0) list.splice(at, 1);
        }
      };
      cancels.push(drop);
      const take = (waiters: Map<string, Waiter[]>, buffer: Map<string, SeenOutcome[]>, key: string): boolean => {
        const early = buffer.get(key)?.shift();
        if (early) {
          w.settle(early);
          return true;
        }
        waiters.set(key, [...(waiters.get(key) ?? []), w]);
        entries.push([waiters, key]);
        return false;
      };
      if (take(this.rejectionWaiters, this.rejections, `${s.topic}|${payloadDigest(s.bytes)}`)) return;
      if (s.resultKey) take(this.resultWaiters, this.results, s.resultKey);
    });
  }

  stats(): WorkerStats[] {
    return this.ingests.map((g, i) => ({
      clientId: this.clientId(i),
      received: g.stats.received,
      results: g.stats.results,
      rejected: g.stats.rejected,
      batches: g.stats.batches,
    }));
  }

  /** Resolves when every worker has decided everything delivered to it. */
  async settle(): Promise<void> {
    for (const g of this.ingests) await g.settle();
  }

  async stop(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.endAsync().catch(() => undefined);
    for (const g of this.ingests.splice(0)) await g.stop();
  }
}
