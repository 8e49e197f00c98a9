/**
 * `handset provision` against a real cloud (startCloud: embedded aedes, SQLite in a temp
 * dir, bearer token) and the simulated R307 served on one end of a socat pty pair, the
 * real driver on the other: the cloud's device record carries the sensor's slots and
 * template digests, the data directory's keystore opens with its device secret and holds
 * the cloud's seed (a pay code made from it is charged by the cloud), a rerun replays,
 * and every refusal is a typed error with exit 1 and nothing half-written.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManualClock } from '@handset/device-drivers/core';
import { R307, SimR307 } from '@handset/device-drivers/r307';
import { openPtyPair, type PtyPair, SerialPortUart } from '@handset/device-drivers/transport/linux';
import { FileKeystoreStorage, Keystore } from '@handset/firmware/keystore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDSET_BIN } from '../../../hil-tests/src/built-cli';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';
import { freePort } from '../../src/cloud/mqtt/mosquitto';
import { type RunningCloud, startCloud } from '../../src/cloud/service';
import { generatePaycode, nodeCrypto, toBase64Url } from '../../src/protocol/index';
import { provisionRequestId } from '../../src/provision/provision';

const TOKEN = 'provision-test-token';
const SEED_KEY = 'ab'.repeat(32);

/** A URL where nothing listens. */
const closedPortUrl = async () => `http://127.0.0.1:${await freePort()}`;

describe('handset provision (real cloud, simulated R307 on a pty)', () => {
  let cloud: RunningCloud;
  let root: string;
  let pty: PtyPair;
  let sim: SimR307;
  const savedToken = process.env.HANDSET_API_TOKEN;

  async function http(method: string, path: string, body?: unknown) {
    const res = await fetch(cloud.httpUrl + path, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function provision(args: string[]) {
    const io = recordingIo();
    const code = await main(['provision', ...args], io);
    return { code, out: io.stdout, err: io.stderr };
  }

  /** `handset provision` with the usual flags (account alice, this cloud, the sensor on the pty), then `extra`. */
  const provisionDevice = (
    o: { device: string; dataDir: string; account?: string; cloud?: string; sensor?: boolean },
    ...extra: string[]
  ) =>
    provision([
      '--device-id',
      o.device,
      '--account',
      o.account ?? 'alice',
      '--cloud',
      o.cloud ?? cloud.httpUrl,
      '--data-dir',
      o.dataDir,
      ...(o.sensor === false ? [] : ['--port', pty.b]),
      ...extra,
    ]);

  const dir = (name: string) => join(root, name);
  const sha = (b: Uint8Array | undefined) =>
    createHash('sha256')
      .update(b ?? new Uint8Array())
      .digest('hex');

  function openKeystore(d: string, deviceId: string) {
    return Keystore.open({
      deviceId,
      storage: new FileKeystoreStorage(join(d, 'keystore.json')),
      deviceSecret: readFileSync(join(d, 'device.secret')),
    });
  }

  beforeAll(async () => {
    process.env.HANDSET_API_TOKEN = TOKEN;
    root = mkdtempSync(join(tmpdir(), 'provision-'));
    cloud = await startCloud({
      store: `sqlite:${join(root, 'cloud')}`,
      broker: 'embedded',
      brokerPort: 0,
      httpPort: 0,
      seedKey: SEED_KEY,
      apiToken: TOKEN,
    });
    expect((await http('POST', '/v1/users', { account: 'alice', currency: 'EUR' })).status).toBe(201);
    expect((await http('POST', '/v1/users/alice/deposits', { amount: '10000', key: 'init' })).status).toBe(201);
    expect((await http('POST', '/v1/merchants', { merchantId: 'm-shop', currency: 'EUR' })).status).toBe(201);

    // two fingers enrolled on the simulated sensor through the real driver over the pty
    pty = await openPtyPair();
    sim = new SimR307({ clock: new ManualClock() });
    await sim.attach(new SerialPortUart({ path: pty.a, baudRate: 57600 }));
    await sim.whenReady();
    const driver = new R307({ uart: new SerialPortUart({ path: pty.b, baudRate: 57600 }), pollIntervalMs: 20 });
    await driver.open();
    sim.placeFinger('alice-thumb', { presence: 'alternate' });
    expect(await driver.enroll(3)).toEqual({ slot: 3 });
    sim.placeFinger('alice-index', { presence: 'alternate' });
    expect(await driver.enroll(7)).toEqual({ slot: 7 });
    sim.liftFinger();
    await driver.close();
    expect(sim.templates()).toEqual([3, 7]);
  }, 60_000);

  afterAll(async () => {
    if (savedToken === undefined) delete process.env.HANDSET_API_TOKEN;
    else process.env.HANDSET_API_TOKEN = savedToken;
    await sim?.detach();
    await pty?.close();
    if (cloud) {
      expect((await cloud.center.checkInvariants()).violations).toEqual([]);
      await cloud.stop();
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('provisions with the 2 enrolled slots: cloud record, sealed seed, config; no secret printed', async () => {
    const d = dir('hs-p1');
    const r = await provisionDevice({ device: 'hs-p1', dataDir: d });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('provisioned hs-p1 for account alice');
    expect(r.out).toMatch(/registration registered; pay-code index \d{10}/);
    expect(r.out).toContain('device key   generated');

    // the cloud's record: the two slots with the SHA-256 of the templates the sensor stores
    const dev = await http('GET', '/v1/devices/hs-p1');
    expect(dev.status).toBe(200);
    expect(dev.body.account).toBe('alice');
    expect(dev.body.enrolments).toEqual([
      { slot: 3, templateSha256: sha(sim.template(3)) },
      { slot: 7, templateSha256: sha(sim.template(7)) },
    ]);
    expect(sha(sim.template(3))).not.toBe(sha(sim.template(7)));

    // the data directory: 0600 files, the keystore opens with the secret and holds the seed
    for (const f of ['device.secret', 'keystore.json', 'handset.env']) expect(existsSync(join(d, f))).toBe(true);
    expect(statSync(join(d, 'device.secret')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'keystore.json')).mode & 0o777).toBe(0o600);
    expect(readdirSync(d).sort()).toEqual(['device.secret', 'handset.env', 'keystore.json']);
    const ks = openKeystore(d, 'hs-p1');
    expect(ks.publicKey).toBe(dev.body.publicKey);
    expect(ks.registration?.account).toBe('alice');
    expect(ks.registration?.requestId).toBe(dev.body.registrationId);
    expect(ks.enrolments).toEqual(dev.body.enrolments);
    expect(ks.paycode?.index).toBe(dev.body.paycodeIndex);
    const seed = ks.paycodeSeed(ks.unlock({ slot: 3, score: 100 }));
    expect(seed.length).toBe(32);
    const keystoreText = readFileSync(join(d, 'keystore.json'), 'utf8');
    expect(keystoreText).not.toContain(toBase64Url(seed));
    expect(r.out).not.toContain(toBase64Url(seed));
    expect(r.out).not.toContain(JSON.parse(keystoreText).privateKey.ct);

    // the seed is the cloud's: a pay code made from it is charged
    await http('POST', '/v1/merchants/m-shop/orders', { orderRef: 'o-prov-1', amount: '420', currency: 'EUR' });
    const code = generatePaycode(nodeCrypto, { seed, index: ks.paycode?.index ?? '', nowMs: Date.now() }).code;
    const charge = await http('POST', '/v1/merchants/m-shop/charges', {
      paymentId: '019ad000-0000-7000-8000-000000000001',
      orderRef: 'o-prov-1',
      code,
      amount: '420',
      currency: 'EUR',
    });
    expect(charge.status).toBe(200);
    expect((charge.body.result as { status: string; deviceId: string }).status).toBe('approved');
    expect((charge.body.result as { deviceId: string }).deviceId).toBe('hs-p1');

    // the handset config: what the systemd unit's EnvironmentFile reads
    const env = readFileSync(join(d, 'handset.env'), 'utf8');
    expect(env).toContain('HANDSET_DEVICE_ID=hs-p1\n');
    expect(env).toContain(`HANDSET_BROKER_URL=${cloud.brokerUrl}\n`);
  }, 60_000);

  it('a second run replays: same key, same grant, same request id', async () => {
    const d = dir('hs-p1');
    const before = openKeystore(d, 'hs-p1');
    const seedBefore = before.paycodeSeed(before.unlock({ slot: 3, score: 100 }));
    const r = await provisionDevice({ device: 'hs-p1', dataDir: d }, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s).toMatchObject({ deviceId: 'hs-p1', registration: 'replayed', keyCreated: false, publicKey: before.publicKey });
    expect(s.enrolments.map((e: { slot: number }) => e.slot)).toEqual([3, 7]);
    const after = openKeystore(d, 'hs-p1');
    expect(after.publicKey).toBe(before.publicKey);
    expect(after.paycodeSeed(after.unlock({ slot: 3, score: 100 }))).toEqual(seedBefore);
    expect(after.registration?.requestId).toBe(provisionRequestId('hs-p1', 'alice', before.publicKey));
    expect((await http('GET', '/v1/devices')).body.devices).toHaveLength(1);
  }, 60_000);

  it('a replay whose enrolment differs from the cloud record is refused, the keystore untouched', async () => {
    const d = dir('hs-p1');
    const bytes = readFileSync(join(d, 'keystore.json'));
    const r = await provisionDevice({ device: 'hs-p1', dataDir: d }, '--slots', '7');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: ENROLMENT_MISMATCH: the cloud registered hs-p1 with slots 3,7, the sensor holds 7;/);
    expect(readFileSync(join(d, 'keystore.json'))).toEqual(bytes);
  }, 60_000);

  it('the same device id with another key (a fresh directory) is refused, nothing written', async () => {
    const d = dir('hs-p1-again');
    const r = await provisionDevice({ device: 'hs-p1', dataDir: d });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: DEVICE_KEY_MISMATCH: the cloud already has hs-p1 with another device key/);
    expect(existsSync(d) ? readdirSync(d) : []).toEqual([]);
  }, 60_000);

  it('a refused registration (unknown account) removes the key it wrote', async () => {
    const d = dir('hs-p2');
    const r = await provisionDevice({ device: 'hs-p2', dataDir: d, account: 'nobody' });
    expect(r.code).toBe(1);
    expect(r.err).toBe('handset: REGISTRATION_REJECTED: the cloud refused to register hs-p2: unknown_account\n');
    expect(existsSync(d) ? readdirSync(d) : []).toEqual([]);
    expect((await http('GET', '/v1/devices/hs-p2')).status).toBe(404);
  }, 60_000);

  it('a cloud that does not answer, a wrong token, a bad URL: typed errors, nothing written', async () => {
    const d = dir('hs-p3');
    let r = await provisionDevice({ device: 'hs-p3', dataDir: d, cloud: await closedPortUrl() });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: CLOUD_UNREACHABLE: cannot reach the cloud at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\n$/);
    expect(existsSync(d)).toBe(false);

    process.env.HANDSET_API_TOKEN = 'wrong';
    try {
      r = await provisionDevice({ device: 'hs-p3', dataDir: d });
    } finally {
      process.env.HANDSET_API_TOKEN = TOKEN;
    }
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: CLOUD_UNAUTHORISED: GET \/health: 401 UNAUTHORISED .*HANDSET_API_TOKEN/);
    expect(existsSync(d)).toBe(false);

    r = await provisionDevice({ device: 'hs-p3', dataDir: d, cloud: 'ftp://x' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: CLOUD_URL_INVALID:/);
    expect(existsSync(d)).toBe(false);
  }, 60_000);

  it('refuses without a sensor unless --no-fingerprint, an empty slot, a keystore without its secret', async () => {
    let r = await provisionDevice({ device: 'hs-p4', dataDir: dir('hs-p4'), sensor: false });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: NO_ENROLMENT: no sensor .*--port, or --no-fingerprint/);
    expect(existsSync(dir('hs-p4'))).toBe(false);

    r = await provisionDevice({ device: 'hs-p4', dataDir: dir('hs-p4') }, '--slots', '3,9');
    expect(r.code).toBe(1);
    expect(r.err).toBe('handset: SLOT_EMPTY: slot 9 of the sensor holds no template (occupied: 3,7)\n');
    expect(existsSync(dir('hs-p4'))).toBe(false);

    r = await provisionDevice({ device: 'hs-p4', dataDir: dir('hs-p4'), sensor: false }, '--slots', 'x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: INVALID: --slots 'x'/);

    mkdirSync(dir('orphan'));
    writeFileSync(join(dir('orphan'), 'keystore.json'), '{}');
    r = await provisionDevice({ device: 'hs-p4', dataDir: dir('orphan'), sensor: false }, '--no-fingerprint');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^handset: SECRET_MISSING:/);
    expect(readdirSync(dir('orphan'))).toEqual(['keystore.json']);
  }, 60_000);

  it('--no-fingerprint: key and config, no registration; a later run with the sensor registers that key', async () => {
    const d = dir('hs-p5');
    let r = await provisionDevice(
      { device: 'hs-p5', dataDir: d, sensor: false },
      '--no-fingerprint',
      '--broker',
      'mqtt://10.0.0.2:1883',
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('registration skipped');
    const ks = openKeystore(d, 'hs-p5');
    expect(ks.registration).toBeUndefined();
    expect(ks.paycode).toBeUndefined();
    expect(readFileSync(join(d, 'handset.env'), 'utf8')).toContain('HANDSET_BROKER_URL=mqtt://10.0.0.2:1883\n');
    expect((await http('GET', '/v1/devices/hs-p5')).status).toBe(404);

    r = await provisionDevice({ device: 'hs-p5', dataDir: d }, '--slots', '7');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('device key   kept (already present)');
    const dev = await http('GET', '/v1/devices/hs-p5');
    expect(dev.body.publicKey).toBe(ks.publicKey);
    expect(dev.body.enrolments).toEqual([{ slot: 7, templateSha256: sha(sim.template(7)) }]);
    expect(readFileSync(join(d, 'handset.env'), 'utf8')).toContain(`HANDSET_BROKER_URL=${cloud.brokerUrl}\n`);
  }, 60_000);

  it('the bench flow in processes: `handset sim r307` on a pty, built `handset enroll`, built `handset provision`', async () => {
    const pair = await openPtyPair();
    const state = join(root, 'r307-state.json');
    const child = spawn('node', [HANDSET_BIN, 'sim', 'r307', '--port', pair.a, '--finger', 'zoe', '--state', state], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const run = promisify(execFile);
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('ready')) {
        if (Date.now() > deadline) throw new Error(`sim did not become ready: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const enrol = await run('node', [HANDSET_BIN, 'enroll', '--port', pair.b, '--slot', '4']);
      expect(enrol.stdout).toContain('enrolled at slot 4');
      const d = dir('hs-bench');
      const env = { ...process.env, HANDSET_API_TOKEN: TOKEN };
      const args = [
        'provision',
        '--device-id',
        'hs-bench',
        '--account',
        'alice',
        '--cloud',
        cloud.httpUrl,
        '--data-dir',
        d,
        '--port',
        pair.b,
        '--json',
      ];
      const first = JSON.parse((await run('node', [HANDSET_BIN, ...args], { env })).stdout);
      const template = JSON.parse(readFileSync(state, 'utf8')).library['4'] as string;
      const digest = createHash('sha256').update(Buffer.from(template, 'hex')).digest('hex');
      expect(first).toMatchObject({ registration: 'registered', enrolments: [{ slot: 4, templateSha256: digest }] });
      expect((await http('GET', '/v1/devices/hs-bench')).body.enrolments).toEqual([{ slot: 4, templateSha256: digest }]);
      const again = JSON.parse((await run('node', [HANDSET_BIN, ...args], { env })).stdout);
      expect(again).toMatchObject({ registration: 'replayed', publicKey: first.publicKey, paycodeIndex: first.paycodeIndex });
      await expect(run('node', [HANDSET_BIN, ...args.slice(0, -3)], { env })).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringMatching(/^handset: NO_ENROLMENT: /),
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await pair.close();
    }
  }, 90_000);
});
