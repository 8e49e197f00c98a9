import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitForPort } from '../../src/cloud/mqtt/mosquitto';
import { createTopics, mayPublish, maySubscribe, mosquittoAcl } from '../../src/protocol/index';

/**
 * The generated Mosquitto ACL and the pure mayPublish/maySubscribe predicates must
 * agree: run our own mosquitto (free port, generated acl_file) and compare what it
 * allows with what the predicates say, for every identity x every contract topic.
 */

const root = `acl-${randomBytes(4).toString('hex')}/`;
const t = createTopics(root);
let child: ChildProcess;
let port: number;
let dir: string;
const clients: MqttClient[] = [];

const connectAs = (id: string) =>
  new Promise<MqttClient>((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      clientId: id,
      username: id,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
    clients.push(c);
  });

beforeAll(async () => {
  port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'handset-acl-'));
  chmodSync(dir, 0o755); // mosquitto started as root drops to its own user and must read the files
  writeFileSync(join(dir, 'acl'), mosquittoAcl({ root, cloudUsers: ['cloud'] }));
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `acl_file ${join(dir, 'acl')}`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  child = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  await waitForPort(port).catch((e: Error) => {
    throw new Error(`${e.message}: ${stderr.trim()}`);
  });
}, 20_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const identities = ['hs-1', 'hs-2', 'm-1', 'm-2', 'cloud'];
const topicsUnderTest = [
  ...['hs-1', 'hs-2'].flatMap((d) => [
    t.register(d),
    t.registerReply(d),
    t.auth(d),
    t.result(d),
    t.status(d),
    t.ota(d, 'offer'),
    t.otaReport(d, 'progress'),
  ]),
  ...['m-1', 'm-2'].flatMap((m) => [t.merchantOrders(m), t.merchantCharges(m), t.merchantResults(m)]),
  `${root}handset/v1/hs-1/auth/extra`,
  `${root}x/y`,
  'handset/v1/hs-1/auth',
];

describe('Mosquitto enforces the same ACL as mayPublish / maySubscribe', () => {
  it('publish verdicts match for every identity x contract topic', async () => {
    const mismatches: string[] = [];
    for (const who of identities) {
      const c = await connectAs(who);
      for (const topic of topicsUnderTest) {
        const allowed = await new Promise<boolean>((resolve) => c.publish(topic, 'x', { qos: 1 }, (err) => resolve(!err)));
        if (allowed !== mayPublish(who, topic, root)) mismatches.push(`${who} publish ${topic}: mosquitto ${allowed}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('delivery matches maySubscribe: each identity receives exactly the topics it may read', async () => {
    // Mosquitto grants every SUBSCRIBE and filters each delivery by `read` access;
    // aedes (the embedded broker) refuses the SUBSCRIBE itself. The effective rule is the same.
    const received = new Map<string, Set<string>>();
    const byId = new Map<string, MqttClient>();
    for (const who of identities) {
      const c = clients.find((x) => x.options.clientId === who && x.connected) ?? (await connectAs(who));
      byId.set(who, c);
      received.set(who, new Set());
      c.on('message', (topic) => received.get(who)!.add(topic));
      await c.subscribeAsync([`${root}#`, 'handset/#'], { qos: 1 });
    }
    const published: string[] = [];
    for (const topic of topicsUnderTest) {
      const publisher = identities.find((who) => mayPublish(who, topic, root));
      if (!publisher) continue;
      await byId.get(publisher)!.publishAsync(topic, 'x', { qos: 1 });
      published.push(topic);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(published.length).toBe(20);
    const mismatches: string[] = [];
    for (const who of identities) {
      for (const topic of published) {
        const got = received.get(who)!.has(topic);
        if (got !== maySubscribe(who, topic, root)) mismatches.push(`${who} ${got ? 'received' : 'did not receive'} ${topic}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect([...received.get('hs-1')!].sort()).toEqual([t.registerReply('hs-1'), t.result('hs-1'), t.ota('hs-1', 'offer')].sort());
  });
});
