/**
 * The R307 commands end to end on socat pty pairs:
 * - the BUILT `handset sim r307 --port A --finger alice` serving the real driver on B;
 * - the host tools (`enroll`, `fingerprint list|delete|empty|image`) in process,
 *   against a simulator served on the other end of a pty.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@handset/device-drivers/core';
import { R307, SimR307 } from '@handset/device-drivers/r307';
import { openPtyPair, SerialPortUart } from '@handset/device-drivers/transport/linux';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { recordingIo } from '../../host-sdk/src/cli/io';
import { main } from '../../host-sdk/src/cli/program';
import { HANDSET_BIN } from '../src/built-cli';

const bin = HANDSET_BIN;

describe('handset sim r307 (built CLI) with the real driver on the other pty end', () => {
  it('serves enrol + identify with --finger alternating, and exits 0 on SIGTERM', async () => {
    const pty = await openPtyPair();
    const child = spawn('node', [bin, 'sim', 'r307', '--port', pty.a, '--finger', 'alice'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 15000;
      while (!out.includes('ready')) {
        if (Date.now() > deadline) throw new Error(`sim did not become ready: ${out} ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(out).toMatch(/r307 sim: ready on .* at 57600 baud, address FFFFFFFF/);
      const driver = new R307({ uart: new SerialPortUart({ path: pty.b, baudRate: 57600 }), pollIntervalMs: 20 });
      expect((await driver.open())?.capacity).toBe(1000);
      // present, absent, present: exactly what two-capture enrolment needs
      expect(await driver.enroll(3)).toEqual({ slot: 3 });
      const hit = await driver.identify();
      expect(hit?.slot).toBe(3);
      await driver.close();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toMatch(/r307 sim: stopped \(\d+ commands served\)/);
    } finally {
      child.kill('SIGKILL');
      await pty.close();
    }
  }, 60_000);
});

describe('host tools against a simulator on a pty', () => {
  it('enroll, fingerprint list / image / delete / empty', async () => {
    const pty = await openPtyPair();
    const sim = new SimR307({ clock: new ManualClock() });
    await sim.attach(new SerialPortUart({ path: pty.a, baudRate: 57600 }));
    await sim.whenReady();
    try {
      sim.placeFinger('zoe', { presence: 'alternate' });
      let io = recordingIo();
      expect(await main(['enroll', '--port', pty.b, '--slot', '12'], io)).toBe(0);
      expect(io.stdout).toContain('Place your finger on the sensor.');
      expect(io.stdout).toContain('Lift your finger.');
      expect(io.stdout).toContain('Place the same finger again.');
      expect(io.stdout).toContain('enrolled at slot 12');
      expect(sim.templates()).toEqual([12]);

      io = recordingIo();
      expect(await main(['fingerprint', 'list', '--port', pty.b, '--json'], io)).toBe(0);
      expect(JSON.parse(io.stdout)).toEqual({ count: 1, capacity: 1000, slots: [12] });

      sim.placeFinger('zoe');
      const png = join(await mkdtemp(join(tmpdir(), 'r307-cli-')), 'zoe.png');
      io = recordingIo();
      expect(await main(['fingerprint', 'image', '--port', pty.b, '--png', png], io)).toBe(0);
      expect(io.stdout).toContain(`wrote ${png} (256x288`);
      expect(io.stderr).toContain('image: 50%');
      expect(io.stderr).toContain('image: 100% (36864/36864 bytes)');
      const meta = await sharp(await readFile(png)).metadata();
      expect([meta.width, meta.height]).toEqual([256, 288]);

      io = recordingIo();
      expect(await main(['fingerprint', 'delete', '12', '--port', pty.b], io)).toBe(0);
      expect(io.stdout).toBe('deleted slot 12\n');
      expect(sim.templates()).toEqual([]);

      io = recordingIo();
      expect(await main(['fingerprint', 'empty', '--port', pty.b], io)).toBe(0);
      expect(io.stdout).toBe('library emptied\n');

      io = recordingIo();
      expect(await main(['fingerprint', 'list', '--port', pty.b], io)).toBe(0);
      expect(io.stdout).toBe('0 of 1000 slots used\n');
    } finally {
      await sim.detach();
      await pty.close();
    }
  }, 60_000);

  it('bad arguments and a missing port are one clear line, exit 1', async () => {
    let io = recordingIo();
    expect(await main(['fingerprint', 'delete', 'x', '--port', '/dev/null'], io)).toBe(1);
    expect(io.stderr).toBe("handset: INVALID: slot 'x' is not an integer in 0..65535\n");
    io = recordingIo();
    expect(await main(['fingerprint', 'list', '--port', '/nonexistent/tty'], io)).toBe(1);
    expect(io.stderr).toMatch(/^handset: PORT_NOT_FOUND: serial port \/nonexistent\/tty does not exist\n$/);
    io = recordingIo();
    expect(await main(['sim', 'r307', '--port', '/tmp/x', '--quality', '7'], io)).toBe(1);
    expect(io.stderr).toContain('--quality');
  });
});
