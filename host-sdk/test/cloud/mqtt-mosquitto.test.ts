/**
 * Mosquitto: (1) our own mosquitto process with the generated ACL refuses a device
 * publishing or reading under another device's id; (2) two cloud workers on MQTT 5
 * shared subscriptions (`$share/cloud/...`, the machine's Mosquitto at 127.0.0.1:1883,
 * a topic root unique to this run) split the load over one store - on SQLite and on
 * PostgreSQL - with every message delivered twice, and every invariant holding.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@handset/device-drivers/core';
import { afterEach, describe, expect, it } from 'vitest';
import { CloudCenter } from '../../src/cloud/center';
import { ledgerIds } from '../../src/cloud/ids';
import { memoryLogger } from '../../src/cloud/log';
import { startMosquitto, writeMosquittoConfig } from '../../src/cloud/mqtt/mosquitto';
import { MqttPeer } from '../../src/cloud/mqtt/sim-client';
import { SeedVault } from '../../src/cloud/registry/vault';
import { type RunningCloud, startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import { encodeMessageText } from '../../src/protocol/index';
import { freePort, freshStores, PG_URL, STORE_KINDS, TEST_KEY } from './fixtures';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('Mosquitto with the generated ACL (own process)', () => {
  it('a device can neither publish nor read under another device id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mosq-'));
    chmodSync(dir, 0o755); // mosquitto started as root drops to its own user, which must read the ACL
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const conf = writeMosquittoConfig({ dir, port, cloudUsers: ['cloud-1'] });
    const mosq = await startMosquitto(conf, port);
    cleanups.push(() => mosq.stop());
    const fresh = await freshStores('sqlite', systemClock);
    cleanups.push(fresh.cleanup);
    await fresh.stores.close();
    const cloud = await startCloud({ store: fresh.spec, broker: mosq.url, clientId: 'cloud-1', shared: true, seedKey: TEST_KEY });
    cleanups.push(() => cloud.stop());
    const c = cloud.center;
    await c.createUser({ account: 'alice', currency: 'EUR' });
    await c.deposit('alice', 10_000n, 'init');
    await c.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
    const alice = new SimHandset({ deviceId: 'hs-alice', account: 'alice' });
    alice.accept(await c.register(alice.registrationRequest(Date.now())));
    const hsA = await new MqttPeer('hs-alice', { url: mosq.url }).connect();
    const hsB = await new MqttPeer('hs-bob', { url: mosq.url }).connect();
    cleanups.push(
      () => hsA.close(),
      () => hsB.close(),
    );
    await hsB.client!.subscribeAsync(hsB.topics.result('hs-alice'), { qos: 1 }).catch(() => undefined);
    await c.createOrder({ merchantId: 'm-shop', orderRef: 'o-spoof', amount: 100n, currency: 'EUR' });
    await c.createOrder({ merchantId: 'm-shop', orderRef: 'o-real', amount: 100n, currency: 'EUR' });
    const spoof = alice.authorise({
      merchantId: 'm-shop',
      orderRef: 'o-spoof',
      amount: 100n,
      currency: 'EUR',
      nowMs: Date.now(),
    });
    await hsB.publishRaw(hsB.topics.auth('hs-alice'), encodeMessageText('authorisation', spoof));
    const real = alice.authorise({ merchantId: 'm-shop', orderRef: 'o-real', amount: 100n, currency: 'EUR', nowMs: Date.now() });
    const r = await hsA.pay(real);
    expect(r.status).toBe('approved');
    await new Promise((res) => setTimeout(res, 200));
    expect(cloud.ingest!.stats.received).toBe(1);
    expect(await c.registry.read.getPayment(spoof.paymentId)).toBeUndefined();
    expect(hsB.received).toEqual([]);
    expect((await c.checkInvariants()).violations).toEqual([]);
  });
});

for (const kind of STORE_KINDS) {
  describe(`two cloud workers on Mosquitto shared subscriptions, ${kind}`, () => {
    it('split the load; every message twice; replays, forgeries and stale counters; each payment booked once', async () => {
      const root = `t${randomBytes(5).toString('hex')}/`;
      const fresh = await freshStores(kind, systemClock);
      cleanups.push(fresh.cleanup);
      const store = kind === 'sqlite' ? fresh.spec : PG_URL;
      const log = memoryLogger();
      const workers: RunningCloud[] = [];
      for (const id of ['cloud-1', 'cloud-2']) {
        const w = await startCloud({
          store,
          schema: fresh.schema,
          broker: 'mqtt://127.0.0.1:1883',
          shared: true,
          clientId: id,
          root,
          seedKey: TEST_KEY,
          logger: log,
          httpPort: 0,
        });
        workers.push(w);
        cleanups.push(() => w.stop());
      }
      const center = new CloudCenter({
        registry: fresh.stores.registry,
        ledger: fresh.stores.ledger,
        vault: new SeedVault(TEST_KEY),
      });
      await center.createMerchant({ merchantId: 'm-shop', currency: 'EUR' });
      const handsets: SimHandset[] = [];
      const peers: MqttPeer[] = [];
      for (let i = 0; i < 8; i++) {
        await center.createUser({ account: `u${i}`, currency: 'EUR' });
        await center.deposit(`u${i}`, 10_000n, 'init');
        const h = new SimHandset({ deviceId: `hs-${i}`, account: `u${i}` });
        h.accept(await center.register(h.registrationRequest(Date.now())));
        handsets.push(h);
        const p = await new MqttPeer(h.deviceId, { url: 'mqtt://127.0.0.1:1883', root, protocolVersion: 5 }).connect();
        peers.push(p);
        cleanups.push(() => p.close());
      }
      let expected = 0n;
      const firstAuths: Array<{ peer: MqttPeer; auth: ReturnType<SimHandset['authorise']> }> = [];
      await Promise.all(
        handsets.map(async (h, i) => {
          const peer = peers[i]!;
          for (let k = 0; k < 6; k++) {
            const ref = `o-${i}-${k}`;
            const amount = BigInt(100 + i * 10 + k);
            await center.createOrder({ merchantId: 'm-shop', orderRef: ref, amount, currency: 'EUR' });
            const auth = h.authorise({ merchantId: 'm-shop', orderRef: ref, amount, currency: 'EUR', nowMs: Date.now() });
            if (k === 0) firstAuths.push({ peer, auth });
            const dup = peer.publishRaw(peer.topics.auth(h.deviceId), encodeMessageText('authorisation', auth));
            const r = await peer.pay(auth, 1_000);
            await dup;
            expect(r).toMatchObject({ status: 'approved', bookedAmount: amount });
            expected += amount;
          }
        }),
      );
      // replays of old messages get their first outcome; forged and stale ones are declined
      for (const { peer, auth } of firstAuths) {
        const again = await peer.pay(auth, 1_000);
        expect(again).toMatchObject({ status: 'approved', paymentId: auth.paymentId });
      }
      const h0 = handsets[0]!;
      await center.createOrder({ merchantId: 'm-shop', orderRef: 'late', amount: 50n, currency: 'EUR' });
      const stale = h0.authorise({
        merchantId: 'm-shop',
        orderRef: 'late',
        amount: 50n,
        currency: 'EUR',
        nowMs: Date.now(),
        counter: 2,
      });
      expect(await peers[0]!.pay(stale, 1_000)).toMatchObject({ status: 'declined', reason: 'stale_counter' });
      const good = h0.authorise({
        merchantId: 'm-shop',
        orderRef: 'late',
        amount: 50n,
        currency: 'EUR',
        nowMs: Date.now(),
        counter: 100,
      });
      expect(await peers[0]!.pay({ ...good, amount: 1n }, 1_000)).toMatchObject({ status: 'declined', reason: 'bad_signature' });
      expect(await peers[0]!.pay(good, 1_000)).toMatchObject({ status: 'approved' });
      expected += 50n;

      for (const w of workers) await w.ingest!.settle();
      const got = workers.map((w) => w.ingest!.stats.received);
      expect(got[0]).toBeGreaterThan(0);
      expect(got[1]).toBeGreaterThan(0);
      expect(got[0]! + got[1]!).toBeGreaterThanOrEqual(8 * 6 * 2 + 8 + 3);
      const [m] = await center.ledger.lookupAccounts([ledgerIds.merchant('m-shop')]);
      expect(m!.creditsPosted - m!.debitsPosted).toBe(expected);
      const rep = await center.checkInvariants();
      expect(rep.violations).toEqual([]);
      expect((await center.registry.read.listPayments({ status: 'approved', limit: 1000 })).length).toBe(8 * 6 + 1);
    }, 60_000);
  });
}
