/**
 * Progress of a byte transfer (flash copy, OTA push) on stderr: a cli-progress bar with
 * bytes, percent and rate when stderr is a terminal, else one plain line per 10 %.
 * cli-progress is already the CLI's bar (r307 template transfer), so no new package.
 */
import cliProgress from 'cli-progress';

export interface ProgressIo {
  err(text: string): void;
  readonly interactive: boolean;
}

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const human = (n: number): string =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

export function byteProgress(io: ProgressIo, label: string, now: () => number = Date.now): Progress {
  const started = now();
  const rate = (done: number) => `${human(done / Math.max(0.001, (now() - started) / 1000))}/s`;
  if (io.interactive) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {percentage}% | {doneH}/{totalH} | {rate}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let on = false;
    return {
      update(done, total) {
        const payload = { doneH: human(done), totalH: human(total), rate: rate(done) };
        if (!on) {
          bar.start(total, done, payload);
          on = true;
        } else bar.update(done, payload);
      },
      stop: () => on && bar.stop(),
    };
  }
  let last = -1;
  return {
    update(done, total) {
      const decile = total === 0 ? 10 : Math.floor((10 * done) / total);
      if (decile === last) return;
      last = decile;
      io.err(`${label}: ${decile * 10}% (${done}/${total} bytes, ${rate(done)})\n`);
    },
    stop: () => undefined,
  };
}
