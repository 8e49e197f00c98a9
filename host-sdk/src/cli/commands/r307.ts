/**
 * R307 fingerprint commands.
 *
 *   handset sim r307 --port PATH [--finger NAME] [--quality Q] [--state FILE] [--baud B]
 *        serve the simulated R307 on a serial device (e.g. one end of a socat pty
 *        pair) through the real serialport transport, until SIGINT/SIGTERM. With
 *        --finger, finger NAME is present for one GenImg, absent for the next, ...
 *   handset enroll --port PATH [--slot N]         guided two-capture enrolment
 *   handset fingerprint image --port PATH --png OUT   capture + upload the image, write a PNG
 *   handset fingerprint list  --port PATH [--json]    occupied library slots
 *   handset fingerprint delete SLOT --port PATH [--count N]
 *   handset fingerprint empty --port PATH             delete every template
 *
 * Host tools share --baud (default 57600), --password (default 0) and --address
 * (default FFFFFFFF). Bad arguments are ValidationErrors (exit 1, one clear line).
 */
import { writeFile } from 'node:fs/promises';
import { systemClock, ValidationError } from '@handset/device-drivers/core';
import {
  FileR307Store,
  IMAGE_HEIGHT,
  IMAGE_WIDTH,
  imageToPng,
  MemoryR307Store,
  R307,
  SimR307,
  type TransferProgress,
} from '@handset/device-drivers/r307';
import { SerialPortUart } from '@handset/device-drivers/transport/linux';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { registerFleetSim } from '../../sim/cli';
import type { CliIo } from '../io';

/**
 * The `sim` command group, shared by every `handset sim <device>` subcommand: returns
 * the existing `sim` command or creates it. Other groups call this instead of
 * `program.command('sim')` so registration order does not matter.
 */
export function simCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'sim') ??
    program.command('sim').description('run simulated devices and systems (see `handset sim --help`)')
  );
}

export interface ServeSimR307Options {
  port: string;
  baudRate?: number;
  finger?: string;
  quality?: number;
  statePath?: string;
}

/**
 * Serves a simulated R307 on a real serial device until `signal` aborts. Prints
 * `r307 sim: ready on PATH ...` once the module has powered up.
 */
export async function serveSimR307(options: ServeSimR307Options, io: CliIo, signal: AbortSignal): Promise<void> {
  const baudRate = options.baudRate ?? 57600;
  const uart = await serialUart(options.port, baudRate);
  const sim = new SimR307({
    clock: systemClock,
    store: options.statePath ? new FileR307Store(options.statePath) : new MemoryR307Store(),
  });
  await sim.attach(uart);
  try {
    if (options.finger) sim.placeFinger(options.finger, { presence: 'alternate', quality: options.quality });
    await sim.whenReady();
    io.out(
      `r307 sim: ready on ${options.port} at ${sim.baudRate} baud, address ${sim.address.toString(16).toUpperCase()}, ` +
        `${sim.templates().length} templates${options.finger ? `, finger '${options.finger}' on every other GenImg` : ''}\n`,
    );
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  } finally {
    await sim.detach();
  }
  io.out(`r307 sim: stopped (${sim.history.length} commands served)\n`);
}

async function serialUart(path: string, baudRate: number): Promise<SerialPortUart> {
  return new SerialPortUart({ path, baudRate });
}

interface HostOptions {
  port: string;
  baud: string;
  password: string;
  address: string;
}

function parseIntArg(value: string, what: string, min: number, max: number): number {
  const n = /^0x[0-9a-f]+$/i.test(value) ? Number.parseInt(value, 16) : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ValidationError(`${what} '${value}' is not an integer in ${min}..${max}`);
  return n;
}

async function withDriver<T>(o: HostOptions, fn: (d: R307) => Promise<T>): Promise<T> {
  const baudRate = parseIntArg(o.baud, '--baud', 9600, 115200);
  const uart = await serialUart(o.port, baudRate);
  const driver = new R307({
    uart,
    password: parseIntArg(o.password, '--password', 0, 0xffffffff),
    address: parseIntArg(o.address, '--address', 0, 0xffffffff),
  });
  await driver.open();
  try {
    return await fn(driver);
  } finally {
    await driver.close();
  }
}

function hostOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--port <path>', 'serial device of the sensor (e.g. /dev/ttyAMA0 or a pty)')
    .option('--baud <n>', 'baud rate', '57600')
    .option('--password <n>', 'module password (decimal or 0x hex)', '0')
    .option('--address <n>', 'module address (decimal or 0x hex)', '0xFFFFFFFF');
}

/** Progress of a transfer: a cli-progress bar on an interactive stderr, else a line every 10 %. */
function progressReporter(io: CliIo, label: string): { update: (p: TransferProgress) => void; stop: () => void } {
  if (io.interactive) {
    const bar = new cliProgress.SingleBar(
      { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} bytes | ETA {eta}s`, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (p) => {
        if (!started) {
          bar.start(p.total, 0);
          started = true;
        }
        bar.update(p.bytes);
      },
      stop: () => started && bar.stop(),
    };
  }
  let lastDecile = -1;
  return {
    update: (p) => {
      const decile = Math.floor((10 * p.bytes) / p.total);
      if (decile !== lastDecile) {
        lastDecile = decile;
        io.err(`${label}: ${decile * 10}% (${p.bytes}/${p.total} bytes)\n`);
      }
    },
    stop: () => undefined,
  };
}

export function register(program: Command, io: CliIo): void {
  registerFleetSim(simCommand(program), io);
  simCommand(program)
    .command('r307')
    .description('serve the simulated R307 fingerprint sensor on a serial device until SIGINT/SIGTERM')
    .requiredOption('--port <path>', 'serial device to serve on (e.g. one end of a socat pty pair)')
    .option('--finger <name>', 'finger present for one GenImg, absent for the next, present again, ...')
    .option('--quality <q>', 'press quality 0..1 for --finger', '0.9')
    .option('--state <file>', 'keep the simulated flash (library, password, settings) in this JSON file')
    .option('--baud <n>', 'initial baud rate when there is no state file', '57600')
    .action(async (o: { port: string; finger?: string; quality: string; state?: string; baud: string }) => {
      const quality = Number(o.quality);
      if (!(quality >= 0 && quality <= 1)) throw new ValidationError(`--quality '${o.quality}' is not a number in 0..1`);
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await serveSimR307(
          {
            port: o.port,
            finger: o.finger,
            quality,
            statePath: o.state,
            baudRate: parseIntArg(o.baud, '--baud', 9600, 115200),
          },
          io,
          ac.signal,
        );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  hostOptions(
    program
      .command('enroll')
      .description('guided fingerprint enrolment on an R307: two captures, RegModel, Store')
      .option('--slot <n>', 'library slot (default: the first free one)')
      .option('--timeout <s>', 'seconds to wait for each finger action', '30')
      .option('--allow-duplicate', 'store even if the finger is already enrolled'),
  ).action(async (o: HostOptions & { slot?: string; timeout: string; allowDuplicate?: boolean }) => {
    const slot = o.slot === undefined ? undefined : parseIntArg(o.slot, '--slot', 0, 0xffff);
    const timeoutMs = 1000 * parseIntArg(o.timeout, '--timeout', 1, 3600);
    await withDriver(o, async (d) => {
      const r = await d.enroll(slot, {
        timeoutMs,
        allowDuplicate: o.allowDuplicate,
        onPrompt: (p) => io.out(`${p.message}\n`),
      });
      io.out(`enrolled at slot ${r.slot}\n`);
    });
  });

  const fp = program.command('fingerprint').description('R307 fingerprint library and image tools');

  hostOptions(
    fp
      .command('image')
      .description('capture a finger and upload its 256x288 image as a PNG')
      .requiredOption('--png <file>', 'where to write the PNG')
      .option('--timeout <s>', 'seconds to wait for a finger', '30'),
  ).action(async (o: HostOptions & { png: string; timeout: string }) => {
    const timeoutMs = 1000 * parseIntArg(o.timeout, '--timeout', 1, 3600);
    await withDriver(o, async (d) => {
      io.err('Place your finger on the sensor.\n');
      await d.waitForFinger({ timeoutMs });
      const progress = progressReporter(io, 'image');
      let image: Uint8Array;
      try {
        image = await d.uploadImage({ onProgress: progress.update });
      } finally {
        progress.stop();
      }
      await writeFile(o.png, await imageToPng(image));
      io.out(`wrote ${o.png} (${IMAGE_WIDTH}x${IMAGE_HEIGHT}, ${image.length} bytes at 4 bpp)\n`);
    });
  });

  hostOptions(fp.command('list').description('occupied library slots').option('--json', 'one JSON object')).action(
    async (o: HostOptions & { json?: boolean }) => {
      await withDriver(o, async (d) => {
        const slots = await d.listTemplates();
        const capacity = d.parameters?.capacity ?? 1000;
        if (o.json) io.out(`${JSON.stringify({ count: slots.length, capacity, slots })}\n`);
        else io.out(`${slots.length} of ${capacity} slots used${slots.length ? `: ${slots.join(' ')}` : ''}\n`);
      });
    },
  );

  hostOptions(
    fp
      .command('delete')
      .description('delete templates')
      .argument('<slot>', 'first slot to delete')
      .option('--count <n>', 'number of consecutive slots', '1'),
  ).action(async (slotArg: string, o: HostOptions & { count: string }) => {
    const slot = parseIntArg(slotArg, 'slot', 0, 0xffff);
    const count = parseIntArg(o.count, '--count', 1, 0xffff);
    await withDriver(o, async (d) => {
      await d.deleteModels(slot, count);
      io.out(`deleted ${count === 1 ? `slot ${slot}` : `slots ${slot}..${slot + count - 1}`}\n`);
    });
  });

  hostOptions(fp.command('empty').description('delete every template in the library')).action(async (o: HostOptions) => {
    await withDriver(o, async (d) => {
      await d.emptyLibrary();
      io.out('library emptied\n');
    });
  });
}
