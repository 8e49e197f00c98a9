/**
 * `handset run` end to end through the built bin: start it on a temp state directory,
 * wait for the URLs, GET each page, run one scan-to-pay and one show-to-pay payment
 * through the pages' HTTP endpoints only (merchant page API + virtual handset page API),
 * then SIGINT: exit 0 within a few seconds. Also `handset demo` through the bin.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HANDSET_BIN } from '../src/built-cli';

const dir = mkdtempSync(join(tmpdir(), 'handset-run-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]) {
  const child = spawn('node', [HANDSET_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, exited, out: () => out, err: () => err };
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const post = async (url: string, body: unknown) => {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('handset run (built bin)', () => {
  it('prints the URLs, serves both pages, takes a payment of each flow through the pages, stops on SIGINT with exit 0', async () => {
    const p = start(['run', '--data', dir, '--json']);
    const ready = await until('the ready line', () => {
      const line = p
        .out()
        .split('\n')
        .find((l) => l.includes('"event":"ready"'));
      if (p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode}: ${p.err()}`);
      return line ? (JSON.parse(line) as { cloud: string; broker: string; merchant: string; handset: string }) : undefined;
    });
    expect(ready.broker).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    for (const url of [ready.merchant, ready.handset]) {
      const r = await fetch(url);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain('<html');
    }
    const health = await fetch(`${ready.cloud}/health`);
    expect(health.status).toBe(200);
    // a file store: the payments below are decided on the cloud's decision thread (dist/decision-worker.js)
    expect(await health.json()).toMatchObject({ decisionThread: true, decisionThreadRunning: true });
    const png = await fetch(`${ready.handset}panel.png`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');

    // scan to pay: merchant order on its page, alice's finger, "scan the merchant's QR"
    const order = await post(`${ready.merchant}api/orders`, { amount: '12.50', currency: 'EUR' });
    expect(order.status).toBe(201);
    const ref = order.body.reference as string;
    expect((await post(`${ready.handset}api/finger`, { name: 'alice' })).status).toBe(200);
    expect((await post(`${ready.handset}api/scan`, {})).body).toEqual({ orderRef: ref });
    const paid = await until('PAID on the merchant page', async () => {
      const o = (await (await fetch(`${ready.merchant}api/orders/${ref}`)).json()) as { comparison?: { verdict: string } };
      return o.comparison?.verdict;
    });
    expect(paid).toBe('PAID');
    const st = await until('the handset receipt', async () => {
      const s = (await (await fetch(`${ready.handset}api/status`)).json()) as { state: string; lastOutcome?: { status: string } };
      return s.lastOutcome ? s : undefined;
    });
    expect(st.lastOutcome?.status).toBe('paid');

    // over the step-up limit: finger, scan, then the demo PIN on the page's keypad
    const big = await post(`${ready.merchant}api/orders`, { amount: '75.00', currency: 'EUR' });
    const bigRef = big.body.reference as string;
    await post(`${ready.handset}api/finger`, { name: 'alice' });
    expect((await post(`${ready.handset}api/scan`, {})).body).toEqual({ orderRef: bigRef });
    const asked = await until('the PIN prompt', async () => {
      const s = (await (await fetch(`${ready.handset}api/status`)).json()) as { state: string; pin: { entered: number } | null };
      return s.pin ? s : undefined;
    });
    expect(asked).toMatchObject({ state: 'step-up', pin: { entered: 0 } });
    expect((await post(`${ready.handset}api/key`, { key: 'x' })).status).toBe(400);
    for (const key of [...'2468', 'enter']) expect((await post(`${ready.handset}api/key`, { key })).status).toBe(200);
    const bigPaid = await until('the step-up payment PAID on the merchant page', async () => {
      const o = (await (await fetch(`${ready.merchant}api/orders/${bigRef}`)).json()) as { comparison?: { verdict: string } };
      return o.comparison?.verdict;
    });
    expect(bigPaid).toBe('PAID');
    const st2 = await until('the step-up receipt', async () => {
      const s = (await (await fetch(`${ready.handset}api/status`)).json()) as {
        lastOutcome?: { status: string; orderRef?: string; result?: { method?: string } };
        pin: unknown;
      };
      return s.lastOutcome?.orderRef === bigRef ? s : undefined;
    });
    expect(st2.lastOutcome?.status).toBe('paid');
    expect(st2.pin).toBeNull();

    // show to pay: finger, pay code on the panel, the merchant's scanner reads it and charges
    const order2 = await post(`${ready.merchant}api/orders`, { amount: '3.20', currency: 'EUR' });
    await post(`${ready.handset}api/finger`, { name: 'alice' });
    expect((await post(`${ready.handset}api/paycode`, {})).status).toBe(202);
    await until('a pay code on the handset', async () => {
      const s = (await (await fetch(`${ready.handset}api/status`)).json()) as { paycode: unknown; panelVersion: number };
      return s.paycode ? s : undefined;
    });
    const charged = await until('the merchant charge', async () => {
      const r = await post(`${ready.handset}api/merchant-scan`, {});
      return r.status === 200 ? r.body : undefined;
    });
    expect(charged).toEqual({ orderRef: order2.body.reference, verdict: 'PAID' });

    const t0 = Date.now();
    p.child.kill('SIGINT');
    expect(await p.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(p.out()).toContain('"event":"stopped"');
  }, 90_000);

  it('handset demo: every scenario passes, exit 0', async () => {
    const p = start(['demo', '--paycode-seconds', '2']);
    expect(await p.exited).toBe(0);
    expect(p.out()).toContain('demo ok: 8 scenario(s) passed');
    expect(p.out()).toContain('== show-to-pay');
    expect(p.out()).toContain('== step-up-pin');
    expect(p.out()).toContain('== pin-lockout');
  }, 90_000);

  it('handset demo: bad arguments are typed errors (exit 1)', async () => {
    const p = start(['demo', '--scenario', 'nope']);
    expect(await p.exited).toBe(1);
    expect(p.err()).toMatch(/handset: BAD_ARGUMENT: unknown scenario nope/);
  });
});
