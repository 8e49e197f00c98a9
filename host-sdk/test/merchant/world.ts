/**
 * A merchant world on the REAL cloud (startCloud: SQLite in memory + embedded aedes +
 * HTTP API): a registered merchant, a funded consumer with a registered simulated handset
 * that pays over MQTT, and the terminal wired to the cloud through HttpCloudClient.
 */

import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { MqttPeer } from '../../src/cloud/mqtt/sim-client';
import { type RunningCloud, startCloud } from '../../src/cloud/service';
import { SimHandset } from '../../src/cloud/sim';
import { MerchantTerminal, type TerminalOptions } from '../../src/merchant';
import { HttpCloudClient } from '../../src/merchant/cloud-client';
import { protocolMpmEncoder } from '../../src/merchant/mpm';
import type { MerchantProfile } from '../../src/merchant/ports';
import { parseMpm } from '../../src/protocol/emv/mpm';
import { createTopics, encodeMessageText, type PaymentResult } from '../../src/protocol/index';

export const MERCHANT: MerchantProfile = {
  id: 'm-corner-cafe',
  name: 'Corner Cafe',
  city: 'Berlin',
  country: 'DE',
  mcc: '5812',
  terminalLabel: 'T1',
};

export interface MerchantWorld {
  merchant: MerchantProfile;
  cloud: RunningCloud;
  client: HttpCloudClient;
  terminal: MerchantTerminal;
  alice: SimHandset;
  /** alice's handset on MQTT (publishes authorisations, waits for results). */
  handset: MqttPeer;
  flagged: Parameters<NonNullable<TerminalOptions['onFlag']>>[0][];
  http<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** A further funded consumer with a registered handset (pay codes are single use per 15 s step and handset). */
  newHandset(account: string): Promise<SimHandset>;
  /** Reads the QR payload like a handset would and pays it (signed authorisation over MQTT). */
  payQr(payload: string, o?: { amount?: bigint }): Promise<PaymentResult>;
  /** A misbehaving cloud worker: publishes a hand-made result on the merchant's results topic. */
  forgeResult(result: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

const TEST_SEED_KEY = new Uint8Array(32).fill(9);
export const MOSQUITTO_URL = process.env.HANDSET_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

export interface WorldOptions extends Partial<TerminalOptions> {
  /**
   * Run on the machine's Mosquitto (127.0.0.1:1883, MQTT 5, the cloud on shared
   * subscriptions) under a random topic root and a random merchant id, instead of the
   * embedded aedes broker.
   */
  mosquitto?: boolean;
}

export async function merchantWorld(options: WorldOptions = {}): Promise<MerchantWorld> {
  const { mosquitto, ...terminalOptions } = options;
  const tag = randomBytes(4).toString('hex');
  const root = mosquitto ? `tmerchant${tag}/` : '';
  const merchant: MerchantProfile = mosquitto ? { ...MERCHANT, id: `m-t${tag}` } : MERCHANT;
  const protocolVersion = mosquitto ? 5 : 4;
  const cloud = await startCloud({
    store: 'sqlite::memory:',
    broker: mosquitto ? MOSQUITTO_URL : 'embedded',
    shared: mosquitto ? true : undefined,
    clientId: mosquitto ? `cloud-m${tag}` : undefined,
    root,
    seedKey: TEST_SEED_KEY,
    groupCommit: false,
  });
  const http = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(cloud.httpUrl + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const client = new HttpCloudClient({
    httpUrl: cloud.httpUrl,
    brokerUrl: cloud.brokerUrl,
    root,
    mqtt: { persistentSession: false, protocolVersion },
  });
  await client.ensureMerchant({ merchantId: merchant.id, name: merchant.name, currency: 'EUR' });
  await http('POST', '/v1/users', { account: 'alice', currency: 'EUR' });
  await http('POST', '/v1/users/alice/deposits', { amount: '100000', key: 'init' });
  const newHandset = async (account: string) => {
    await http('POST', '/v1/users', { account, currency: 'EUR' });
    await http('POST', `/v1/users/${account}/deposits`, { amount: '100000', key: 'init' });
    const h = new SimHandset({ deviceId: `hs-${account}${mosquitto ? `-${tag}` : ''}`, account });
    const r = await http<never>(
      'POST',
      '/v1/registrations',
      JSON.parse(encodeMessageText('registration.request', h.registrationRequest(Date.now()))),
    );
    h.accept(r.body);
    return h;
  };
  const alice = new SimHandset({ deviceId: mosquitto ? `hs-alice-${tag}` : 'hs-alice', account: 'alice' });
  const reg = await http<never>(
    'POST',
    '/v1/registrations',
    JSON.parse(encodeMessageText('registration.request', alice.registrationRequest(Date.now()))),
  );
  alice.accept(reg.body);
  const flagged: MerchantWorld['flagged'] = [];
  const terminal = new MerchantTerminal({
    merchant,
    cloud: client,
    mpm: protocolMpmEncoder,
    onFlag: (f) => flagged.push(f),
    ...terminalOptions,
  });
  await terminal.start();
  const handset = await new MqttPeer(alice.deviceId, { url: cloud.brokerUrl, root, protocolVersion }).connect();
  const forger = await mqtt.connectAsync(cloud.brokerUrl, {
    clientId: `cloud-forger${tag}`,
    username: `cloud-forger${tag}`,
    clean: true,
    reconnectPeriod: 0,
    protocolVersion,
  });
  const topics = createTopics(root);
  return {
    merchant,
    cloud,
    client,
    newHandset,
    terminal,
    alice,
    handset,
    flagged,
    http,
    async payQr(payload, o = {}) {
      const parsed = parseMpm(payload);
      if (!parsed.ok) throw new Error(`QR payload does not parse: ${JSON.stringify(parsed.problems)}`);
      const d = parsed.data;
      const auth = alice.authorise({
        merchantId: d.handset!.merchantId!,
        orderRef: d.handset!.orderRef!,
        amount: o.amount ?? d.amount!.minor!,
        currency: d.currency!.alpha!,
        nowMs: Date.now(),
      });
      return handset.pay(auth);
    },
    async forgeResult(result) {
      await forger.publishAsync(topics.merchantResults(merchant.id), JSON.stringify({ v: 1, type: 'result', ...result }), {
        qos: 1,
      });
    },
    async close() {
      await terminal.stop();
      await handset.close();
      await forger.endAsync(true);
      await cloud.stop();
    },
  };
}

/** Resolves when the terminal emits an update for `reference` that satisfies `pred`. */
export function waitForOrder(
  terminal: MerchantTerminal,
  reference: string,
  pred: (v: ReturnType<MerchantTerminal['get']>) => boolean,
  timeoutMs = 5000,
): Promise<ReturnType<MerchantTerminal['get']>> {
  const now = terminal.get(reference);
  if (pred(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      terminal.off('update', on);
      reject(new Error(`order ${reference} did not reach the expected state; it is ${terminal.get(reference).order.state}`));
    }, timeoutMs);
    const on = (v: ReturnType<MerchantTerminal['get']>) => {
      if (v.order.reference === reference && pred(v)) {
        clearTimeout(timer);
        terminal.off('update', on);
        resolve(v);
      }
    };
    terminal.on('update', on);
  });
}
