/**
 * `handset fleet` against a real cloud (startCloud: embedded aedes, SQLite in a temp dir,
 * bearer token) with three registered SimHandsets, one of which has paid: the table and
 * the JSON lines, one device, lock/unlock (the lock is the cloud's: a payment is then
 * declined), the invariant report (exit 1 once the ledger file is tampered with), and the
 * typed HTTP failures. The built bin is spawned once for the exit code and the help.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDSET_BIN } from '../../../hil-tests/src/built-cli';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';
import { freePort } from '../../src/cloud/mqtt/mosquitto';
import { type RunningCloud, startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import { encodeMessageText } from '../../src/protocol/index';

const TOKEN = 'fleet-test-token';

/** A URL where nothing listens. */
const closedPortUrl = async () => `http://127.0.0.1:${await freePort()}`;

describe('handset fleet (real cloud, simulated handsets)', () => {
  let cloud: RunningCloud;
  let dir: string;
  const savedToken = process.env.HANDSET_API_TOKEN;
  const handsets = [
    new SimHandset({ deviceId: 'hs-a1', account: 'alice', slots: [1, 2] }),
    new SimHandset({ deviceId: 'hs-a2', account: 'alice' }),
    new SimHandset({ deviceId: 'hs-b1', account: 'bob', slots: [5] }),
  ];
  const [a1, , b1] = handsets as [SimHandset, SimHandset, SimHandset];

  async function http(method: string, path: string, body?: unknown) {
    const res = await fetch(cloud.httpUrl + path, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function fleet(...args: string[]) {
    const io = recordingIo();
    const code = await main(['fleet', '--cloud', cloud.httpUrl, ...args], io);
    return { code, out: io.stdout, err: io.stderr };
  }

  async function pay(h: SimHandset, orderRef: string) {
    await http('POST', '/v1/merchants/m-shop/orders', { orderRef, amount: '250', currency: 'EUR' });
    const auth = h.authorise({ merchantId: 'm-shop', orderRef, amount: 250n, currency: 'EUR', nowMs: Date.now() });
    const r = await http('POST', '/v1/authorisations', encodeMessageText('authorisation', auth));
    return (r.body.result as { status: string; reason?: string }) ?? r.body;
  }

  beforeAll(async () => {
    process.env.HANDSET_API_TOKEN = TOKEN;
    dir = mkdtempSync(join(tmpdir(), 'fleet-'));
    cloud = await startCloud({
      store: `sqlite:${dir}`,
      broker: 'embedded',
      brokerPort: 0,
      httpPort: 0,
      seedKey: 'cd'.repeat(32),
      apiToken: TOKEN,
    });
    for (const u of ['alice', 'bob']) expect((await http('POST', '/v1/users', { account: u, currency: 'EUR' })).status).toBe(201);
    await http('POST', '/v1/users/alice/deposits', { amount: '10000', key: 'init' });
    await http('POST', '/v1/users/bob/deposits', { amount: '10000', key: 'init' });
    await http('POST', '/v1/merchants', { merchantId: 'm-shop', currency: 'EUR' });
    for (const h of handsets) {
      const res = await cloud.center.register(h.registrationRequest(Date.now()));
      expect(res.status).toBe('registered');
      h.accept(res);
    }
    expect((await pay(a1, 'o-1')).status).toBe('approved');
    expect((await pay(a1, 'o-2')).status).toBe('approved');
  }, 60_000);

  afterAll(async () => {
    if (savedToken === undefined) delete process.env.HANDSET_API_TOKEN;
    else process.env.HANDSET_API_TOKEN = savedToken;
    await cloud?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('list: a table of every device; --json one object per line; --account filters', async () => {
    let r = await fleet();
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^DEVICE\s+ACCOUNT\s+STATUS\s+COUNTER\s+FAILURES\s+SLOTS\s+REGISTERED$/);
    expect(lines).toHaveLength(4);
    const a1Row = lines.find((l) => l.startsWith('hs-a1 '));
    expect(a1Row?.split(/\s{2,}/)).toEqual([
      'hs-a1',
      'alice',
      'active',
      '2',
      '0',
      '1,2',
      expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    ]);
    expect(
      lines
        .find((l) => l.startsWith('hs-b1 '))
        ?.split(/\s{2,}/)
        .slice(0, 6),
    ).toEqual(['hs-b1', 'bob', 'active', '0', '0', '5']);

    r = await fleet('--json', 'list');
    expect(r.code).toBe(0);
    const objs = r.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objs.map((o) => o.deviceId).sort()).toEqual(['hs-a1', 'hs-a2', 'hs-b1']);
    const j = objs.find((o) => o.deviceId === 'hs-a1');
    expect(j).toMatchObject({ account: 'alice', status: 'active', lastCounter: 2, failures: 0, publicKey: expect.any(String) });
    expect(j.enrolments.map((e: { slot: number }) => e.slot)).toEqual([1, 2]);
    expect(j).not.toHaveProperty('seedSealed');

    r = await fleet('list', '--account', 'bob', '--json');
    expect(
      r.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).deviceId),
    ).toEqual(['hs-b1']);
  });

  it('show: one device with its enrolment digests', async () => {
    let r = await fleet('show', 'hs-a1');
    expect(r.code).toBe(0);
    expect(r.out).toContain('device      hs-a1\n');
    expect(r.out).toContain('counter     2\n');
    expect(r.out).toMatch(/ {2}slot {3}1 {2}sha256 [0-9a-f]{64}\n {2}slot {3}2 {2}sha256 [0-9a-f]{64}\n$/);
    r = await fleet('--json', 'show', 'hs-b1');
    expect(JSON.parse(r.out)).toMatchObject({ deviceId: 'hs-b1', account: 'bob', paycodeIndex: b1.grant?.index });
  });

  it('lock with a reason: the cloud declines the device, unlock restores it', async () => {
    let r = await fleet('lock', 'hs-b1', '--reason', 'stolen');
    expect(r.code).toBe(0);
    expect(r.out).toBe('hs-b1: locked (stolen)\n');
    expect((await fleet()).out).toMatch(/^hs-b1\s+bob\s+locked \(stolen\)\s+0/m);
    expect(await pay(b1, 'o-3')).toMatchObject({ status: 'declined', reason: 'account_locked' });

    r = await fleet('--json', 'unlock', 'hs-b1');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ deviceId: 'hs-b1', status: 'active', failures: 0, lockReason: null });
    expect((await pay(b1, 'o-4')).status).toBe('approved');
  });

  it('HTTP failures are typed, one line, exit 1', async () => {
    let r = await fleet('show', 'hs-nope');
    expect(r.code).toBe(1);
    expect(r.err).toBe('handset: CLOUD_NOT_FOUND: GET /v1/devices/hs-nope: 404 NOT_FOUND (device "hs-nope" not found)\n');
    r = await fleet('lock', 'hs-nope');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: CLOUD_NOT_FOUND: POST \/v1\/devices\/hs-nope\/lock: 404/);

    process.env.HANDSET_API_TOKEN = 'wrong';
    try {
      r = await fleet('list');
    } finally {
      process.env.HANDSET_API_TOKEN = TOKEN;
    }
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "handset: CLOUD_UNAUTHORISED: GET /v1/devices: 401 UNAUTHORISED (missing or wrong bearer token); set HANDSET_API_TOKEN to the cloud's API token\n",
    );

    const io = recordingIo();
    expect(await main(['fleet', '--cloud', await closedPortUrl(), 'check'], io)).toBe(1);
    expect(io.stderr).toMatch(
      /^handset: CLOUD_UNREACHABLE: cannot reach the cloud at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n$/,
    );
    expect(io.stdout).toBe('');
  });

  it('the built bin: exit codes and --help', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, HANDSET_API_TOKEN: TOKEN, HANDSET_CLOUD_URL: cloud.httpUrl };
    const ok = await run('node', [HANDSET_BIN, 'fleet', '--json'], { env });
    expect(ok.stdout.trimEnd().split('\n')).toHaveLength(3);
    await expect(run('node', [HANDSET_BIN, 'fleet', 'show', 'hs-x'], { env })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('handset: CLOUD_NOT_FOUND'),
    });
    for (const cmd of ['fleet', 'provision']) {
      const help = await run('node', [HANDSET_BIN, cmd, '--help'], { env });
      expect(help.stdout).toContain(`Usage: handset ${cmd}`);
    }
  }, 60_000);

  it('check: the invariant report; exit 1 once the ledger is tampered with', async () => {
    let r = await fleet('check');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^invariants hold: \d+ accounts, \d+ booked transfers; sums EUR posted 0 pending 0\n$/);

    // money out of nowhere: alice's balance no longer equals her transfers
    const db = new Database(join(dir, 'cloud.db'));
    try {
      db.prepare("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = 'u:alice'").run();
    } finally {
      db.close();
    }
    r = await fleet('check');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^invariants BROKEN: /);
    expect(r.out).toMatch(/ {2}violation: .*u:alice/);
    expect(r.err).toMatch(/^handset: INVARIANTS_BROKEN: \d+ invariant violations? on the cloud\n$/);
    r = await fleet('--json', 'check');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({
      ok: false,
      violations: expect.arrayContaining([expect.stringContaining('u:alice')]),
    });
  });
});
