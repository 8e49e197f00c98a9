import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { GroupCommitLedger, PgLedgerStore } from '../../src/cloud/ledger/index';
import { dropSchema } from '../../src/cloud/sql/pg';
import { describeLedgerStoreContract } from './ledger-contract';

export const PG_URL = process.env.HANDSET_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function postgres(group: boolean) {
  return async (clock: import('@handset/device-drivers/core').ManualClock) => {
    const schema = `t_ledger_${randomBytes(6).toString('hex')}`;
    const pool = new pg.Pool({ connectionString: PG_URL, max: 6 });
    const inner = new PgLedgerStore({ pool, schema, clock });
    await inner.init();
    const store = group ? new GroupCommitLedger(inner) : inner;
    return {
      store,
      twin: async () => new PgLedgerStore({ connectionString: PG_URL, schema, clock, max: 4 }),
      cleanup: async () => {
        await store.close();
        await dropSchema(pool, schema);
        await pool.end();
      },
    };
  };
}

describeLedgerStoreContract('postgres', postgres(false));
describeLedgerStoreContract('postgres + group commit', postgres(true));
