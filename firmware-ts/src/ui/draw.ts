/** Small 1-bit drawing helpers: lines, outlines, ellipse arcs, icons. */
import type { MonoBitmap } from '@handset/device-drivers/ssd1680';

/** A line of `thickness` px (square pen), Bresenham. */
export function line(bm: MonoBitmap, x0: number, y0: number, x1: number, y1: number, thickness = 1, ink: 0 | 1 = 1): void {
  let x = Math.round(x0);
  let y = Math.round(y0);
  const xe = Math.round(x1);
  const ye = Math.round(y1);
  const dx = Math.abs(xe - x);
  const dy = -Math.abs(ye - y);
  const sx = x < xe ? 1 : -1;
  const sy = y < ye ? 1 : -1;
  let err = dx + dy;
  const h = Math.floor(thickness / 2);
  for (;;) {
    bm.fillRect(x - h, y - h, thickness, thickness, ink);
    if (x === xe && y === ye) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/** Rectangle outline. */
export function strokeRect(bm: MonoBitmap, x: number, y: number, w: number, h: number, t = 1, ink: 0 | 1 = 1): void {
  bm.fillRect(x, y, w, t, ink);
  bm.fillRect(x, y + h - t, w, t, ink);
  bm.fillRect(x, y, t, h, ink);
  bm.fillRect(x + w - t, y, t, h, ink);
}

/** Ellipse arc outline from angle a0 to a1 (radians, 0 = right, clockwise on screen). */
export function arc(bm: MonoBitmap, cx: number, cy: number, rx: number, ry: number, a0: number, a1: number, t = 1): void {
  const steps = Math.max(16, Math.ceil(Math.max(rx, ry) * Math.abs(a1 - a0) * 2));
  for (let i = 0; i <= steps; i++) {
    const a = a0 + ((a1 - a0) * i) / steps;
    bm.fillRect(Math.round(cx + rx * Math.cos(a) - t / 2), Math.round(cy + ry * Math.sin(a) - t / 2), t, t, 1);
  }
}

/** A stylised fingerprint: concentric open arcs. */
export function fingerprintIcon(bm: MonoBitmap, cx: number, cy: number, size: number): void {
  const rings = 5;
  for (let i = 1; i <= rings; i++) {
    const ry = (size / 2) * (i / rings);
    const rx = ry * 0.72;
    const gap = i % 2 === 0 ? 0.5 : 0.25;
    arc(bm, cx, cy, rx, ry, Math.PI * (0.5 + gap), Math.PI * (2.5 - gap * 0.3), 2);
  }
}

/** A check mark in a `size` box. */
export function checkIcon(bm: MonoBitmap, x: number, y: number, size: number, t = 4): void {
  line(bm, x + size * 0.1, y + size * 0.55, x + size * 0.4, y + size * 0.85, t);
  line(bm, x + size * 0.4, y + size * 0.85, x + size * 0.92, y + size * 0.15, t);
}

/** A cross in a `size` box. */
export function crossIcon(bm: MonoBitmap, x: number, y: number, size: number, t = 4): void {
  line(bm, x + size * 0.15, y + size * 0.15, x + size * 0.85, y + size * 0.85, t);
  line(bm, x + size * 0.85, y + size * 0.15, x + size * 0.15, y + size * 0.85, t);
}

/** A padlock in a `size` box. */
export function lockIcon(bm: MonoBitmap, x: number, y: number, size: number): void {
  const bw = Math.round(size * 0.8);
  const bh = Math.round(size * 0.5);
  const bx = x + Math.round((size - bw) / 2);
  const by = y + size - bh;
  bm.fillRect(bx, by, bw, bh, 1);
  arc(bm, x + size / 2, by, bw * 0.32, size * 0.36, Math.PI, Math.PI * 2, 3);
  bm.fillRect(Math.round(bx + bw * 0.18 - 1), Math.round(by - size * 0.12), 3, Math.round(size * 0.12) + 1, 1);
  bm.fillRect(Math.round(bx + bw * 0.82 - 2), Math.round(by - size * 0.12), 3, Math.round(size * 0.12) + 1, 1);
  bm.fillRect(x + Math.round(size / 2) - 2, by + Math.round(bh * 0.3), 4, Math.round(bh * 0.4), 0);
}

/** An exclamation mark in a triangle. */
export function warningIcon(bm: MonoBitmap, x: number, y: number, size: number): void {
  line(bm, x + size / 2, y + 1, x + 1, y + size - 2, 3);
  line(bm, x + size / 2, y + 1, x + size - 2, y + size - 2, 3);
  line(bm, x + 1, y + size - 2, x + size - 2, y + size - 2, 3);
  bm.fillRect(x + Math.round(size / 2) - 1, y + Math.round(size * 0.35), 3, Math.round(size * 0.3), 1);
  bm.fillRect(x + Math.round(size / 2) - 1, y + Math.round(size * 0.72), 3, 3, 1);
}
