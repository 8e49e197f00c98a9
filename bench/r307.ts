/**
 * R307 link benchmarks over a real socat pty pair at 57600 baud (DESIGN.md §8):
 * - UpChar (512-byte template) and UpImage (36,864-byte image): time from the command
 *   to the last data byte, against the UART wire time of every byte that crossed the
 *   line (command + ack + data packets, 10 bits per byte). A pty has no baud rate, so
 *   the simulator paces its output at the configured baud on the real clock.
 * - verify (GenImg + Img2Tz + Search over one slot): the host overhead = wall time
 *   minus the sensor's own time (the simulator's per-command time from reading the
 *   command to the last reply byte, wire time included).
 */
import { systemClock } from '../device-drivers/src/core/clock';
import { dataWireBytes, IMAGE_BYTES, Instruction, R307, SimR307, TEMPLATE_BYTES } from '../device-drivers/src/r307';
import { openPtyPair, SerialPortUart } from '../device-drivers/src/transport/linux';
import { uartWireTimeMs } from '../device-drivers/src/transport/uart';
import type { BenchResult, BenchSuite } from './types';

const BAUD = 57600;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

async function run(): Promise<BenchResult[]> {
  const pty = await openPtyPair();
  const sim = new SimR307({ clock: systemClock });
  await sim.attach(new SerialPortUart({ path: pty.a, baudRate: BAUD }));
  const driver = new R307({ uart: new SerialPortUart({ path: pty.b, baudRate: BAUD }) });
  const results: BenchResult[] = [];
  try {
    await sim.whenReady();
    await driver.open();
    sim.placeFinger('bench');
    await driver.captureImage();
    await driver.imageToTemplate(1);
    await driver.imageToTemplate(2);
    await driver.createModel();
    await driver.storeModel(0, 1);

    const transfer = async (name: string, payload: number, cmdBytes: number, runs: number, fn: () => Promise<unknown>) => {
      const bytes = cmdBytes + 12 + dataWireBytes(payload, 128);
      const wire = uartWireTimeMs(bytes, BAUD);
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await fn();
        times.push(performance.now() - t0);
      }
      const value = median(times);
      const ratio = value / wire;
      results.push({
        area: 'r307',
        name,
        value,
        unit: 'ms',
        baseline: { name: `UART wire time, ${bytes} B @${BAUD}`, value: wire },
        ratio,
        target: '0.95-1.05 x wire time',
        pass: Math.abs(ratio - 1) <= 0.05,
        extra: { bytesOnWire: bytes, payload, runs, min: Math.min(...times), max: Math.max(...times) },
      });
    };
    // UpChar command = 13 bytes, UpImage command = 12 bytes; ack = 12 bytes.
    await transfer('template upload 512 B (UpChar) @57600', TEMPLATE_BYTES, 13, 10, () => driver.uploadTemplate(1));
    await transfer('image upload 36,864 B (UpImage) @57600', IMAGE_BYTES, 12, 1, () => driver.uploadImage());

    const overheads: number[] = [];
    const sensor: number[] = [];
    for (let i = 0; i < 15; i++) {
      const before = sim.history.length;
      const t0 = performance.now();
      const r = await driver.verify(0, { waitForFinger: false });
      const wall = performance.now() - t0;
      if (!r.matched) throw new Error('bench finger did not verify');
      while (sim.history.slice(before).some((x) => Number.isNaN(x.doneAt))) await new Promise((res) => setImmediate(res));
      const cmds = sim.history.slice(before);
      if (cmds.map((c) => c.instruction).join() !== [Instruction.GenImg, Instruction.Img2Tz, Instruction.Search].join())
        throw new Error(`unexpected verify commands: ${cmds.map((c) => c.instruction).join()}`);
      const own = cmds.reduce((sum, c) => sum + (c.doneAt - c.readAt), 0);
      sensor.push(own);
      overheads.push(wall - own);
    }
    const value = median(overheads);
    results.push({
      area: 'r307',
      name: 'verify host overhead (GenImg+Img2Tz+Search)',
      value,
      unit: 'ms',
      baseline: { name: "sensor's own time incl. wire", value: median(sensor) },
      ratio: value / median(sensor),
      target: '< 5 ms',
      pass: value < 5,
      extra: { runs: overheads.length, p90: [...overheads].sort((a, b) => a - b)[Math.floor(overheads.length * 0.9)] },
    });
  } finally {
    await driver.close().catch(() => undefined);
    await sim.detach().catch(() => undefined);
    await pty.close();
  }
  return results;
}

export const suite: BenchSuite = { area: 'r307', run };
