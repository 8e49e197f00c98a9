/**
 * Uplink on the real embedded broker (aedes, with the contract's ACL): entries queued
 * while offline are published on connect; the first result stands over a duplicate or a
 * different replay; a result for another device on our topic is refused; backoff delays
 * are jittered and capped; TCP_NODELAY is on.
 */
import type { Socket } from 'node:net';
import { type EmbeddedBroker, startEmbeddedBroker } from '@handset/host-sdk/cloud';
import { createTopics, encodeMessage, type PaymentResult } from '@handset/host-sdk/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, MemoryOutboxStore, Uplink } from '../../src/uplink/index';

let broker: EmbeddedBroker;
beforeAll(async () => {
  broker = await startEmbeddedBroker();
});
afterAll(async () => broker?.close());

const topics = createTopics('');
const result = (paymentId: string, status: 'approved' | 'declined'): PaymentResult => ({
  v: 1,
  type: 'result',
  paymentId,
  flow: 'scan',
  deviceId: 'hs-up-1',
  merchantId: 'm-x',
  orderRef: 'R1',
  status,
  ...(status === 'approved' ? { ledgerTransferId: `pc-${paymentId}` } : { reason: 'insufficient_funds' as const }),
  currency: 'EUR',
  authorisedAmount: 100n,
  bookedAmount: status === 'approved' ? 100n : 0n,
  receivedAt: 1,
  decidedAt: 2,
});
const PID = '01890a5d-ac96-7a4b-8c3e-1f2a3b4c5d6e';

describe('backoff', () => {
  it('full jitter under a capped exponential ceiling', () => {
    expect(backoffDelay(0, { random: () => 0.999 })).toBe(249);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(1000);
    expect(backoffDelay(40, { random: () => 0.999 })).toBe(9990);
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
  });
});

describe('uplink on aedes', () => {
  it('offline entries are sent on connect; first result stands; foreign results refused', async () => {
    const outbox = new MemoryOutboxStore();
    const up = new Uplink({ url: broker.url, deviceId: 'hs-up-1', outbox, resendMs: 60_000 });
    await up.send({ id: PID, kind: 'auth', topic: topics.auth('hs-up-1'), payload: '{"x":1}' });
    expect((await outbox.get(PID))?.attempts).toBe(0);

    // the "cloud": sees the auth, answers approved, then a duplicate and a contradicting replay
    const cloud = await mqtt.connectAsync(broker.url, { clientId: 'cloud', username: 'cloud' });
    const seen: string[] = [];
    cloud.on('message', (_t, p) => seen.push(p.toString()));
    await cloud.subscribeAsync('handset/v1/+/auth', { qos: 1 });
    const invalid: string[] = [];
    up.on('invalid', (_t, code) => invalid.push(code));
    await up.start(5_000);
    expect((up.link as unknown as { client: { stream: Socket } }).client.stream.setNoDelay).toBeTypeOf('function');
    await expect.poll(() => seen.length).toBe(1);
    expect((await outbox.get(PID))?.attempts).toBe(1);
    const waiting = up.resultOf(PID, 5_000);
    await cloud.publishAsync(topics.result('hs-up-1'), Buffer.from(encodeMessage('result', result(PID, 'approved'))), { qos: 1 });
    expect((await waiting)?.status).toBe('approved');
    const flags: boolean[] = [];
    up.on('result', (_r, info) => flags.push(info.first));
    await cloud.publishAsync(topics.result('hs-up-1'), Buffer.from(encodeMessage('result', result(PID, 'approved'))), { qos: 1 });
    await cloud.publishAsync(topics.result('hs-up-1'), Buffer.from(encodeMessage('result', result(PID, 'declined'))), { qos: 1 });
    await cloud.publishAsync(topics.result('hs-up-1'), Buffer.from('{"not":"a result"}'), { qos: 1 });
    await expect.poll(() => flags.length + invalid.length).toBe(3);
    expect(flags).toEqual([false, false]);
    expect(invalid).toEqual(['MESSAGE_INVALID']);
    expect((await up.resultOf(PID, 10))?.status).toBe('approved');
    await cloud.endAsync();
    await up.stop();
  });

  it('a device cannot publish under another id (broker ACL): nothing leaves for hs-other', async () => {
    const outbox = new MemoryOutboxStore();
    const up = new Uplink({ url: broker.url, deviceId: 'hs-up-2', outbox, publishTimeoutMs: 500 });
    await up.start(5_000);
    const cloud = await mqtt.connectAsync(broker.url, { clientId: 'cloud-2', username: 'cloud-2' });
    const seen: string[] = [];
    cloud.on('message', (t) => seen.push(t));
    await cloud.subscribeAsync('handset/v1/+/auth', { qos: 1 });
    await up.send({ id: PID, kind: 'auth', topic: topics.auth('hs-other'), payload: '{}' });
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);
    // refused publishes never count as sent; the entry stays for a resend
    expect((await outbox.get(PID))?.attempts).toBe(0);
    await cloud.endAsync();
    await up.stop();
  });
});
