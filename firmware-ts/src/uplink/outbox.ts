/**
 * The durable outbox (STYLE habit 12: one interface, an in-memory and a real store, one
 * contract suite in firmware-ts/test/uplink/outbox-contract.ts).
 *
 * Rules (DESIGN §5): the handset makes the payment id and stores the signed message
 * here BEFORE it is published; whatever has no result is published again after a
 * reconnect or a restart; results are matched by payment id, and the FIRST result
 * recorded is kept forever (a redelivered or replayed result never changes it).
 */

import { HandsetError } from '@handset/device-drivers/core';
import Database from 'better-sqlite3';

export type OutboxKind = 'auth' | 'register';

export interface OutboxEntry {
  /** Payment id (auth) or request id (register): the idempotency key. */
  id: string;
  kind: OutboxKind;
  topic: string;
  /** The exact bytes to publish (JSON text); a resend sends the same bytes. */
  payload: string;
  createdAt: number;
  /** Publishes so far (first send included). */
  attempts: number;
  lastSentAt: number | null;
  /** The first answer (JSON text), once it arrived. */
  result: string | null;
  resultAt: number | null;
}

export class OutboxError extends HandsetError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { device: 'outbox', cause });
  }
}

/** Storage of outbox entries. Every method is durable when it resolves (file stores: fsync'd). */
export interface OutboxStore {
  /**
   * Stores a new entry (attempts 0, no result). Same id + same payload = no-op returning
   * the stored entry; same id + other payload -> `OutboxError` OUTBOX_CONFLICT.
   */
  add(entry: Pick<OutboxEntry, 'id' | 'kind' | 'topic' | 'payload' | 'createdAt'>): Promise<OutboxEntry>;
  get(id: string): Promise<OutboxEntry | undefined>;
  /** Counts a publish. Unknown id -> OUTBOX_UNKNOWN. */
  markSent(id: string, at: number): Promise<void>;
  /**
   * Records the answer unless one is recorded already. Returns the entry with the
   * result that stands (the first), and whether this call recorded it. Unknown id -> undefined.
   */
  complete(id: string, result: string, at: number): Promise<{ entry: OutboxEntry; first: boolean } | undefined>;
  /** Entries without a result, oldest first. */
  unanswered(): Promise<OutboxEntry[]>;
  /** Every entry, oldest first (diagnostics). */
  all(): Promise<OutboxEntry[]>;
  close(): Promise<void>;
}

export class MemoryOutboxStore implements OutboxStore {
  private readonly rows = new Map<string, OutboxEntry>();

  async add(e: Pick<OutboxEntry, 'id' | 'kind' | 'topic' | 'payload' | 'createdAt'>): Promise<OutboxEntry> {
    const have = this.rows.get(e.id);
    if (have) {
      if (have.payload !== e.payload || have.kind !== e.kind) throw conflict(e.id);
      return { ...have };
    }
    const row: OutboxEntry = { ...e, attempts: 0, lastSentAt: null, result: null, resultAt: null };
    this.rows.set(e.id, row);
    return { ...row };
  }
  async get(id: string) {
    const r = this.rows.get(id);
    return r && { ...r };
  }
  async markSent(id: string, at: number) {
    const r = this.rows.get(id);
    if (!r) throw unknown(id);
    r.attempts++;
    r.lastSentAt = at;
  }
  async complete(id: string, result: string, at: number) {
    const r = this.rows.get(id);
    if (!r) return undefined;
    const first = r.result === null;
    if (first) {
      r.result = result;
      r.resultAt = at;
    }
    return { entry: { ...r }, first };
  }
  async unanswered() {
    return [...this.rows.values()].filter((r) => r.result === null).map((r) => ({ ...r }));
  }
  async all() {
    return [...this.rows.values()].map((r) => ({ ...r }));
  }
  async close() {}
}

interface Row {
  id: string;
  kind: string;
  topic: string;
  payload: string;
  created_at: number;
  attempts: number;
  last_sent_at: number | null;
  result: string | null;
  result_at: number | null;
}

const toEntry = (r: Row): OutboxEntry => ({
  id: r.id,
  kind: r.kind as OutboxKind,
  topic: r.topic,
  payload: r.payload,
  createdAt: r.created_at,
  attempts: r.attempts,
  lastSentAt: r.last_sent_at,
  result: r.result,
  resultAt: r.result_at,
});

/**
 * better-sqlite3 file, WAL, `synchronous = FULL` (a committed entry survives power loss).
 * `:memory:` works too (tests of the SQL itself).
 */
export class SqliteOutboxStore implements OutboxStore {
  private readonly db: Database.Database;
  private readonly st: Record<'insert' | 'get' | 'sent' | 'complete' | 'unanswered' | 'all', Database.Statement>;

  constructor(readonly path: string) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(`CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_sent_at INTEGER,
        result TEXT,
        result_at INTEGER
      )`);
    } catch (err) {
      throw new OutboxError('OUTBOX_OPEN', `cannot open outbox ${path}`, err);
    }
    const cols = 'id, kind, topic, payload, created_at, attempts, last_sent_at, result, result_at';
    this.st = {
      insert: this.db.prepare(
        'INSERT INTO outbox (id, kind, topic, payload, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
      ),
      get: this.db.prepare(`SELECT ${cols} FROM outbox WHERE id = ?`),
      sent: this.db.prepare('UPDATE outbox SET attempts = attempts + 1, last_sent_at = ? WHERE id = ?'),
      complete: this.db.prepare('UPDATE outbox SET result = ?, result_at = ? WHERE id = ? AND result IS NULL'),
      unanswered: this.db.prepare(`SELECT ${cols} FROM outbox WHERE result IS NULL ORDER BY seq`),
      all: this.db.prepare(`SELECT ${cols} FROM outbox ORDER BY seq`),
    };
  }

  async add(e: Pick<OutboxEntry, 'id' | 'kind' | 'topic' | 'payload' | 'createdAt'>): Promise<OutboxEntry> {
    this.st.insert.run(e.id, e.kind, e.topic, e.payload, e.createdAt);
    const got = toEntry(this.st.get.get(e.id) as Row);
    if (got.payload !== e.payload || got.kind !== e.kind) throw conflict(e.id);
    return got;
  }
  async get(id: string) {
    const r = this.st.get.get(id) as Row | undefined;
    return r && toEntry(r);
  }
  async markSent(id: string, at: number) {
    if (this.st.sent.run(at, id).changes === 0) throw unknown(id);
  }
  async complete(id: string, result: string, at: number) {
    const first = this.st.complete.run(result, at, id).changes === 1;
    const r = this.st.get.get(id) as Row | undefined;
    return r && { entry: toEntry(r), first };
  }
  async unanswered() {
    return (this.st.unanswered.all() as Row[]).map(toEntry);
  }
  async all() {
    return (this.st.all.all() as Row[]).map(toEntry);
  }
  async close() {
    if (this.db.open) this.db.close();
  }
}

const conflict = (id: string) => new OutboxError('OUTBOX_CONFLICT', `outbox entry ${id} exists with a different payload`);
const unknown = (id: string) => new OutboxError('OUTBOX_UNKNOWN', `no outbox entry ${id}`);
