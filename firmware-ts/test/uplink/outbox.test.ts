import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { MemoryOutboxStore, SqliteOutboxStore } from '../../src/uplink/index';
import { describeOutboxStoreContract } from './outbox-contract';

const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeOutboxStoreContract('memory', async () => ({ store: new MemoryOutboxStore() }));
describeOutboxStoreContract('sqlite :memory:', async () => ({ store: new SqliteOutboxStore(':memory:') }));
describeOutboxStoreContract('sqlite file (WAL)', async () => {
  const path = join(dir, `o${n++}.sqlite`);
  return { store: new SqliteOutboxStore(path), reopen: async () => new SqliteOutboxStore(path) };
});
