/**
 * `handset merchant serve`: in-process (commander + recording io) and as a real child
 * process that gets a real SIGINT.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

async function waitFor<T>(fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('handset merchant serve', () => {
  it('serves the page on an embedded cloud, takes an order, and stops cleanly on SIGINT', async () => {
    const io = recordingIo();
    const exit = main(['merchant', 'serve', '--json', '--merchant-id', 'm-cli-test', '--name', 'CLI Shop'], io);
    const ready = await waitFor(() => {
      const line = io.stdout.split('\n').find((l) => l.includes('"ready"'));
      return line ? (JSON.parse(line) as { url: string; embeddedCloud: boolean; merchantId: string }) : undefined;
    });
    expect(ready).toMatchObject({ embeddedCloud: true, merchantId: 'm-cli-test' });
    const page = await fetch(ready.url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Merchant terminal');
    const cfg = (await (await fetch(`${ready.url}api/config`)).json()) as {
      merchant: { name: string };
      currencies: { alpha: string }[];
    };
    expect(cfg.merchant.name).toBe('CLI Shop');
    expect(cfg.currencies.map((c) => c.alpha)).toEqual(['EUR']);
    const order = await fetch(`${ready.url}api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: '3.50' }),
    });
    expect(order.status).toBe(201);
    expect(await order.json()).toMatchObject({
      state: 'awaiting_payment',
      due: { minor: '350', currency: 'EUR', display: '3.50 EUR' },
    });
    process.emit('SIGINT');
    expect(await exit).toBe(0);
    await expect(fetch(ready.url)).rejects.toThrow();
  });

  it('refuses bad arguments with a typed error and exit 1', async () => {
    for (const args of [
      ['--merchant-id', 'shop'],
      ['--port', '70000'],
      ['--country', 'Germany'],
      ['--name', 'A name that is far too long for EMV tag 59'],
    ]) {
      const io = recordingIo();
      const code = await main(['merchant', 'serve', ...args], io);
      expect(code).toBe(1);
      expect(io.stderr).toMatch(/^handset: BAD_ARGUMENT: /);
    }
  });

  it('a --scanner that cannot be opened is a typed error at start-up, and the embedded cloud is stopped', async () => {
    const io = recordingIo();
    expect(await main(['merchant', 'serve', '--scanner', '/dev/hidraw-does-not-exist'], io)).toBe(1);
    expect(io.stderr).toMatch(/^handset: [A-Z_]+: /);
  });

  it('an unreachable --cloud is a clear error, not a hang', async () => {
    const io = recordingIo();
    expect(await main(['merchant', 'serve', '--cloud', 'http://127.0.0.1:9'], io)).toBe(1);
    expect(io.stderr).toMatch(/handset: CLOUD_UNREACHABLE: /);
  });

  it('as a child process: prints the URL, then exits 0 on a real SIGINT', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        "import { main } from './host-sdk/src/cli/program.ts'; process.exitCode = await main(process.argv.slice(1));",
        'merchant',
        'serve',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const url = await waitFor(
      () => /Merchant terminal for Demo Shop \(m-demo\): (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1],
      30_000,
    );
    expect((await fetch(url)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('Stopped (SIGINT).');
  }, 60_000);
});
