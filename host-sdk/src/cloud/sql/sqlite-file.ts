import Database from 'better-sqlite3';

export interface SqliteFileOptions {
  /** FULL (default) fsyncs every commit; NORMAL survives a process crash (WAL) but may lose the last commits on power loss. */
  synchronous?: 'FULL' | 'NORMAL';
}

/**
 * One SQLite connection that several stores share (the embedded cloud keeps its ledger
 * and registry in one file, so a payment batch is one transaction and one fsync).
 *
 * better-sqlite3 is synchronous, but the stores' callers are not: a transaction that
 * awaits between statements would otherwise let another caller's statements run inside
 * it. So every user of the connection goes through `serial`, one at a time; code that
 * already holds the connection (inside `serial`) uses the stores' joined views instead.
 */
export class SqliteFile {
  readonly db: Database.Database;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: SqliteFileOptions = {}) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 10000');
  }

  /** Runs `fn` once every earlier caller has finished with the connection. */
  serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * `fn` inside one `BEGIN IMMEDIATE` transaction, holding the connection: committed if
   * it resolves, rolled back if it throws. Inside, use joined views (their own
   * transactions become savepoints).
   */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn();
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.serial(() => {
      if (this.db.open) this.db.close();
    });
  }
}
