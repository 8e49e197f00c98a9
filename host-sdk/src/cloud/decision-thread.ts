import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HandsetError, ValidationError } from '@handset/device-drivers/core';
import type { AuthInput, ChargeInput, CloudPolicy, Outcome } from './center';
import { type CloudLogger, silentLogger } from './log';
import { storeKindOf } from './stores';

/** What the MQTT ingest needs to decide payment batches: the CloudCenter, or a thread running one. */
export interface Decider {
  authorise(inputs: readonly AuthInput[]): Promise<Outcome[]>;
  charge(inputs: readonly ChargeInput[]): Promise<Outcome[]>;
}

export interface DecisionThreadOptions {
  /** The store spec of the running cloud (a file store: `sqlite:DIR`, or `postgres://...`). */
  store: string;
  schema?: string;
  /** The 32-byte pay-code seed key (the same key as the event loop's vault). */
  seedKey: Uint8Array;
  policy?: Partial<CloudPolicy>;
  /** Signature threads of the decision thread (0: libuv's pool). */
  verifyThreads?: number;
  groupCommit?: boolean;
  /** Receives the thread's log events (posted to the event loop). Default: none. */
  logger?: CloudLogger;
}

/** @internal the worker's start data */
export interface DecisionWorkerData extends Omit<DecisionThreadOptions, 'logger'> {
  /** Post log events to the event loop, or drop them. */
  log: boolean;
}
/** @internal one request to the worker */
export type DecisionRequest =
  | { id: number; op: 'authorise'; inputs: AuthInput[] }
  | { id: number; op: 'charge'; inputs: ChargeInput[] }
  | { id: number; op: 'close' };
/** @internal one reply from the worker */
export type DecisionReply =
  | { id: number; outcomes: Outcome[] }
  | { id: number; error: { code: string; message: string } }
  | { log: [level: 'info' | 'warn' | 'error', event: string, fields?: Record<string, unknown>] };

/** The URL of tsx's ESM API (its `import` export, not the CommonJS one `require.resolve` finds). */
function tsxEsmApi(): string {
  const req = createRequire(import.meta.url);
  const pkg = req('tsx/package.json') as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(req.resolve('tsx/package.json')), pkg.exports['./esm/api']!.import.default)).href;
}

type WithoutId<R> = R extends unknown ? Omit<R, 'id'> : never;

/** A payload as the thread gets it: a copy of exactly its bytes (an MQTT Buffer may view a larger buffer). */
function own<T extends AuthInput | ChargeInput>(input: T): T {
  const p = input.payload;
  return p instanceof Uint8Array ? { ...input, payload: new Uint8Array(p) } : input;
}

/**
 * The payment decision on a thread of its own. better-sqlite3 is synchronous: on the
 * event loop, every statement of a batch and its COMMIT (the WAL write and the fsync)
 * stop the MQTT traffic of every other handset. Here a worker thread runs a CloudCenter
 * on its own connection to the same stores (SQLite WAL: one writer at a time, every
 * decision in a `BEGIN IMMEDIATE` unit of work, as with two cloud processes on one
 * file), and the event loop only moves messages: MQTT in, one postMessage per batch,
 * results out. Registration, orders and the HTTP API stay on the event loop's center.
 *
 * If the thread dies (an uncaught error, a crash of its native code), the batches it held
 * are rejected (the ingest logs them; the handsets' outboxes resend the same payment ids,
 * and the unit of work a dead thread left open was never committed), the event is logged,
 * and a new thread is started with capped exponential backoff (0.1-5 s). Calls made while
 * it restarts are rejected the same way.
 *
 * The thread has the system clock (an injected test clock cannot cross threads).
 */
export class DecisionThread implements Decider {
  private readonly pending = new Map<number, { resolve: (o: Outcome[]) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private worker: Worker | undefined;
  private closed = false;
  private backoffMs = RESTART_MIN_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Threads started after the first (each one after a death). */
  restarts = 0;

  private constructor(
    private readonly options: DecisionThreadOptions,
    private readonly logger: CloudLogger,
    worker: Worker,
  ) {
    this.attach(worker);
  }

  /** Starts the thread; resolves once its stores are open. */
  static async start(o: DecisionThreadOptions): Promise<DecisionThread> {
    const kind = storeKindOf(o.store);
    if (kind !== 'sqlite-file' && kind !== 'postgres')
      throw new ValidationError(`a decision thread needs a file or PostgreSQL store, not ${o.store}`, {
        device: 'cloud',
        code: 'BAD_ARGUMENT',
      });
    return new DecisionThread(o, o.logger ?? silentLogger, await spawn(o));
  }

  private attach(worker: Worker): void {
    this.worker = worker;
    worker.on('message', (m: DecisionReply) => {
      if ('log' in m) {
        const [level, event, fields] = m.log;
        this.logger[level](event, fields);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new HandsetError(m.error.code, m.error.message, { device: 'cloud' }));
      else p.resolve(m.outcomes);
    });
    let why = '';
    worker.on('error', (err) => {
      why = err.message;
    });
    worker.once('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const err = new HandsetError(
        'DECISION_THREAD',
        `decision thread ${this.closed ? 'closed' : `died (${why || `exit ${code}`})`}`,
        {
          device: 'cloud',
        },
      );
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (this.closed) return;
      this.logger.error('decision.thread_died', { error: why || `exit ${code}`, restartInMs: this.backoffMs });
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    this.restartTimer = setTimeout(async () => {
      this.restartTimer = undefined;
      try {
        const w = await spawn(this.options);
        if (this.closed) {
          await w.terminate();
          return;
        }
        this.restarts++;
        this.backoffMs = RESTART_MIN_MS;
        this.attach(w);
        this.logger.info('decision.thread_restarted', { restarts: this.restarts });
      } catch (err) {
        this.backoffMs = Math.min(RESTART_MAX_MS, this.backoffMs * 2);
        this.logger.error('decision.thread_start_failed', { error: (err as Error).message, retryInMs: this.backoffMs });
        if (!this.closed) this.scheduleRestart();
      }
    }, this.backoffMs);
  }

  /** True while a thread is up to take batches. */
  get running(): boolean {
    return this.worker !== undefined;
  }

  private call(req: WithoutId<DecisionRequest>): Promise<Outcome[]> {
    const w = this.worker;
    if (!w)
      return Promise.reject(
        new HandsetError('DECISION_THREAD', this.closed ? 'decision thread closed' : 'decision thread restarting', {
          device: 'cloud',
        }),
      );
    const id = ++this.seq;
    return new Promise<Outcome[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...req, id });
    });
  }

  authorise(inputs: readonly AuthInput[]): Promise<Outcome[]> {
    return this.call({ op: 'authorise', inputs: inputs.map(own) });
  }

  charge(inputs: readonly ChargeInput[]): Promise<Outcome[]> {
    return this.call({ op: 'charge', inputs: inputs.map(own) });
  }

  /** Lets decided batches finish, closes the thread's stores and ends it. No restart after this. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    const w = this.worker;
    if (!w) return;
    await this.call({ op: 'close' }).catch(() => undefined);
    await w.terminate();
  }
}

const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5_000;

/** A started worker whose stores are open (its `ready` message seen). */
async function spawn(o: DecisionThreadOptions): Promise<Worker> {
  const { logger = silentLogger, ...rest } = o;
  const workerData: DecisionWorkerData = { ...rest, log: logger !== silentLogger };
  // Bundled CLI: dist/decision-worker.js next to the bundle. From source (tests, tsx): the
  // .ts entry, loaded through tsx's ESM hooks registered inside the worker (Node 20 does
  // not apply `--import` hooks from a worker's execArgv).
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './decision-worker.ts' : './decision-worker.js', import.meta.url);
  const worker = fromSource
    ? new Worker(
        `import(${JSON.stringify(tsxEsmApi())}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); });`,
        { eval: true, workerData },
      )
    : new Worker(entry, { workerData });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { ready?: boolean; fatal?: string }) => {
      if (m.ready) resolve();
      else if (m.fatal) reject(new HandsetError('DECISION_THREAD', `decision thread: ${m.fatal}`, { device: 'cloud' }));
      else return;
      worker.off('message', onMessage);
      worker.off('error', reject);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  }).catch(async (err) => {
    await worker.terminate();
    throw err;
  });
  return worker;
}
