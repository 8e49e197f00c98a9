import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describePwmContract } from '../../src/transport/contract';
import { nodeSysfsIo, type SysfsIo, SysfsPwm } from '../../src/transport/linux/pwm';
import { fakeRoot } from './fake-fs';

const errno = (code: string) => Object.assign(new Error(`${code}: write error`), { code });

/**
 * A fake /sys/class/pwm in a temp dir. Writes go through `io`, which acts as the kernel:
 * export creates pwmM/, unexport removes it, duty_cycle > period and enable with period 0
 * are EINVAL. File contents are what the kernel would show ("%u\n").
 */
async function fakePwmSysfs(chips: Array<{ n: number; device: string; npwm: number }>) {
  const fs = await fakeRoot({});
  const cls = join(fs.root, 'sys/class/pwm');
  for (const c of chips) {
    const dir = join(cls, `pwmchip${c.n}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'npwm'), `${c.npwm}\n`);
    await writeFile(join(dir, 'export'), '');
    await writeFile(join(dir, 'unexport'), '');
    await symlink(`../../../devices/platform/axi/${c.device}`, join(dir, 'device'));
  }
  const writes: Array<[string, string]> = [];
  const num = async (p: string) => Number.parseInt(await readFile(p, 'utf8'), 10);
  const io: SysfsIo = {
    ...nodeSysfsIo,
    async writeFile(path, data) {
      const rel = relative(cls, path);
      writes.push([rel, data]);
      const base = rel.split('/').pop();
      const dir = join(path, '..');
      if (base === 'export') {
        const ch = join(dir, `pwm${data}`);
        if (await nodeSysfsIo.exists(ch)) throw errno('EBUSY');
        await mkdir(ch);
        for (const [f, v] of [
          ['period', '0\n'],
          ['duty_cycle', '0\n'],
          ['enable', '0\n'],
          ['polarity', 'normal\n'],
        ])
          await writeFile(join(ch, f as string), v as string);
        return;
      }
      if (base === 'unexport') return rm(join(dir, `pwm${data}`), { recursive: true, force: true });
      const v = Number.parseInt(data, 10);
      if (base === 'duty_cycle' && v > (await num(join(dir, 'period')))) throw errno('EINVAL');
      if (base === 'period' && v < (await num(join(dir, 'duty_cycle')))) throw errno('EINVAL');
      if (base === 'enable' && v === 1 && (await num(join(dir, 'period'))) === 0) throw errno('EINVAL');
      await writeFile(path, `${v}\n`);
    },
  };
  const observe = async (chip: number, ch: number) => {
    const d = join(cls, `pwmchip${chip}`, `pwm${ch}`);
    const period = await num(join(d, 'period'));
    const duty = await num(join(d, 'duty_cycle'));
    return {
      frequencyHz: period ? 1e9 / period : 0,
      duty: period ? duty / period : 0,
      enabled: (await num(join(d, 'enable'))) === 1,
    };
  };
  const file = (rel: string) => readFile(join(cls, rel), 'utf8');
  return { root: fs.root, io, writes, observe, file, cleanup: fs.cleanup };
}

describePwmContract('SysfsPwm on a fake sysfs tree', async () => {
  const k = await fakePwmSysfs([{ n: 0, device: '1f00098000.pwm', npwm: 4 }]);
  const pwm = new SysfsPwm({ channel: 1, root: k.root, io: k.io });
  return { pwm, observe: () => k.observe(0, 1), cleanup: k.cleanup };
});

describe('SysfsPwm', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('finds the chip by device, exports, and writes in an order that keeps duty <= period (byte-exact)', async () => {
    const k = await fakePwmSysfs([
      { n: 0, device: '107d517a80.gpio', npwm: 0 },
      { n: 2, device: '1f00098000.pwm', npwm: 4 },
    ]);
    cleanups.push(k.cleanup);
    const pwm = new SysfsPwm({ channel: 0, chip: { device: '1f00098000.pwm' }, root: k.root, io: k.io });
    await pwm.open();
    await pwm.configure({ frequencyHz: 20_000, duty: 0.5 });
    await pwm.enable();
    await pwm.configure({ frequencyHz: 100_000 }); // shrink period: duty first
    await pwm.configure({ frequencyHz: 25_000, duty: 0.9 }); // grow: period first
    await pwm.configure({ duty: 0 });
    await pwm.close();
    expect(k.writes).toEqual([
      ['pwmchip2/export', '0'],
      ['pwmchip2/pwm0/period', '50000'],
      ['pwmchip2/pwm0/duty_cycle', '25000'],
      ['pwmchip2/pwm0/enable', '1'],
      ['pwmchip2/pwm0/duty_cycle', '5000'],
      ['pwmchip2/pwm0/period', '10000'],
      ['pwmchip2/pwm0/period', '40000'],
      ['pwmchip2/pwm0/duty_cycle', '36000'],
      ['pwmchip2/pwm0/duty_cycle', '0'],
      ['pwmchip2/pwm0/enable', '0'],
      ['pwmchip2/unexport', '0'],
    ]);
  });

  it('leaves exact file contents and reuses an already exported channel', async () => {
    const k = await fakePwmSysfs([{ n: 0, device: '7e20c000.pwm', npwm: 2 }]);
    cleanups.push(k.cleanup);
    await k.io.writeFile(join(k.root, 'sys/class/pwm/pwmchip0/export'), '1');
    k.writes.length = 0;
    const pwm = new SysfsPwm({ channel: 1, root: k.root, io: k.io });
    await pwm.open();
    await pwm.configure({ frequencyHz: 30_000, duty: 1 / 3 });
    await pwm.enable();
    expect(k.writes[0]).toEqual(['pwmchip0/pwm1/period', '33333']);
    expect(await k.file('pwmchip0/pwm1/period')).toBe('33333\n');
    expect(await k.file('pwmchip0/pwm1/duty_cycle')).toBe('11111\n');
    expect(await k.file('pwmchip0/pwm1/enable')).toBe('1\n');
    await pwm.close();
  });

  it('typed errors name the path: no chip, channel out of range, kernel EINVAL with rollback', async () => {
    const k = await fakePwmSysfs([
      { n: 0, device: '1f00098000.pwm', npwm: 2 },
      { n: 1, device: 'other.pwm', npwm: 2 },
    ]);
    cleanups.push(k.cleanup);
    await expect(new SysfsPwm({ channel: 0, root: k.root, io: k.io }).open()).rejects.toMatchObject({
      code: 'PWM',
      message: expect.stringContaining('pwmchip0=1f00098000.pwm, pwmchip1=other.pwm'),
    });
    await expect(new SysfsPwm({ channel: 0, chip: { device: 'nope' }, root: k.root, io: k.io }).open()).rejects.toMatchObject({
      code: 'PWM',
      message: expect.stringContaining("device 'nope'"),
    });
    await expect(new SysfsPwm({ channel: 5, chip: 0, root: k.root, io: k.io }).open()).rejects.toMatchObject({
      code: 'PWM',
      message: expect.stringContaining('pwm5 does not exist'),
    });
    await expect(new SysfsPwm({ channel: 0, chip: 9, root: k.root, io: k.io }).open()).rejects.toMatchObject({
      code: 'PWM',
      message: expect.stringContaining('pwmchip9'),
    });
    const pwm = new SysfsPwm({ channel: 0, chip: 0, root: k.root, io: k.io });
    await pwm.open();
    await expect(pwm.enable()).rejects.toMatchObject({ code: 'PWM' });
    await pwm.configure({ frequencyHz: 1000, duty: 0.5 });
    const broken: SysfsIo = k.io;
    const orig = broken.writeFile;
    broken.writeFile = async (p, d) => (p.endsWith('period') ? Promise.reject(errno('EIO')) : orig(p, d));
    // duty is lowered first (succeeds), then the period write fails: the duty must be rolled back
    await expect(pwm.configure({ frequencyHz: 2000, duty: 0.2 })).rejects.toMatchObject({
      code: 'PWM',
      message: expect.stringMatching(/pwmchip0\/pwm0\/period failed: EIO/),
    });
    broken.writeFile = orig;
    expect(k.writes.slice(-2)).toEqual([
      ['pwmchip0/pwm0/duty_cycle', '100000'],
      ['pwmchip0/pwm0/duty_cycle', '500000'],
    ]);
    expect(await k.file('pwmchip0/pwm0/period')).toBe('1000000\n');
    expect(await k.file('pwmchip0/pwm0/duty_cycle')).toBe('500000\n');
    expect(pwm.state).toEqual({ frequencyHz: 1000, duty: 0.5, enabled: false });
    await pwm.close();
  });

  it('without any pwmchip (this machine) open() fails typed, naming /sys/class/pwm', async () => {
    const fs = await fakeRoot({});
    cleanups.push(fs.cleanup);
    await expect(new SysfsPwm({ channel: 0, root: fs.root }).open()).rejects.toMatchObject({
      code: 'PWM',
      message: expect.stringContaining('sys/class/pwm'),
    });
  });
});
