/**
 * Merchant terminal: how long after the handset publishes its authorisation does the
 * cashier see PAID? Measured side by side in one run on the real cloud (SQLite + embedded
 * aedes + HTTP API, this process): the handset's own result (baseline), the terminal's
 * amount comparison deciding PAID (results over MQTT), and the page's SSE event. Plus
 * order creation (QR encode + cloud HTTP round trip) and the comparison's own cost.
 */
import { request } from 'node:http';
import { compareAmounts } from '../host-sdk/src/merchant/amount-comparison';
import { startMerchantServer } from '../host-sdk/src/merchant/server';
import { merchantWorld } from '../host-sdk/test/merchant/world';
import type { BenchResult, BenchSuite } from './types';

const N = Number(process.env.BENCH_MERCHANT_PAYMENTS ?? 300);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function run(): Promise<BenchResult[]> {
  const w = await merchantWorld();
  const server = await startMerchantServer({ terminal: w.terminal });
  const paidAt = new Map<string, number>();
  const sseAt = new Map<string, number>();
  w.terminal.on('update', (v) => {
    if (v.order.state === 'paid' && !paidAt.has(v.order.reference)) paidAt.set(v.order.reference, performance.now());
  });
  const sse = request(`${server.url}api/events`, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m = /"reference":"([^"]+)","merchantId":"[^"]+","state":"paid"/.exec(frame);
        if (m?.[1] && !sseAt.has(m[1])) sseAt.set(m[1], performance.now());
        i = buf.indexOf('\n\n');
      }
    });
  });
  sse.on('error', () => undefined);
  sse.end();
  await new Promise((r) => setTimeout(r, 100));

  const create: number[] = [];
  const handset: number[] = [];
  const terminal: number[] = [];
  const page: number[] = [];
  for (let i = 0; i < N + 20; i++) {
    const t0 = performance.now();
    const o = await w.terminal.createOrder({ amount: { minor: BigInt(100 + i), currency: 'EUR' }, reference: `bench-${i}` });
    const t1 = performance.now();
    const r = await w.payQr(o.qrPayload);
    const t2 = performance.now();
    if (r.status !== 'approved') throw new Error(`payment ${i} declined: ${r.reason}`);
    while (!paidAt.has(`bench-${i}`) || !sseAt.has(`bench-${i}`)) await new Promise((res) => setImmediate(res));
    if (i < 20) continue; // warm-up
    create.push(t1 - t0);
    handset.push(t2 - t1);
    terminal.push(paidAt.get(`bench-${i}`)! - t1);
    page.push(sseAt.get(`bench-${i}`)! - t1);
  }
  sse.destroy();
  await server.close();
  const rep = await w.cloud.center.checkInvariants();
  await w.close();

  const due = { minor: 123456n, currency: 'EUR' };
  const reps = 200_000;
  const c0 = performance.now();
  for (let i = 0; i < reps; i++)
    compareAmounts({
      due,
      authorised: { minor: 123456n, currency: 'EUR' },
      booked: { minor: 123455n + BigInt(i & 1), currency: 'EUR' },
    });
  const perCompare = ((performance.now() - c0) * 1000) / reps;

  const p = (xs: number[]) => ({ p50: +pct(xs, 50).toFixed(2), p99: +pct(xs, 99).toFixed(2), max: +Math.max(...xs).toFixed(2) });
  return [
    {
      area: 'merchant',
      name: `scan-to-pay -> PAID on the terminal, p99 (n=${N})`,
      value: pct(terminal, 99),
      unit: 'ms',
      baseline: { name: 'handset result p99', value: pct(handset, 99) },
      ratio: pct(terminal, 99) / pct(handset, 99),
      target: 'terminal decides within +5 ms of the handset (p99)',
      pass: pct(terminal, 99) - pct(handset, 99) <= 5 && rep.ok,
      extra: { terminal: p(terminal), handset: p(handset), invariantsOk: rep.ok },
    },
    {
      area: 'merchant',
      name: `scan-to-pay -> PAID on the page (SSE), p99 (n=${N})`,
      value: pct(page, 99),
      unit: 'ms',
      baseline: { name: 'terminal PAID p99', value: pct(terminal, 99) },
      ratio: pct(page, 99) / pct(terminal, 99),
      target: 'page within +5 ms of the terminal (p99)',
      pass: pct(page, 99) - pct(terminal, 99) <= 5,
      extra: { page: p(page) },
    },
    {
      area: 'merchant',
      name: 'create order (MPM encode + cloud HTTP), p99',
      value: pct(create, 99),
      unit: 'ms',
      target: '<= 50 ms',
      pass: pct(create, 99) <= 50,
      extra: p(create),
    },
    {
      area: 'merchant',
      name: 'amount comparison (3 amounts, REJECTED path)',
      value: perCompare,
      unit: 'us',
      target: '<= 10 us',
      pass: perCompare <= 10,
    },
  ];
}

export const suite: BenchSuite = { area: 'merchant', run };
