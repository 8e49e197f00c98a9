/**
 * `handset cloud ...`: the service center.
 *
 *   handset cloud serve [--store sqlite:DIR|postgres://...] [--schema S]
 *                       [--broker embedded|none|mqtt://HOST:PORT] [--broker-port N] [--http-port N]
 *                       [--host H] [--client-id cloud-N] [--root PREFIX/] [--no-shared] [--demo]
 *                       [--heap lean|default] [--verify-threads N] [--decision-thread auto|on|off]
 *       runs until SIGINT/SIGTERM; prints one JSON line {"event":"ready","httpUrl","brokerUrl",...}
 *       Pay-code seeds are sealed with HANDSET_SEED_KEY (64 hex digits); HTTP bearer token
 *       from HANDSET_API_TOKEN; MQTT password for the cloud user from HANDSET_MQTT_PASSWORD.
 *   handset cloud acl [--root PREFIX/] [--cloud-user U]... [--out FILE]
 *       the Mosquitto ACL file (devices and merchants confined to their own ids)
 *   handset cloud mosquitto-conf --dir DIR --port N [--root PREFIX/] [--cloud-user U]...
 *       a whole Mosquitto config (listener, ACL, TCP_NODELAY, queue limits) in DIR
 *   handset cloud check [--store ...] [--schema S]
 *       runs the invariant checker on a store; exit 1 if any invariant is broken
 */
import { writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { ValidationError } from '@handset/device-drivers/core';
import type { Command } from 'commander';
import { CloudCenter } from '../../cloud/center';
import { jsonLogger, silentLogger } from '../../cloud/log';
import { writeMosquittoConfig } from '../../cloud/mqtt/mosquitto';
import { SeedVault } from '../../cloud/registry/vault';
import { startCloud } from '../../cloud/service';
import { openStores } from '../../cloud/stores';
import { mosquittoAcl } from '../../protocol/index';
import type { CliIo } from '../io';

/**
 * V8 heap policy of `cloud serve`. A broker holding 10,000 connections is a heap of
 * small long-lived objects (~6 KB live per aedes connection: socket, streams, parser,
 * client closures) plus short-lived garbage per message. V8 lets the old generation
 * grow to up to several times the live size before a full GC, so at 10,000 connections
 * ~100 MB of dead objects and free heap pages stay resident. `lean` caps that growth
 * at 25 % over the live size after each full GC (`--heap-growing-percent=25`, read by
 * the GC at run time, so setting it here takes effect): full GCs come sooner, RSS
 * stays ~80 MB lower. `--optimize-for-size` (1 MB young generation) saved ~20 MB more
 * but cut the paced payment rate under load, so it is not used (docs/cloud.md
 * "Connections and memory").
 */
export const HEAP_POLICIES: Record<string, readonly string[]> = {
  lean: ['--heap-growing-percent=25'],
  default: [],
};

const collect = (v: string, prev: string[] = []) => [...prev, v];

function threads(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 16)
    throw new ValidationError(`bad thread count ${JSON.stringify(v)} (0-16)`, { code: 'BAD_ARGUMENT' });
  return n;
}

function onOffAuto(v: string): boolean | 'auto' {
  if (v === 'auto') return 'auto';
  if (v === 'on' || v === 'off') return v === 'on';
  throw new ValidationError(`bad value ${JSON.stringify(v)} (auto | on | off)`, { code: 'BAD_ARGUMENT' });
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ValidationError(`bad port ${JSON.stringify(v)}`, { code: 'BAD_ARGUMENT' });
  return n;
}

export function register(program: Command, io: CliIo): void {
  const cloud = program
    .command('cloud')
    .description('cloud service center: registration, authorisation, ledger, MQTT ingest, HTTP API');

  cloud
    .command('serve')
    .description('run the service center (embedded aedes + SQLite by default)')
    .option('--store <spec>', 'sqlite:DIR | sqlite::memory: | postgres://...', 'sqlite:.handset/cloud')
    .option('--schema <name>', 'PostgreSQL schema', 'handset')
    .option('--broker <mode>', 'embedded | none | mqtt://host:port (external, e.g. Mosquitto)', 'embedded')
    .option('--broker-port <n>', 'embedded broker port (0 = free)', port, 1883)
    .option('--http-port <n>', 'HTTP API port (0 = free)', port, 8080)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--client-id <id>', 'MQTT client id / username of this worker', 'cloud')
    .option('--root <prefix>', 'topic root prefix, e.g. test-1/', '')
    .option('--no-shared', 'plain subscriptions instead of $share/cloud/... (external broker)')
    .option('--demo', 'create demo users alice/bob (EUR, funded) and merchant m-demo')
    .option('--quiet', 'no log lines on stderr')
    .option('--verify-threads <n>', 'worker threads checking signatures (0: libuv pool; default cores - 1, 1..4)', threads)
    .option(
      '--decision-thread <mode>',
      'decide MQTT payments on a thread of their own: auto (on for a SQLite file store) | on | off',
      onOffAuto,
      'auto',
    )
    .option('--heap <policy>', 'V8 heap policy: lean (small heap, for many connections) | default (V8 defaults)', 'lean')
    .action(async (o) => {
      const flags = Object.hasOwn(HEAP_POLICIES, o.heap) ? HEAP_POLICIES[o.heap] : undefined;
      if (!flags) throw new ValidationError(`bad --heap ${JSON.stringify(o.heap)} (lean | default)`, { code: 'BAD_ARGUMENT' });
      for (const f of flags) setFlagsFromString(f);
      const running = await startCloud({
        store: o.store,
        schema: o.schema,
        broker: o.broker,
        brokerPort: o.brokerPort,
        httpPort: o.httpPort,
        host: o.host,
        clientId: o.clientId,
        root: o.root,
        shared: o.shared,
        verifyThreads: o.verifyThreads,
        decisionThread: o.decisionThread,
        mqttPassword: process.env.HANDSET_MQTT_PASSWORD,
        logger: o.quiet ? silentLogger : jsonLogger((l) => io.err(l)),
      });
      if (o.demo) {
        const c = running.center;
        for (const account of ['alice', 'bob']) {
          await c.createUser({ account, currency: 'EUR' });
          await c.deposit(account, 100_000n, 'demo');
        }
        await c.createMerchant({ merchantId: 'm-demo', currency: 'EUR', name: 'Demo Shop' });
      }
      io.out(
        `${JSON.stringify({ event: 'ready', httpUrl: running.httpUrl, brokerUrl: running.brokerUrl, store: running.stores.kind, decisionThread: running.decisionThread, pid: process.pid })}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.stop();
    });

  cloud
    .command('acl')
    .description('write the Mosquitto ACL file for the wire contract')
    .option('--root <prefix>', 'topic root prefix', '')
    .option('--cloud-user <user>', 'cloud worker username (repeatable)', collect)
    .option('--out <file>', 'write to FILE instead of stdout')
    .action((o) => {
      const text = mosquittoAcl({ root: o.root, cloudUsers: o.cloudUser ?? ['cloud'] });
      if (o.out) writeFileSync(o.out, text);
      else io.out(text);
    });

  cloud
    .command('mosquitto-conf')
    .description('write a Mosquitto config + generated ACL into a directory')
    .requiredOption('--dir <dir>', 'output directory')
    .requiredOption('--port <n>', 'listener port', port)
    .option('--root <prefix>', 'topic root prefix', '')
    .option('--cloud-user <user>', 'cloud worker username (repeatable)', collect)
    .action((o) => {
      const conf = writeMosquittoConfig({ dir: o.dir, port: o.port, root: o.root, cloudUsers: o.cloudUser ?? ['cloud'] });
      io.out(`${conf}\n`);
    });

  cloud
    .command('check')
    .description('check the ledger/registry invariants of a store (exit 1 if broken)')
    .option('--store <spec>', 'sqlite:DIR | postgres://...', 'sqlite:.handset/cloud')
    .option('--schema <name>', 'PostgreSQL schema', 'handset')
    .action(async (o) => {
      const stores = await openStores({ store: o.store, schema: o.schema, groupCommit: false });
      try {
        const center = new CloudCenter({ registry: stores.registry, ledger: stores.ledger, vault: SeedVault.fromEnv().vault });
        const rep = await center.checkInvariants();
        io.out(
          `${JSON.stringify({ ok: rep.ok, accounts: rep.accounts, booked: rep.booked, totals: rep.totals, violations: rep.violations }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
        );
        if (!rep.ok) process.exitCode = 1;
      } finally {
        await stores.close();
      }
    });
}
