import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@handset/device-drivers/core';
import { describe, expect, it } from 'vitest';
import { recordingIo } from '../../src/cli/io';
import { main } from '../../src/cli/program';
import { makeWorld } from './fixtures';

describe('handset cloud (in-process)', () => {
  it('acl prints the generated Mosquitto ACL for a root', async () => {
    const io = recordingIo();
    expect(await main(['cloud', 'acl', '--root', 'site-1/', '--cloud-user', 'cloud-1', '--cloud-user', 'cloud-2'], io)).toBe(0);
    expect(io.stdout).toContain('user cloud-2');
    expect(io.stdout).toContain('pattern write site-1/handset/v1/%u/auth');
    expect(io.stdout).not.toContain('pattern write site-1/handset/v1/+/auth');
  });

  it('mosquitto-conf writes a config that points at its ACL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conf-'));
    try {
      const io = recordingIo();
      expect(await main(['cloud', 'mosquitto-conf', '--dir', dir, '--port', '18830'], io)).toBe(0);
      const conf = readFileSync(join(dir, 'mosquitto.conf'), 'utf8');
      expect(conf).toContain('listener 18830 127.0.0.1');
      expect(conf).toContain(`acl_file ${join(dir, 'acl')}`);
      expect(existsSync(join(dir, 'acl'))).toBe(true);
      expect(await main(['cloud', 'mosquitto-conf', '--dir', dir, '--port', '99999'], recordingIo())).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('check runs the invariant checker on a store and exits 0 when every invariant holds', async () => {
    const clock = new ManualClock({ autoAdvance: false });
    const w = await makeWorld('sqlite', clock);
    await w.center.createOrder({ merchantId: 'm-shop', orderRef: 'o-1', amount: 10n, currency: 'EUR' });
    await w.center.authorise([
      { payload: w.alice.authorise({ merchantId: 'm-shop', orderRef: 'o-1', amount: 10n, currency: 'EUR', nowMs: clock.now() }) },
    ]);
    const spec = (w.stores.ledger as { inner?: { db?: { name: string } } }).inner?.db?.name;
    expect(spec).toBeTruthy();
    const io = recordingIo();
    const code = await main(['cloud', 'check', '--store', `sqlite:${join(spec!, '..')}`], io);
    expect(io.stderr).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout)).toMatchObject({ ok: true, violations: [] });
    await w.cleanup();
  });

  it('serve refuses a bad store spec with a typed error', async () => {
    const io = recordingIo();
    expect(await main(['cloud', 'serve', '--store', 'mysql://x', '--quiet'], io)).toBe(1);
    expect(io.stderr).toMatch(/handset: BAD_STORE:/);
  });
});
