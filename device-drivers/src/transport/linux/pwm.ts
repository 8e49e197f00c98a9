import * as fsp from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TransportError, ValidationError } from '../../core/errors';
import type { Pwm, PwmState } from '../pwm';

/** The file operations SysfsPwm needs (the injection seam: tests wrap a temp dir and act as the kernel). */
export interface SysfsIo {
  readFile(path: string): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /** Target of a symlink (for pwmchipN/device). */
  readlink(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
}

export const nodeSysfsIo: SysfsIo = {
  readFile: (p) => fsp.readFile(p, 'utf8'),
  writeFile: (p, d) => fsp.writeFile(p, d),
  readdir: (p) => fsp.readdir(p),
  readlink: (p) => fsp.readlink(p),
  exists: (p) =>
    fsp.access(p).then(
      () => true,
      () => false,
    ),
};

export interface SysfsPwmOptions {
  /** Channel on the chip (pwmM). PWM0 = channel 0 (GPIO12/18), PWM1 = channel 1 (GPIO13/19). */
  channel: number;
  /**
   * Which pwmchip: a number (discouraged - it changes between Pi models and kernels), or
   * `{ device }`: a substring of the chip's device link (`readlink pwmchipN/device`, e.g.
   * '1f00098000.pwm' on a Pi 5 RP1, '7e20c000.pwm' on a Pi 4). Omitted: the only chip there is.
   */
  chip?: number | { device: string };
  /** Root of /sys (tests use a temp dir). Default '/'. */
  root?: string;
  io?: SysfsIo;
  /** How long to wait for pwmM/ to appear (and become writable) after export. Default 1000 ms. */
  exportTimeoutMs?: number;
}

/**
 * `Pwm` over the kernel's sysfs PWM class: /sys/class/pwm/pwmchipN/{export, unexport,
 * npwm, pwmM/{period, duty_cycle, enable}}, all times in nanoseconds.
 *
 * Write order keeps `duty_cycle <= period` at every step (the kernel rejects anything else
 * with EINVAL): when the new duty exceeds the current period the period is written first,
 * otherwise the duty is lowered first and then the period changed. If the second write
 * fails the first is rolled back, so nothing is left half-configured.
 */
export class SysfsPwm implements Pwm {
  readonly name: string;
  private readonly options: SysfsPwmOptions;
  private readonly io: SysfsIo;
  private readonly classDir: string;
  private chipDir: string | undefined;
  private channelDir: string | undefined;
  private state_: PwmState = { frequencyHz: 0, duty: 0, enabled: false };
  private periodNs = 0;
  private dutyNs = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: SysfsPwmOptions) {
    if (!Number.isInteger(options.channel) || options.channel < 0)
      throw new ValidationError(`PWM channel must be a non-negative integer, got ${options.channel}`, { code: 'PWM_INVALID' });
    this.options = options;
    this.io = options.io ?? nodeSysfsIo;
    this.classDir = join(options.root ?? '/', 'sys/class/pwm');
    const chip = options.chip;
    this.name = `pwm:${typeof chip === 'number' ? `pwmchip${chip}` : (chip?.device ?? '*')}/pwm${options.channel}`;
  }

  get state(): PwmState {
    return { ...this.state_ };
  }

  get isOpen(): boolean {
    return this.channelDir !== undefined;
  }

  open(): Promise<void> {
    return this.serial(async () => {
      if (this.channelDir) throw new TransportError(`${this.name} is already open`, { code: 'ALREADY_OPEN', device: this.name });
      const chipDir = await this.findChip();
      const ch = this.options.channel;
      const npwm = Number.parseInt((await this.io.readFile(join(chipDir, 'npwm')).catch(() => '')).trim(), 10);
      if (Number.isInteger(npwm) && ch >= npwm)
        throw new TransportError(`${chipDir} has ${npwm} channels; pwm${ch} does not exist`, { code: 'PWM', device: this.name });
      const dir = join(chipDir, `pwm${ch}`);
      if (!(await this.io.exists(dir))) {
        await this.write(join(chipDir, 'export'), String(ch));
        const deadline = Date.now() + (this.options.exportTimeoutMs ?? 1000);
        while (!(await this.io.exists(join(dir, 'enable')))) {
          if (Date.now() > deadline)
            throw new TransportError(`${dir} did not appear after export`, { code: 'PWM', device: this.name });
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      this.chipDir = chipDir;
      const period = await this.readInt(join(dir, 'period'));
      const duty = await this.readInt(join(dir, 'duty_cycle'));
      const enabled = (await this.readInt(join(dir, 'enable'))) === 1;
      this.channelDir = dir;
      this.periodNs = period;
      this.dutyNs = duty;
      this.state_ = { frequencyHz: period > 0 ? 1e9 / period : 0, duty: period > 0 ? duty / period : 0, enabled };
    });
  }

  configure(settings: { frequencyHz?: number; duty?: number }): Promise<void> {
    const dir = this.channelDir;
    if (!dir) return Promise.reject(this.notOpen());
    const { frequencyHz, duty } = settings;
    if (frequencyHz !== undefined && !(Number.isFinite(frequencyHz) && frequencyHz > 0 && frequencyHz <= 1e9))
      return Promise.reject(
        new ValidationError(`${this.name}: frequencyHz must be within (0, 1e9], got ${frequencyHz}`, {
          code: 'PWM_INVALID',
          device: this.name,
        }),
      );
    if (duty !== undefined && !(Number.isFinite(duty) && duty >= 0 && duty <= 1))
      return Promise.reject(
        new ValidationError(`${this.name}: duty must be within 0..1, got ${duty}`, { code: 'PWM_INVALID', device: this.name }),
      );
    return this.serial(async () => {
      if (this.channelDir !== dir) throw this.notOpen();
      const f = frequencyHz ?? this.state_.frequencyHz;
      const d = duty ?? this.state_.duty;
      if (!(f > 0)) {
        // No period yet: remember the duty; it is written with the first frequency.
        this.state_ = { ...this.state_, duty: d };
        return;
      }
      const period = Math.max(1, Math.round(1e9 / f));
      const dutyNs = Math.min(period, Math.round(d * period));
      const periodFile = join(dir, 'period');
      const dutyFile = join(dir, 'duty_cycle');
      const steps: Array<[string, number, number]> =
        dutyNs > this.periodNs
          ? [
              [periodFile, period, this.periodNs],
              [dutyFile, dutyNs, this.dutyNs],
            ]
          : [
              [dutyFile, dutyNs, this.dutyNs],
              [periodFile, period, this.periodNs],
            ];
      const done: Array<[string, number]> = [];
      try {
        for (const [file, value, old] of steps) {
          if (value === old) continue;
          await this.write(file, String(value));
          done.push([file, old]);
        }
      } catch (e) {
        for (const [file, old] of done.reverse()) await this.io.writeFile(file, String(old)).catch(() => undefined);
        throw e;
      }
      this.periodNs = period;
      this.dutyNs = dutyNs;
      this.state_ = { ...this.state_, frequencyHz: f, duty: d };
    });
  }

  enable(): Promise<void> {
    return this.setEnabled(true);
  }

  disable(): Promise<void> {
    return this.setEnabled(false);
  }

  /** Disables the output and unexports the channel. Idempotent. */
  close(): Promise<void> {
    return this.serial(async () => {
      const dir = this.channelDir;
      const chipDir = this.chipDir;
      if (!dir || !chipDir) return;
      this.channelDir = undefined;
      this.state_ = { ...this.state_, enabled: false };
      await this.io.writeFile(join(dir, 'enable'), '0').catch(() => undefined);
      await this.io.writeFile(join(chipDir, 'unexport'), String(this.options.channel)).catch(() => undefined);
    });
  }

  private setEnabled(on: boolean): Promise<void> {
    const dir = this.channelDir;
    if (!dir) return Promise.reject(this.notOpen());
    return this.serial(async () => {
      if (this.channelDir !== dir) throw this.notOpen();
      if (on && this.periodNs <= 0)
        throw new TransportError(`${this.name}: cannot enable with no period set (configure a frequency first)`, {
          code: 'PWM',
          device: this.name,
        });
      await this.write(join(dir, 'enable'), on ? '1' : '0');
      this.state_ = { ...this.state_, enabled: on };
    });
  }

  private async findChip(): Promise<string> {
    const chip = this.options.chip;
    if (typeof chip === 'number') {
      const dir = join(this.classDir, `pwmchip${chip}`);
      if (!(await this.io.exists(dir)))
        throw new TransportError(`PWM chip ${dir} does not exist`, { code: 'PWM', device: this.name });
      return dir;
    }
    const names = (await this.io.readdir(this.classDir).catch(() => [] as string[])).filter((n) => /^pwmchip\d+$/.test(n)).sort();
    const found: string[] = [];
    for (const n of names) {
      const link = await this.io.readlink(join(this.classDir, n, 'device')).catch(() => '');
      found.push(`${n}=${basename(link) || '?'}`);
      if (!chip || link.includes(chip.device)) {
        if (!chip && names.length > 1) continue;
        return join(this.classDir, n);
      }
    }
    const want = chip ? `with device '${chip.device}'` : 'to pick (exactly one expected; pass options.chip)';
    throw new TransportError(
      `no PWM chip ${want} under ${this.classDir} (have: ${found.join(', ') || 'none; enable dtoverlay=pwm-2chan'})`,
      { code: 'PWM', device: this.name },
    );
  }

  private async write(file: string, value: string): Promise<void> {
    try {
      await this.io.writeFile(file, value);
    } catch (cause) {
      const m = cause instanceof Error ? cause.message : String(cause);
      throw new TransportError(`writing '${value}' to ${file} failed: ${m}`, { code: 'PWM', device: this.name, cause });
    }
  }

  private async readInt(file: string): Promise<number> {
    let text: string;
    try {
      text = await this.io.readFile(file);
    } catch (cause) {
      throw new TransportError(`cannot read ${file}`, { code: 'PWM', device: this.name, cause });
    }
    const n = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(n))
      throw new TransportError(`${file} holds '${text.trim()}', not a number`, { code: 'PWM', device: this.name });
    return n;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private notOpen(): TransportError {
    return new TransportError(`${this.name} is not open`, { code: 'NOT_OPEN', device: this.name });
  }
}
