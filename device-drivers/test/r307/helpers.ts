import type { SimUart } from '../../src/transport/sim/uart';

/** Literal bytes from a hex string with spaces: h('EF01 FFFFFFFF 01 0003 01 0005'). */
export function h(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

export function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').toUpperCase();
}

export interface ScriptStep {
  /** Bytes the host must send (hex). */
  expect: string;
  /** Bytes the device answers with (hex), each written separately. */
  reply?: string[];
}

/**
 * A scripted device on the device end of a sim UART pair: for each step it collects
 * exactly as many bytes as expected, records what arrived, and writes the replies.
 * It knows nothing of our protocol code, so driver tests compare against literal bytes.
 */
export function scriptedDevice(device: SimUart, steps: ScriptStep[]): { received: string[]; done: Promise<void> } {
  const received: string[] = [];
  const done = (async () => {
    if (!device.isOpen) await device.open();
    const buf: number[] = [];
    for (const step of steps) {
      const want = h(step.expect).length;
      while (buf.length < want) buf.push(...(await device.read()));
      received.push(hexOf(Uint8Array.from(buf.splice(0, want))));
      for (const r of step.reply ?? []) await device.write(h(r));
    }
  })();
  return { received, done };
}

/** An independent packet builder for large payloads (checked against literal examples in protocol.test.ts). */
export function testPacket(pid: number, content: Uint8Array, address = 'FFFFFFFF'): string {
  const len = content.length + 2;
  let sum = pid + (len >> 8) + (len & 0xff);
  for (const b of content) sum += b;
  sum &= 0xffff;
  return `EF01${address}${pid.toString(16).padStart(2, '0')}${len.toString(16).padStart(4, '0')}${hexOf(content)}${sum
    .toString(16)
    .padStart(4, '0')}`.toUpperCase();
}

/** A payload split into data packets of `size`, as hex strings (0x02 ... 0x08). */
export function testDataPackets(payload: Uint8Array, size: number): string[] {
  const out: string[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const last = off + size >= payload.length;
    out.push(testPacket(last ? 8 : 2, payload.subarray(off, off + size)));
  }
  return out;
}

/** Reads exactly `n` bytes from a Uart (fails the test after `ms`). */
export async function readExactly(uart: { read(max?: number): Promise<Uint8Array> }, n: number, ms = 3000): Promise<Uint8Array> {
  const out: number[] = [];
  const deadline = Date.now() + ms;
  while (out.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`readExactly: got ${out.length} of ${n} bytes`);
    const chunk = await Promise.race([
      uart.read(n - out.length),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`readExactly: got ${out.length} of ${n} bytes`)), left)),
    ]);
    out.push(...chunk);
  }
  return Uint8Array.from(out);
}
