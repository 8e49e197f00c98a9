import { MonoBitmap } from '../../src/ssd1680';
import type { SimSpiRecord } from '../../src/transport/sim/spi';

/** Groups recorded SPI chunks into commands: [cmd, ...data]. */
export function commands(recording: SimSpiRecord[]): number[][] {
  const out: number[][] = [];
  for (const r of recording) {
    if (r.dc === 0) for (const b of r.tx) out.push([b]);
    else {
      const last = out[out.length - 1];
      if (!last) throw new Error('data before any command');
      for (const b of r.tx) last.push(b);
    }
  }
  return out;
}

/** Commands with long data replaced by their length, as `24 <4000 B>` strings. */
export function describe(cmds: number[][]): string[] {
  return cmds.map(([c, ...d]) => {
    const h = (b: number) => b.toString(16).padStart(2, '0').toUpperCase();
    if (d.length > 16) return `${h(c ?? 0)} <${d.length} B>`;
    return [c ?? 0, ...d].map(h).join(' ');
  });
}

/** A deterministic test picture: a frame, a diagonal and a block. */
export function picture(width: number, height: number, seed = 1): MonoBitmap {
  const bm = new MonoBitmap(width, height);
  bm.fillRect(0, 0, width, 2);
  bm.fillRect(0, height - 2, width, 2);
  bm.fillRect(0, 0, 2, height);
  bm.fillRect(width - 2, 0, 2, height);
  for (let i = 0; i < Math.min(width, height); i++) bm.set(i, (i * seed) % height);
  bm.fillRect(10 + seed * 3, 20, 30, 25);
  return bm;
}
