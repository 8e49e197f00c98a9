import { type Clock, systemClock, ValidationError } from '@handset/device-drivers/core';
import type { IClientOptions } from 'mqtt';
import { CloudCenter, type CloudPolicy } from './center';
import { DecisionThread } from './decision-thread';
import { HttpApi } from './http/api';
import { type CloudLogger, silentLogger } from './log';
import { type EmbeddedBroker, startEmbeddedBroker } from './mqtt/broker';
import { CloudIngest } from './mqtt/ingest';
import { SeedVault } from './registry/vault';
import { type OpenStores, openStores, storeKindOf } from './stores';
import { Ed25519VerifyPool } from './verify-pool';

export interface StartCloudOptions {
  /** `sqlite:DIR` (default `sqlite:.handset/cloud`), `sqlite::memory:`, or `postgres://...`. */
  store?: string;
  /** PostgreSQL schema. Default `handset`. */
  schema?: string;
  /**
   * `embedded` (default: an aedes broker in this process on `brokerPort`, MQTT 3.1.1) or
   * `none` (HTTP only), or an external broker URL `mqtt://host:port` (Mosquitto).
   */
  broker?: 'embedded' | 'none' | string;
  /** Embedded broker port (0 = free). */
  brokerPort?: number;
  /** HTTP API port (0 = free). */
  httpPort?: number;
  host?: string;
  /** Shared subscriptions `$share/cloud/...` (external MQTT 5 broker; default true for a URL). */
  shared?: boolean;
  /** This worker's MQTT client id / username (`cloud`, `cloud-2`, ...). */
  clientId?: string;
  mqttPassword?: string;
  /** Topic root prefix (tests on a shared broker). */
  root?: string;
  /** AES-256 key for pay-code seeds (32 bytes). Default: HANDSET_SEED_KEY, else a random dev key. */
  seedKey?: Uint8Array | string;
  /** Bearer token for the HTTP API. Default: HANDSET_API_TOKEN or none. */
  apiToken?: string;
  policy?: Partial<CloudPolicy>;
  clock?: Clock;
  logger?: CloudLogger;
  /**
   * Decide MQTT payment batches on a thread of their own (`DecisionThread`), so the
   * stores' statements and fsyncs never hold up the event loop. Needs a file or
   * PostgreSQL store and the system clock. `auto`: on for a SQLite file store with the
   * system clock (what `handset cloud serve` and `handset run` use), off otherwise
   * (PostgreSQL's step-by-step path measured no better on a thread). Default false: a
   * library caller's `center` decides everything in-process.
   */
  decisionThread?: boolean | 'auto';
  /** Group commit in front of the ledger. Default true. */
  groupCommit?: boolean;
  /** Worker threads checking signatures (0: libuv's pool per signature). Default: cores - 1, 1..4. */
  verifyThreads?: number;
  /** Pass-through to mqtt.js (tests). */
  mqtt?: Partial<IClientOptions>;
}

export interface RunningCloud {
  httpUrl: string;
  /** URL devices and merchants connect to ('' when broker = none). */
  brokerUrl: string;
  center: CloudCenter;
  stores: OpenStores;
  /** MQTT payments are decided on the decision thread (else by `center` on the event loop). */
  decisionThread: boolean;
  broker?: EmbeddedBroker;
  ingest?: CloudIngest;
  http: HttpApi;
  /** Stops ingest, HTTP, the embedded broker and closes the stores (in that order). */
  stop(): Promise<void>;
}

/**
 * The composition root of the service center: stores (SQLite or PostgreSQL), the
 * decision core, the MQTT ingest (embedded aedes or an external Mosquitto with shared
 * subscriptions), the HTTP API, and a sweeper that expires old reservations.
 */
export async function startCloud(o: StartCloudOptions = {}): Promise<RunningCloud> {
  const clock = o.clock ?? systemClock;
  const log = o.logger ?? silentLogger;
  const stores = await openStores({
    store: o.store,
    schema: o.schema,
    clock,
    groupCommit: o.groupCommit,
  });
  let seedKey: Uint8Array;
  if (o.seedKey) seedKey = typeof o.seedKey === 'string' ? SeedVault.keyFromText(o.seedKey) : o.seedKey;
  else {
    const env = SeedVault.keyFromEnv();
    if (env.ephemeral)
      log.warn('cloud.ephemeral_seed_key', {
        hint: 'set HANDSET_SEED_KEY (64 hex digits) to keep pay-code seeds across restarts',
      });
    seedKey = env.key;
  }
  const vault = new SeedVault(seedKey);
  const storeSpec = o.store ?? 'sqlite:.handset/cloud';
  const useThread =
    o.decisionThread === 'auto'
      ? storeKindOf(storeSpec) === 'sqlite-file' && (!o.clock || o.clock === systemClock)
      : Boolean(o.decisionThread);
  if (useThread && o.clock && o.clock !== systemClock) {
    await stores.close();
    throw new ValidationError('a decision thread runs on the system clock; drop the injected clock or the thread', {
      device: 'cloud',
      code: 'BAD_ARGUMENT',
    });
  }
  let decisions: DecisionThread | undefined;
  try {
    decisions = useThread
      ? await DecisionThread.start({
          store: storeSpec,
          schema: o.schema,
          seedKey,
          policy: o.policy,
          verifyThreads: o.verifyThreads,
          groupCommit: o.groupCommit,
          logger: log,
        })
      : undefined;
  } catch (err) {
    await stores.close();
    throw err;
  }
  // Signature threads for the event loop's decisions: every MQTT one without a decision
  // thread. With one, the event loop only decides HTTP payments (rare): libuv's pool checks
  // those, and no thread (a V8 isolate, ~10 MB) is kept for them.
  const verifyPool = o.verifyThreads === 0 || decisions ? undefined : new Ed25519VerifyPool({ threads: o.verifyThreads });
  const center = new CloudCenter({
    registry: stores.registry,
    ledger: stores.ledger,
    unitOfWork: stores.unitOfWork,
    verifier: verifyPool?.verify,
    vault,
    clock,
    logger: log,
    policy: o.policy,
  });
  const host = o.host ?? '127.0.0.1';
  let broker: EmbeddedBroker | undefined;
  let ingest: CloudIngest | undefined;
  let brokerUrl = '';
  const mode = o.broker ?? 'embedded';
  try {
    if (mode === 'embedded') {
      broker = await startEmbeddedBroker({
        host,
        port: o.brokerPort ?? 0,
        root: o.root,
        logger: log,
        cloudPassword: o.mqttPassword,
      });
      brokerUrl = broker.url;
      ingest = new CloudIngest({
        center,
        decider: decisions,
        url: broker.url,
        clientId: o.clientId,
        password: o.mqttPassword,
        root: o.root,
        shared: false,
        logger: log,
      });
    } else if (mode !== 'none') {
      brokerUrl = mode;
      const shared = o.shared ?? true;
      ingest = new CloudIngest({
        center,
        decider: decisions,
        url: mode,
        clientId: o.clientId,
        password: o.mqttPassword,
        root: o.root,
        shared,
        logger: log,
      });
    }
    await ingest?.start();
  } catch (err) {
    await broker?.close();
    await decisions?.close();
    await stores.close();
    await verifyPool?.close();
    throw err;
  }
  const http = new HttpApi({
    center,
    token: o.apiToken ?? process.env.HANDSET_API_TOKEN,
    logger: log,
    health: () => ({
      store: stores.kind,
      broker: brokerUrl || null,
      decisionThread: Boolean(decisions),
      ...(decisions && { decisionThreadRunning: decisions.running, decisionThreadRestarts: decisions.restarts }),
      mqtt: ingest?.stats,
    }),
    publishResults: ingest && ((outcomes) => ingest?.publishAll(outcomes)),
  });
  const httpUrl = await http.listen(o.httpPort ?? 0, host);
  // Expires old reservations once a minute; stop() aborts the sleep so the process can exit at once.
  const sweeping = new AbortController();
  const sweeper = (async () => {
    while (!sweeping.signal.aborted) {
      await clock.sleep(60_000, sweeping.signal).catch(() => undefined);
      if (sweeping.signal.aborted) break;
      await stores.ledger.expirePending().catch((err) => log.warn('ledger.expire_failed', { error: String(err) }));
    }
  })();
  log.info('cloud.started', { httpUrl, brokerUrl, store: stores.kind });
  return {
    httpUrl,
    brokerUrl,
    center,
    stores,
    decisionThread: Boolean(decisions),
    broker,
    ingest,
    http,
    async stop() {
      sweeping.abort();
      await sweeper;
      await ingest?.stop().catch(() => undefined);
      await http.close();
      await broker?.close();
      await decisions?.close();
      await stores.close();
      await verifyPool?.close();
    },
  };
}
