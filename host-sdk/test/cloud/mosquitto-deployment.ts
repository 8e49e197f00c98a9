/**
 * The scenario suite's MQTT deployment: N CloudCenter workers, each with its own store
 * connections and its own CloudIngest on a real Mosquitto (MQTT 5 `$share/cloud/...`),
 * under a topic root unique to the deployment. By default the broker is our own mosquitto
 * process from the project's generated config (ACL: devices and merchants publish and read
 * only under their own id; `set_tcp_nodelay`); `HANDSET_MQTT_URL=mqtt://127.0.0.1:1883`
 * uses the machine's broker instead (no ACL there, and no `set_tcp_nodelay`: measured
 * ~44 ms per request/result round trip there against ~1 ms on ours, from Nagle + delayed
 * ACK on the broker's sockets).
 *
 * The suite's inputs are published the way handsets and merchant terminals publish them
 * (one connection per device / merchant id, username = id), and each input's outcome is
 * read back from that identity's result topic or - for input the cloud rejects without an
 * answer - from the worker's `mqtt.rejected` log entry (topic + payload digest).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { AuthInput, ChargeInput, CloudCenter } from '../../src/cloud/center';
import { type CloudLogger, silentLogger } from '../../src/cloud/log';
import { CloudIngest, payloadDigest } from '../../src/cloud/mqtt/ingest';
import { freePort, type MosquittoProcess, startMosquitto, writeMosquittoConfig } from '../../src/cloud/mqtt/mosquitto';
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
  /** The identity that publishes it (the topic's device / merchant id). */
  from: string;
  /** The identity whose result topic will carry its outcome, if any. */
  to?: string;
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

/**
 * N long-lived MQTT workers (like `handset cloud serve --broker ... --client-id cloud-N`
 * processes) whose CloudCenter is swapped per test: `use(centers)` points worker i at
 * centers[i] (each on its own store connections), so one World's decisions are made by
 * fresh centers while the broker connections and `$share` subscriptions stay up - the
 * per-test cost is the stores, not N+2 MQTT handshakes.
 */
export class MosquittoDeployment {
  readonly root = `t${randomBytes(5).toString('hex')}/`;
  readonly topics: Topics;
  readonly ingests: CloudIngest[] = [];
  /** Messages published since the last use(). */
  sent = 0;
  /** One connection per device / merchant identity (username = id), subscribed to its own result topic. */
  private readonly peers = new Map<string, Promise<MqttClient>>();
  private mosquitto: MosquittoProcess | undefined;
  private dir: string | undefined;
  url = '';
  private readonly run = randomBytes(3).toString('hex');
  private readonly current: Array<CloudCenter | undefined>;
  private base: CloudLogger = silentLogger;
  private baseline: WorkerStats[] = [];
  private readonly results = new Map<string, SeenOutcome[]>();
  private readonly resultWaiters = new Map<string, Waiter[]>();
  private readonly rejections = new Map<string, SeenOutcome[]>();
  private readonly rejectionWaiters = new Map<string, Waiter[]>();
  private readonly failures = new Set<(err: Error) => void>();

  /** `broker`: a URL (e.g. the machine's `mqtt://127.0.0.1:1883`), or 'own' (default). */
  constructor(
    readonly workers = 2,
    readonly broker: string = process.env.HANDSET_MQTT_URL ?? 'own',
  ) {
    this.topics = createTopics(this.root);
    this.current = new Array(workers).fill(undefined);
  }

  /** Worker i's logger: the base logger of the current World, tapped for rejections and failed batches. */
  workerLogger(i: number): CloudLogger {
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
      info: (e, f) => this.base.info(e, f),
      warn: (e, f) => {
        this.base.warn(e, f);
        tap(e, f);
      },
      error: (e, f) => {
        this.base.error(e, f);
        tap(e, f);
      },
    };
  }

  clientId(i: number): string {
    return `cloud-${this.run}-${i + 1}`;
  }

  /** Points the workers at the given centers (one per worker) and logger; resets the per-World counters. */
  async use(centers: readonly CloudCenter[], base: CloudLogger = silentLogger): Promise<void> {
    if (centers.length !== this.workers) throw new Error(`expected ${this.workers} centers`);
    await this.settle();
    centers.forEach((c, i) => {
      this.current[i] = c;
    });
    this.base = base;
    this.sent = 0;
    this.baseline = this.totals();
  }

  /** Worker i's center as the ingest sees it: whatever use() last gave worker i. */
  private centerOf(i: number): CloudCenter {
    return new Proxy({} as CloudCenter, {
      get: (_t, key) => {
        const c = this.current[i];
        if (!c) throw new Error(`worker ${i + 1} has no center (use() first)`);
        const v: unknown = Reflect.get(c, key, c);
        return typeof v === 'function' ? v.bind(c) : v;
      },
    });
  }

  /**
   * Starts the broker (unless external) and the workers' ingests. 'own': a mosquitto
   * process from the project's generated config (`writeMosquittoConfig`: the generated
   * ACL with these workers as cloud users, `set_tcp_nodelay`) on a free port.
   */
  async start(): Promise<void> {
    if (this.broker === 'own') {
      const dir = mkdtempSync(join(tmpdir(), 'mosq-suite-'));
      chmodSync(dir, 0o755); // mosquitto started as root drops to its own user, which must read the ACL
      this.dir = dir;
      const port = await freePort();
      const cloudUsers = Array.from({ length: this.workers }, (_, i) => this.clientId(i));
      this.mosquitto = await startMosquitto(writeMosquittoConfig({ dir, port, root: this.root, cloudUsers }), port);
      this.url = this.mosquitto.url;
    } else this.url = this.broker;
    const ingests = Array.from(
      { length: this.workers },
      (_, i) =>
        new CloudIngest({
          center: this.centerOf(i),
          url: this.url,
          clientId: this.clientId(i),
          root: this.root,
          shared: true,
          logger: this.workerLogger(i),
        }),
    );
    await Promise.all(ingests.map((g) => g.start()));
    this.ingests.push(...ingests);
  }

  /** The connection of a device or merchant, subscribed to its own result topic. */
  private peer(id: string): Promise<MqttClient> {
    let p = this.peers.get(id);
    if (p) return p;
    p = (async () => {
      // username = identity (what the ACL's %u patterns check); client id unique to this run
      const c = await connectMqtt(this.url, { clientId: `${id}-${this.run}`, username: id, clean: true, protocolVersion: 5 });
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
      const topic = isMerchantId(id) ? this.topics.merchantResults(id) : this.topics.result(id);
      const granted = await c.subscribeAsync(topic, { qos: 1 });
      if (granted.some((g) => g.qos > 2)) throw new Error(`${id}: subscription to ${topic} refused`);
      return c;
    })();
    this.peers.set(id, p);
    return p;
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
          from: deviceId,
          to: isDeviceId(p.deviceId) ? p.deviceId : undefined,
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
          from: merchantId,
          to: isMerchantId(p.merchantId) ? p.merchantId : undefined,
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
    const ids = new Set(sends.flatMap((s) => (s.to ? [s.from, s.to] : [s.from])));
    const peers = new Map(await Promise.all([...ids].map(async (id) => [id, await this.peer(id)] as const)));
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
                  peers.get(s.from)!.publish(s.topic, s.bytes, { qos: 1 }, (err) => {
                    if (err) fail(err);
                  });
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

  private totals(): WorkerStats[] {
    return this.ingests.map((g, i) => ({
      clientId: this.clientId(i),
      received: g.stats.received,
      results: g.stats.results,
      rejected: g.stats.rejected,
      batches: g.stats.batches,
    }));
  }

  /** Per worker, since the last use(). */
  stats(): WorkerStats[] {
    return this.totals().map((t, i) => {
      const b = this.baseline[i];
      return b
        ? {
            ...t,
            received: t.received - b.received,
            results: t.results - b.results,
            rejected: t.rejected - b.rejected,
            batches: t.batches - b.batches,
          }
        : t;
    });
  }

  /** Resolves when every worker has decided everything delivered to it. */
  async settle(): Promise<void> {
    await Promise.all(this.ingests.map((g) => g.settle()));
  }

  async stop(): Promise<void> {
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all([
      ...peers.map(async (p) => (await p).endAsync().catch(() => undefined)),
      ...this.ingests.splice(0).map((g) => g.stop()),
    ]);
    await this.mosquitto?.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
