/**
 * The entry of the decision thread (see `decision-thread.ts`): opens its own connection
 * to the cloud's stores, builds a CloudCenter on it, and decides the batches the event
 * loop posts. One message in, one message out; a batch that throws answers with the
 * error's code and message (the ingest logs it and the handsets' outboxes resend).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CloudCenter } from './center';
import type { DecisionReply, DecisionRequest, DecisionWorkerData } from './decision-thread';
import { type CloudLogger, redact, silentLogger } from './log';
import { SeedVault } from './registry/vault';
import { openStores } from './stores';
import { Ed25519VerifyPool } from './verify-pool';

const port = parentPort;
if (!port) throw new Error('decision-worker runs as a worker thread');
const d = workerData as DecisionWorkerData;
const post = (level: 'info' | 'warn' | 'error') => (event: string, fields?: Record<string, unknown>) =>
  port.postMessage({ log: [level, event, redact(fields)] } satisfies DecisionReply);
/** Log events go to the event loop's logger (redacted here first: nothing secret crosses threads). */
const forwardLogger: CloudLogger = { info: post('info'), warn: post('warn'), error: post('error') };

try {
  const stores = await openStores({ store: d.store, schema: d.schema, groupCommit: d.groupCommit });
  const pool = d.verifyThreads === 0 ? undefined : new Ed25519VerifyPool({ threads: d.verifyThreads });
  const center = new CloudCenter({
    registry: stores.registry,
    ledger: stores.ledger,
    unitOfWork: stores.unitOfWork,
    verifier: pool?.verify,
    vault: new SeedVault(d.seedKey),
    logger: d.log ? forwardLogger : silentLogger,
    policy: d.policy,
  });
  const inflight = new Set<Promise<unknown>>();
  port.on('message', async (m: DecisionRequest) => {
    if (m.op === 'close') {
      await Promise.allSettled([...inflight]);
      await stores.close().catch(() => undefined);
      await pool?.close();
      port.postMessage({ id: m.id, outcomes: [] } satisfies DecisionReply);
      port.close();
      return;
    }
    const deciding = m.op === 'authorise' ? center.authorise(m.inputs) : center.charge(m.inputs);
    inflight.add(deciding);
    try {
      port.postMessage({ id: m.id, outcomes: await deciding } satisfies DecisionReply);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      port.postMessage({
        id: m.id,
        error: { code: e.code ?? 'STORE', message: e.message ?? String(err) },
      } satisfies DecisionReply);
    } finally {
      inflight.delete(deciding);
    }
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ fatal: (err as Error).message ?? String(err) });
}
