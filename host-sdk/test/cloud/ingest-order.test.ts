/**
 * The MQTT ingest keeps each sender's messages in order across concurrent batches: a
 * handset's counter n is always decided before n+1, even when batches finish out of
 * order (an outbox resends several payments at once after a reconnect). Real aedes broker
 * in-process; the decider records what it got and finishes batches after random delays.
 */
import { systemClock } from '@handset/device-drivers/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuthInput, CloudCenter, Outcome } from '../../src/cloud/center';
import type { Decider } from '../../src/cloud/decision-thread';
import { startEmbeddedBroker } from '../../src/cloud/mqtt/broker';
import { CloudIngest } from '../../src/cloud/mqtt/ingest';
import { createTopics } from '../../src/protocol/index';

describe('CloudIngest ordering', () => {
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const s of stops.reverse()) await s();
  });

  it('never decides a device in two batches at once, and decides its messages in arrival order', async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
    stops.push(() => broker.close());
    const decided = new Map<string, number[]>();
    const inFlight = new Set<string>();
    let overlaps = 0;
    let batches = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const decider: Decider = {
      async authorise(inputs: readonly AuthInput[]): Promise<Outcome[]> {
        batches++;
        maxConcurrent = Math.max(maxConcurrent, ++concurrent);
        const mine = new Set(inputs.map((i) => i.topicDeviceId!));
        for (const d of mine) if (inFlight.has(d)) overlaps++;
        for (const d of mine) inFlight.add(d);
        for (const i of inputs) {
          const { seq } = JSON.parse(Buffer.from(i.payload as Uint8Array).toString()) as { seq: number };
          decided.set(i.topicDeviceId!, [...(decided.get(i.topicDeviceId!) ?? []), seq]);
        }
        await new Promise((r) => setTimeout(r, Math.random() * 8)); // batches finish out of order
        for (const d of mine) inFlight.delete(d);
        concurrent--;
        return inputs.map(() => ({ kind: 'rejected', code: 'TEST', message: 'recorded' }));
      },
      async charge() {
        return [];
      },
    };
    const center = { clock: systemClock } as unknown as CloudCenter;
    const ingest = new CloudIngest({ center, decider, embedded: broker, maxBatch: 3, concurrency: 4 });
    await ingest.start();
    stops.push(() => ingest.stop());
    const topics = createTopics('');
    const devices = Array.from({ length: 6 }, (_, i) => `hs-${i}`);
    const PER = 10;
    for (let seq = 0; seq < PER; seq++) {
      for (const d of devices) {
        broker.aedes.publish(
          {
            cmd: 'publish',
            topic: topics.auth(d),
            payload: Buffer.from(JSON.stringify({ seq })),
            qos: 1,
            retain: false,
            dup: false,
          },
          () => undefined,
        );
      }
    }
    const deadline = Date.now() + 10_000;
    while ([...decided.values()].reduce((n, xs) => n + xs.length, 0) < devices.length * PER && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    await ingest.settle();
    for (const d of devices) expect(decided.get(d)).toEqual(Array.from({ length: PER }, (_, k) => k));
    expect(overlaps).toBe(0);
    // and the batches did run concurrently (the property is not trivially true)
    expect(maxConcurrent).toBeGreaterThan(1);
    expect(batches).toBeGreaterThan((devices.length * PER) / 3 - 1);
  });
});
