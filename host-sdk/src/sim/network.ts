/**
 * Virtual time and a simulated network for the fleet simulation: no timers, no sockets.
 *
 * {@link EventQueue} is a priority queue of events by (virtual time, insertion order);
 * the fleet's loop pops one at a time and awaits its handler, so a run is a pure
 * function of its seed. {@link SimNetwork} turns a send into zero, one or several
 * deliveries: each copy gets a random delay, may be dropped, duplicated, or held back
 * long enough to overtake (reorder) later messages, as the seed's fault preset says.
 */
import type { Prng } from './prng';

/** A queued event: `at` is virtual ms since the start of the run. */
export interface Scheduled<E> {
  at: number;
  seq: number;
  event: E;
}

/** Min-heap of events by (at, seq): equal times keep their insertion order. */
export class EventQueue<E> {
  private heap: Array<Scheduled<E>> = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, event: E): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  peek(): Scheduled<E> | undefined {
    return this.heap[0];
  }

  pop(): Scheduled<E> | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (!top || !last || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}

function before<E>(a: Scheduled<E>, b: Scheduled<E>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** How one direction of the network misbehaves. Probabilities are per message. */
export interface LinkProfile {
  /** Base one-way delay range, ms. */
  delayMs: readonly [number, number];
  /** A copy is lost. */
  drop: number;
  /** The message is delivered twice (or, rarely, three times). */
  duplicate: number;
  /** A copy is held back by an extra 0.2-4 s, so later messages overtake it. */
  reorder: number;
}

export const CLEAN_LINK: LinkProfile = { delayMs: [2, 30], drop: 0, duplicate: 0, reorder: 0 };

/** What the network did, for the run's summary. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

/**
 * Schedules deliveries of a message sent at `now`: returns the delivery times (empty =
 * lost). The caller queues one delivery event per time.
 */
export class SimNetwork {
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0 };

  constructor(
    private readonly rng: Prng,
    public profile: LinkProfile = CLEAN_LINK,
  ) {}

  deliveries(now: number): number[] {
    const p = this.profile;
    this.stats.sent++;
    let copies = 1;
    if (this.rng.chance(p.duplicate)) {
      copies += this.rng.chance(0.2) ? 2 : 1;
      this.stats.duplicated++;
    }
    const out: number[] = [];
    for (let i = 0; i < copies; i++) {
      if (this.rng.chance(p.drop)) {
        this.stats.dropped++;
        continue;
      }
      let delay = this.rng.int(p.delayMs[0], p.delayMs[1]);
      if (this.rng.chance(p.reorder)) {
        delay += this.rng.int(200, 4000);
        this.stats.reordered++;
      }
      out.push(now + delay);
      this.stats.delivered++;
    }
    return out;
  }
}
