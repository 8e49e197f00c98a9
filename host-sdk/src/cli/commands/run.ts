/**
 * `handset run` (what `make run` starts): the whole system in simulation on embedded
 * defaults, in one process:
 *   - the cloud service center (SQLite file under `--data`/cloud, embedded aedes broker,
 *     HTTP API), with a demo merchant and two funded consumers (alice, bob);
 *   - the merchant terminal page (the real `MerchantTerminal` + `startMerchantServer`,
 *     as `handset merchant serve` wires them);
 *   - a simulated handset registered with the cloud (the real chain on a sim platform:
 *     R307, e-ink panel, camera + LED; keystore + outbox files under `--data`/handset);
 *   - the virtual handset page: the e-ink panel as PNG (refreshed over SSE), buttons to
 *     put a finger on the sensor (alice / bob / stranger), scan the merchant's current QR,
 *     show a pay code, cancel, unlock, and a PIN keypad (digits, Del, Enter, Cancel) wired to
 *     the simulated USB PIN pad for the PIN step-up (demo PIN 2468, `SIM_DEMO_PIN`).
 * Prints the URLs; stops cleanly on SIGINT / SIGTERM (exit 0).
 *
 *   handset run [--data DIR] [--host H] [--cloud-port N] [--broker-port N] [--merchant-port N]
 *               [--handset-port N] [--json]
 *
 * Virtual handset API (JSON; POSTs need `Content-Type: application/json`):
 *   GET  /                 the page          GET /panel.png   the panel (2x)
 *   GET  /api/status       state, device, account, last outcome, current pay code
 *   GET  /api/events       SSE: `state`, `panel`, `outcome`, `paycode`, `log`
 *   POST /api/finger       {"name":"alice"}  place a finger (stays until lifted or asked to lift)
 *   POST /api/lift         take it off
 *   POST /api/scan         put the merchant's newest open order's QR in front of the camera, scan to pay
 *   POST /api/paycode      show to pay (finger first)
 *   POST /api/merchant-scan  the merchant's scanner reads the handset's panel and charges the newest open order
 *   POST /api/cancel       cancel the running flow     POST /api/unlock   host unlock (fingerprint lock + PIN lock)
 *   POST /api/key          {"key":"0".."9"|"enter"|"backspace"|"cancel"}  one key press on the simulated PIN pad
 *                          (the digit is never logged or echoed; `status.pin` = {entered, attemptsLeft} while asked)
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { HandsetError, systemClock, ValidationError } from '@handset/device-drivers/core';
import type { PinKey } from '@handset/device-drivers/pinpad';
import { FileR307Store } from '@handset/device-drivers/r307';
import {
  defaultDecoder,
  fileStores,
  type PaymentOutcome,
  type Screen,
  type SimHandset,
  startSimHandset,
  writeFileAtomic,
} from '@handset/firmware';
import type { Command } from 'commander';
import type { MerchantProfile } from '../../merchant/ports';
import type { MerchantTerminal } from '../../merchant/terminal';
import { type CliIo, untilSignal } from '../io';
import { startEmbeddedMerchantCloud, startMerchantPage } from '../merchant-stack';

const MERCHANT: MerchantProfile = { id: 'm-demo-shop', name: 'Demo Shop', city: 'Berlin', country: 'DE', mcc: '5999' };
const CURRENCY = 'EUR';
const ACCOUNTS = ['alice', 'bob'];
const FINGERS = ['alice', 'bob', 'stranger'];
const PAD_KEYS: readonly PinKey[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'enter', 'backspace', 'cancel'];

function port(v: string): number {
  if (!/^[0-9]{1,5}$/.test(v) || Number(v) > 65535)
    throw new ValidationError(`bad port ${JSON.stringify(v)}`, { code: 'BAD_ARGUMENT' });
  return Number(v);
}

/** A 32-byte key kept in a 0600 file (the cloud's seed vault key survives restarts). */
function persistentKey(path: string): string {
  try {
    const t = readFileSync(path, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(t)) return t;
  } catch {
    /* created below */
  }
  const hex = randomBytes(32).toString('hex');
  writeFileAtomic(path, Buffer.from(`${hex}\n`));
  return hex;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('run')
    .description('the whole system in simulation: cloud + broker, merchant page, simulated handset + its page')
    .option('--data <dir>', 'state directory (cloud SQLite, handset keystore/outbox)', '.handset')
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--cloud-port <n>', 'cloud HTTP API port (0 = free)', port, 0)
    .option('--broker-port <n>', 'embedded MQTT broker port (0 = free)', port, 0)
    .option('--merchant-port <n>', 'merchant page port (0 = free)', port, 0)
    .option('--handset-port <n>', 'virtual handset page port (0 = free)', port, 0)
    .option('--json', 'print one JSON line {"event":"ready",...} instead of text')
    .action(async (o) => {
      const data = resolve(o.data);
      mkdirSync(join(data, 'handset'), { recursive: true, mode: 0o700 });
      const stops: Array<() => Promise<void>> = [];
      const stopAll = async () => {
        for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
      };
      try {
        // 1. cloud + broker
        const { cloud, client } = await startEmbeddedMerchantCloud({
          cloud: {
            store: `sqlite:${join(data, 'cloud')}`,
            broker: 'embedded',
            brokerPort: o.brokerPort,
            httpPort: o.cloudPort,
            host: o.host,
            seedKey: persistentKey(join(data, 'seed.key')),
            decisionThread: 'auto',
          },
          merchant: MERCHANT,
          currency: CURRENCY,
          consumers: ACCOUNTS,
        });
        stops.push(() => cloud.stop());

        // 2. merchant terminal + page (shared with `handset merchant serve`)
        const merchantPage = await startMerchantPage({
          merchant: MERCHANT,
          cloud: client,
          host: o.host,
          port: o.merchantPort,
          currencies: [CURRENCY],
        });
        stops.push(() => merchantPage.close());
        const { terminal, server: merchant } = merchantPage;

        // 3. the simulated handset, registered for alice
        const dir = join(data, 'handset');
        const handset = await startSimHandset({
          config: { deviceId: 'hs-demo-1', brokerUrl: cloud.brokerUrl, fingerTimeoutMs: 60_000, resultTimeoutMs: 15_000 },
          stores: fileStores(dir, new FileR307Store(join(dir, 'r307-flash.json'))),
          platform: { deviceClock: systemClock, decoder: await defaultDecoder(60) },
        });
        stops.push(() => handset.stop());
        const sim = handset.platform.sim;
        if (!handset.keystore.paycode) {
          const holder = (e: { kind: string }) => {
            if (e.kind === 'prompt') sim.r307.placeFinger('alice');
            if (e.kind === 'lift') sim.r307.liftFinger();
          };
          handset.chain.on('finger', holder);
          try {
            const known = sim.r307.templates();
            await handset.chain.register({ account: 'alice', slots: known.length ? known : undefined });
          } finally {
            handset.chain.off('finger', holder);
            sim.r307.liftFinger();
          }
        }

        // 4. the virtual handset page
        const page = await startHandsetPage({ handset, terminal, host: o.host, port: o.handsetPort });
        stops.push(() => page.close());

        const stopped = untilSignal();
        const urls = { cloud: cloud.httpUrl, broker: cloud.brokerUrl, merchant: merchant.url, handset: page.url };
        if (o.json)
          io.out(`${JSON.stringify({ event: 'ready', ...urls, deviceId: handset.config.deviceId, data, pid: process.pid })}\n`);
        else {
          io.out('Handset system running in simulation:\n');
          io.out(`  cloud API         ${urls.cloud}\n`);
          io.out(`  MQTT broker       ${urls.broker}\n`);
          io.out(`  merchant page     ${urls.merchant}\n`);
          io.out(`  virtual handset   ${urls.handset}   (${handset.config.deviceId}, account alice)\n`);
          io.out(`  state in ${data} (delete it to start over)\n`);
          io.out('Press Ctrl+C to stop.\n');
        }
        const sig = await stopped;
        await stopAll();
        io.out(o.json ? `${JSON.stringify({ event: 'stopped', signal: sig })}\n` : `Stopped (${sig}).\n`);
      } catch (err) {
        await stopAll();
        throw err;
      }
    });
}

// ---------------------------------------------------------------- virtual handset page

interface HandsetPage {
  url: string;
  close(): Promise<void>;
}

class HttpError extends HandsetError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message, { device: 'handset-page' });
  }
}

async function startHandsetPage(o: {
  handset: SimHandset;
  terminal: MerchantTerminal;
  host: string;
  port: number;
}): Promise<HandsetPage> {
  const { handset, terminal } = o;
  const { chain } = handset;
  const sim = handset.platform.sim;
  const streams = new Set<ServerResponse>();
  let lastOutcome: PaymentOutcome | undefined;
  let paycode: { code: string; validUntilMs: number } | undefined;
  let panelVersion = 0;
  let finger: string | undefined;
  let pin: { entered: number; attemptsLeft: number | null } | undefined;
  const send = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n\n`;
    for (const s of streams) s.write(frame);
  };
  const log = (line: string) => send('log', { at: Date.now(), line });
  const lift = () => {
    finger = undefined;
    sim.r307.liftFinger();
  };
  const onUpdate = () => send('panel', { version: ++panelVersion });
  handset.platform.display.on('update', onUpdate);
  const listeners = {
    state: (s: { from: string; to: string }) => {
      if (s.to !== 'step-up') pin = undefined;
      send('state', s);
    },
    // the password module's masked PIN screens (digit count only)
    screen: (sc: Screen) => {
      if (sc.kind !== 'pin') return;
      if (sc.entered === 0 && !pin) log('enter the PIN on the keypad');
      pin = { entered: sc.entered, attemptsLeft: sc.attemptsLeft ?? null };
      send('pin', pin);
    },
    finger: (e: { kind: string; attempt: number }) => {
      if (e.kind === 'lift') lift();
      log(
        e.kind === 'prompt'
          ? `place a finger (attempt ${e.attempt})`
          : e.kind === 'lift'
            ? 'finger lifted'
            : `press ${e.attempt} read`,
      );
    },
    outcome: (out: PaymentOutcome) => {
      lastOutcome = out;
      paycode = undefined;
      lift();
      send('outcome', out);
    },
    paycode: (p: { code: string; validUntilMs: number }) => {
      paycode = p;
      send('paycode', p);
    },
  };
  chain.on('state', listeners.state);
  chain.on('finger', listeners.finger);
  chain.on('outcome', listeners.outcome);
  chain.on('paycode', listeners.paycode);
  chain.on('screen', listeners.screen);

  const background = (what: string, p: Promise<unknown>) => {
    p.catch((err: unknown) => log(`${what} failed: ${err instanceof Error ? err.message : String(err)}`));
  };
  const newestOpenOrder = () => terminal.list().find((v) => v.order.state === 'awaiting_payment');
  const status = () => ({
    state: chain.state,
    deviceId: handset.config.deviceId,
    account: handset.keystore.registration?.account ?? null,
    finger: finger ?? null,
    locked: Boolean(handset.keystore.locked),
    paycode: paycode ?? null,
    pin: pin ?? null,
    lastOutcome: lastOutcome ?? null,
    panelVersion,
  });

  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      throw new HttpError(415, 'BAD_CONTENT_TYPE', 'POST bodies must be application/json');
    let text = '';
    for await (const c of req) {
      text += c;
      if (text.length > 4096) throw new HttpError(413, 'TOO_LARGE', 'body too large');
    }
    if (!text) return {};
    try {
      const v = JSON.parse(text);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* below */
    }
    throw new HttpError(400, 'BAD_JSON', 'body must be a JSON object');
  };
  const json = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
  };
  const idle = () => {
    if (
      [
        'scanning',
        'confirming',
        'verifying',
        'step-up',
        'signing',
        'sending',
        'awaiting-result',
        'showing-paycode',
        'registering',
      ].includes(chain.state)
    )
      throw new HttpError(409, 'CHAIN_BUSY', `the handset is busy (${chain.state})`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    res.setHeader('content-security-policy', "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'");
    res.setHeader('x-content-type-options', 'nosniff');
    if (method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(PAGE_HTML);
    }
    if (method === 'GET' && path === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      return void res.end(PAGE_JS);
    }
    if (method === 'GET' && path === '/app.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8' });
      return void res.end(PAGE_CSS);
    }
    if (method === 'GET' && path === '/panel.png') {
      const png = await sim.panel.snapshot({ scale: 2 });
      res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
      return void res.end(png);
    }
    if (method === 'GET' && path === '/api/status') return json(res, 200, status());
    if (method === 'GET' && path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(
        `retry: 1000\nevent: hello\ndata: ${JSON.stringify(status(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n\n`,
      );
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (method === 'POST') {
      const body = await readJson(req);
      switch (path) {
        case '/api/finger': {
          const name = body.name;
          if (typeof name !== 'string' || !FINGERS.includes(name))
            throw new HttpError(400, 'BAD_FINGER', `name must be one of ${FINGERS.join(', ')}`);
          finger = name;
          sim.r307.placeFinger(name);
          log(`${name}'s finger on the sensor`);
          return json(res, 200, status());
        }
        case '/api/lift':
          lift();
          return json(res, 200, status());
        case '/api/scan': {
          idle();
          const order = newestOpenOrder();
          if (!order) throw new HttpError(409, 'NO_OPEN_ORDER', 'create an order on the merchant page first');
          sim.camera.setCode({ kind: 'qr', payload: order.qrPayload }, { scale: 3, rotationDeg: 6 });
          log(`camera sees the QR of order ${order.order.reference}`);
          background('scan to pay', chain.scanToPay());
          return json(res, 202, { orderRef: order.order.reference });
        }
        case '/api/paycode':
          idle();
          background('show to pay', chain.showToPay());
          return json(res, 202, status());
        case '/api/merchant-scan': {
          const order = newestOpenOrder();
          if (!order) throw new HttpError(409, 'NO_OPEN_ORDER', 'create an order on the merchant page first');
          const g = sim.panel.gray();
          const hit = (await defaultDecoder()).decode({ width: g.width, height: g.height, data: g.gray }).hit;
          if (!hit) throw new HttpError(409, 'NO_CODE_ON_PANEL', 'the handset shows no pay code');
          const view = await terminal.chargePayCode(order.order.reference, hit.text);
          return json(res, 200, { orderRef: order.order.reference, verdict: view.comparison?.verdict ?? null });
        }
        case '/api/key': {
          const key = body.key;
          if (typeof key !== 'string' || !(PAD_KEYS as readonly string[]).includes(key))
            throw new HttpError(400, 'BAD_KEY', 'key must be a digit, enter, backspace or cancel');
          await sim.keypad.press(key as PinKey);
          return json(res, 200, { pin: pin ?? null });
        }
        case '/api/cancel':
          chain.cancel();
          return json(res, 200, status());
        case '/api/unlock':
          await chain.unlock();
          return json(res, 200, status());
      }
    }
    json(res, 404, { error: { code: 'NOT_FOUND', message: `${method} ${path} is not part of this page` } });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      const status = err instanceof HttpError ? err.status : err instanceof HandsetError ? 400 : 500;
      const code = err instanceof HandsetError ? err.code : 'INTERNAL';
      json(res, status, { error: { code, message: err instanceof Error ? err.message : String(err) } });
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port, o.host, () => res());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${addr.port}/`,
    async close() {
      handset.platform.display.off('update', onUpdate);
      chain.off('state', listeners.state);
      chain.off('finger', listeners.finger);
      chain.off('outcome', listeners.outcome);
      chain.off('paycode', listeners.paycode);
      chain.off('screen', listeners.screen);
      for (const s of streams) s.end();
      streams.clear();
      await new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      });
    },
  };
}

const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Virtual handset</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app.css"></head>
<body>
<h1>Virtual handset <span id="device"></span></h1>
<div class="panel"><img id="panel" src="/panel.png" alt="e-ink panel" width="500" height="244"></div>
<p>State: <b id="state">-</b> <span id="paycode"></span></p>
<div class="row"><span>Finger:</span>
 <button data-finger="alice">alice</button><button data-finger="bob">bob</button><button data-finger="stranger">stranger</button>
 <button id="lift">lift</button> <span id="finger"></span></div>
<div class="row">
 <button id="scan">Scan the merchant's QR (scan to pay)</button>
 <button id="show">Show pay code (show to pay)</button>
 <button id="merchantScan">Merchant scans the pay code</button>
 <button id="cancel">Cancel</button> <button id="unlock">Unlock (host)</button></div>
<div class="row"><span>PIN pad:</span> <span id="pin">-</span>
<div class="keypad">
 <button data-key="1">1</button><button data-key="2">2</button><button data-key="3">3</button>
 <button data-key="4">4</button><button data-key="5">5</button><button data-key="6">6</button>
 <button data-key="7">7</button><button data-key="8">8</button><button data-key="9">9</button>
 <button data-key="backspace">Del</button><button data-key="0">0</button><button data-key="enter">Enter</button>
 <button data-key="cancel" class="wide">Cancel (pad)</button>
</div></div>
<p>Last outcome: <span id="outcome">-</span></p>
<ol id="log" reversed></ol>
<script src="/app.js"></script>
</body></html>
`;

const PAGE_CSS = `body{font:15px system-ui,sans-serif;margin:1.5em;max-width:60em}
.panel{display:inline-block;padding:12px;background:#ddd;border-radius:10px}
#panel{image-rendering:pixelated;background:#fff}
.row{margin:.6em 0}.row button{margin-right:.3em}
#log{font:12px monospace;max-height:16em;overflow:auto}
.keypad{display:grid;grid-template-columns:repeat(3,3.5em);gap:.3em;margin:.4em 0}
.keypad button{height:2.4em}.keypad .wide{grid-column:span 3}`;

const PAGE_JS = `'use strict';
const $ = (id) => document.getElementById(id);
const post = async (path, body) => {
  const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body || {}) });
  const j = await r.json();
  if (!r.ok) addLog('error: ' + (j.error ? j.error.code + ': ' + j.error.message : r.status));
  return j;
};
const addLog = (line) => { const li = document.createElement('li'); li.textContent = new Date().toLocaleTimeString() + ' ' + line; $('log').prepend(li); };
const describe = (o) => !o ? '-' : o.status + (o.reason ? ' (' + o.reason + ')' : '') + (o.amount ? ' ' + o.amount.minor + ' ' + o.amount.currency : '');
const render = (s) => {
  $('device').textContent = s.deviceId + (s.account ? ' (' + s.account + ')' : '');
  $('state').textContent = s.state + (s.locked ? ' - LOCKED' : '');
  $('finger').textContent = s.finger ? 'on the sensor: ' + s.finger : '';
  $('paycode').textContent = s.paycode ? 'pay code ' + s.paycode.code : '';
  $('outcome').textContent = describe(s.lastOutcome);
  renderPin(s.pin);
};
const renderPin = (p) => {
  $('pin').textContent = !p ? 'not asked' : 'PIN ' + '*'.repeat(p.entered) + (p.attemptsLeft !== null ? ' (' + p.attemptsLeft + ' attempts left)' : '');
};
document.querySelectorAll('[data-key]').forEach((b) => b.addEventListener('click', () => post('/api/key', { key: b.dataset.key }).then((j) => renderPin(j.pin))));
document.querySelectorAll('[data-finger]').forEach((b) => b.addEventListener('click', () => post('/api/finger', { name: b.dataset.finger }).then(render)));
$('lift').addEventListener('click', () => post('/api/lift').then(render));
$('scan').addEventListener('click', () => post('/api/scan'));
$('show').addEventListener('click', () => post('/api/paycode'));
$('merchantScan').addEventListener('click', () => post('/api/merchant-scan').then((j) => j.verdict && addLog('merchant: ' + j.verdict)));
$('cancel').addEventListener('click', () => post('/api/cancel'));
$('unlock').addEventListener('click', () => post('/api/unlock').then(render));
const refresh = () => fetch('/api/status').then((r) => r.json()).then(render);
const es = new EventSource('/api/events');
es.addEventListener('hello', (e) => render(JSON.parse(e.data)));
es.addEventListener('panel', (e) => { $('panel').src = '/panel.png?v=' + JSON.parse(e.data).version; });
es.addEventListener('state', (e) => { const s = JSON.parse(e.data); addLog(s.from + ' -> ' + s.to); refresh(); });
es.addEventListener('outcome', (e) => { addLog('outcome: ' + describe(JSON.parse(e.data))); refresh(); });
es.addEventListener('paycode', (e) => { addLog('pay code ' + JSON.parse(e.data).code); refresh(); });
es.addEventListener('log', (e) => addLog(JSON.parse(e.data).line));
es.addEventListener('pin', (e) => renderPin(JSON.parse(e.data)));
`;
