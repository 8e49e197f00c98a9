import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HandsetError } from '@handset/device-drivers/core';

/** One Ed25519 check: raw 32-byte public key, the signed bytes, the 64-byte signature. */
export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

/** Checks a batch of signatures; one boolean per check, same order. Never rejects for a bad signature. */
export type BatchVerifier = (checks: readonly SignatureCheck[]) => Promise<boolean[]>;

// The worker is plain CommonJS evaluated from this string, so it needs no file of its own
// next to the bundled CLI. It keeps imported keys (importing costs more than verifying).
const WORKER = `
const { parentPort } = require('node:worker_threads');
const nc = require('node:crypto');
const SPKI = Buffer.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const keys = new Map();
function key(raw) {
  const id = Buffer.from(raw).toString('base64');
  let k = keys.get(id);
  if (!k) {
    k = nc.createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' });
    if (keys.size >= 50000) keys.delete(keys.keys().next().value);
    keys.set(id, k);
  }
  return k;
}
parentPort.on('message', ({ id, packed }) => {
  const b = Buffer.from(packed);
  const n = b.readUInt32LE(0);
  const ok = new Uint8Array(n);
  let o = 4;
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32LE(o);
    const pk = b.subarray(o + 4, o + 36);
    const sig = b.subarray(o + 36, o + 100);
    const msg = b.subarray(o + 100, o + 100 + len);
    o += 100 + len;
    try {
      ok[i] = nc.verify(null, msg, key(pk), sig) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  }
  parentPort.postMessage({ id, ok }, [ok.buffer]);
});
`;

/**
 * A batch as one transferable buffer: u32 count, then per check u32 message length, the
 * 32-byte key, the 64-byte signature, the message. (Posting the checks as objects would
 * structured-clone each Uint8Array's whole backing store: often an 8 KB Buffer pool slab.)
 */
function pack(checks: readonly SignatureCheck[]): ArrayBuffer {
  let size = 4;
  for (const c of checks) size += 100 + c.message.length;
  const b = Buffer.alloc(size);
  b.writeUInt32LE(checks.length, 0);
  let o = 4;
  for (const c of checks) {
    b.writeUInt32LE(c.message.length, o);
    b.set(c.publicKey, o + 4);
    b.set(c.signature, o + 36);
    b.set(c.message, o + 100);
    o += 100 + c.message.length;
  }
  return b.buffer as ArrayBuffer;
}

interface Pending {
  resolve: (ok: boolean[]) => void;
  reject: (err: Error) => void;
}

/**
 * Ed25519 verification on worker threads, a whole batch per message. The event loop
 * pays ~7 us per signature in batches of 20 (~75 us alone) instead of ~170 us to verify
 * inline or ~60 us to hand each one to libuv's pool; the checks run on another core.
 * Batches go to the threads in turn. Idle threads do not keep the process alive.
 */
export class Ed25519VerifyPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private next = 0;
  private closed = false;

  /** `threads` default: one per core but the event loop's, at least 1, at most 4. */
  constructor(options: { threads?: number } = {}) {
    const n = Math.max(1, Math.min(4, options.threads ?? availableParallelism() - 1));
    for (let i = 0; i < n; i++) {
      const w = new Worker(WORKER, { eval: true });
      w.on('message', ({ id, ok }: { id: number; ok: Uint8Array }) => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        if (!this.pending.size) for (const x of this.workers) x.unref();
        p.resolve(Array.from(ok, (b) => b === 1));
      });
      w.on('error', (err) => this.failAll(err));
      w.unref();
      this.workers.push(w);
    }
  }

  get threads(): number {
    return this.workers.length;
  }

  readonly verify: BatchVerifier = (checks) => {
    if (!checks.length) return Promise.resolve([]);
    if (this.closed)
      return Promise.reject(new HandsetError('VERIFY_POOL_CLOSED', 'the verify pool is closed', { device: 'cloud' }));
    // a key or signature of the wrong length is false without a trip to a thread
    const sound = checks.flatMap((c, i) => (c.publicKey.length === 32 && c.signature.length === 64 ? [i] : []));
    if (!sound.length) return Promise.resolve(checks.map(() => false));
    const id = this.seq++;
    const w = this.workers[this.next++ % this.workers.length]!;
    const packed = pack(sound.map((i) => checks[i]!));
    return new Promise<boolean[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      for (const x of this.workers) x.ref();
      w.postMessage({ id, packed }, [packed]);
    }).then((ok) => {
      if (sound.length === checks.length) return ok;
      const out = checks.map(() => false);
      for (const [k, i] of sound.entries()) out[i] = ok[k]!;
      return out;
    });
  };

  private failAll(err: Error): void {
    const e = new HandsetError('VERIFY_POOL', `signature worker failed: ${err.message}`, { device: 'cloud', cause: err });
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
