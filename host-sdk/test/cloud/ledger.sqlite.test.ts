import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupCommitLedger, SqliteLedgerStore } from '../../src/cloud/ledger/index';
import { describeLedgerStoreContract } from './ledger-contract';

function sqlite(group: boolean) {
  return async (clock: import('@handset/device-drivers/core').ManualClock) => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
    const path = join(dir, 'ledger.db');
    const inner = new SqliteLedgerStore({ path, clock });
    const store = group ? new GroupCommitLedger(inner) : inner;
    return {
      store,
      twin: async () => new SqliteLedgerStore({ path, clock }),
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

describeLedgerStoreContract('sqlite', sqlite(false));
describeLedgerStoreContract('sqlite + group commit', sqlite(true));
