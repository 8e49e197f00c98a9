import type { Account, AccountInput, AccountResult, LedgerStore, Transfer, TransferInput, TransferResult } from './types';

export interface GroupCommitOptions {
  /** Most transfers in one transaction. Default 1024. */
  maxBatch?: number;
}

interface Waiting {
  transfers: readonly TransferInput[];
  resolve: (r: TransferResult[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit in front of any `LedgerStore`: `createTransfers` calls that arrive while
 * a transaction is being committed (or within the same event-loop turn) are joined into
 * ONE transaction - one fsync - and each caller gets back only its own results, indexed
 * from 0 as if it had called the store alone. Order is kept: callers are applied in
 * arrival order, so a later caller sees an earlier caller's effects.
 *
 * A per-transfer problem never affects other callers (results are codes). If the store
 * itself fails, every caller of that batch gets the error and nothing of it was applied.
 */
export class GroupCommitLedger implements LedgerStore {
  readonly kind: string;
  private queue: Waiting[] = [];
  private flushing = false;
  private scheduled = false;
  private readonly maxBatch: number;
  /** Transactions committed and transfers carried, for benchmarks and logs. */
  readonly stats = { batches: 0, transfers: 0 };

  constructor(
    readonly inner: LedgerStore,
    options: GroupCommitOptions = {},
  ) {
    this.kind = `${inner.kind}+group`;
    this.maxBatch = options.maxBatch ?? 1024;
  }

  createTransfers(transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    if (!transfers.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ transfers, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || !this.queue.length) return;
    this.flushing = true;
    const batch: Waiting[] = [];
    let n = 0;
    while (this.queue.length) {
      const next = this.queue[0]!;
      if (batch.length && n + next.transfers.length > this.maxBatch) break;
      batch.push(this.queue.shift()!);
      n += next.transfers.length;
    }
    const all = batch.flatMap((w) => w.transfers);
    try {
      const results = await this.inner.createTransfers(all);
      this.stats.batches++;
      this.stats.transfers += all.length;
      let offset = 0;
      for (const w of batch) {
        const mine = results.slice(offset, offset + w.transfers.length).map((r) => ({ ...r, index: r.index - offset }));
        offset += w.transfers.length;
        w.resolve(mine);
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.flushing = false;
      if (this.queue.length) this.schedule();
    }
  }

  createAccounts(accounts: readonly AccountInput[]): Promise<AccountResult[]> {
    return this.inner.createAccounts(accounts);
  }
  lookupAccounts(ids: readonly string[]): Promise<Account[]> {
    return this.inner.lookupAccounts(ids);
  }
  lookupTransfers(ids: readonly string[]): Promise<Transfer[]> {
    return this.inner.lookupTransfers(ids);
  }
  transfersByUserData(userData: string): Promise<Transfer[]> {
    return this.inner.transfersByUserData(userData);
  }
  expirePending(): Promise<number> {
    return this.inner.expirePending();
  }
  dump(): Promise<{ accounts: Account[]; transfers: Transfer[] }> {
    return this.inner.dump();
  }
  async close(): Promise<void> {
    while (this.queue.length || this.flushing) await new Promise((r) => setImmediate(r));
    await this.inner.close();
  }
}
