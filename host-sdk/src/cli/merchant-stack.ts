import { type RunningCloud, type StartCloudOptions, startCloud } from '../cloud/service';
import { HttpCloudClient } from '../merchant/cloud-client';
import { protocolMpmEncoder } from '../merchant/mpm';
import type { CloudClient, MerchantProfile } from '../merchant/ports';
import { type MerchantServer, startMerchantServer } from '../merchant/server';
import { MerchantTerminal } from '../merchant/terminal';

/**
 * The merchant side as `handset merchant serve` and `handset run` start it: an embedded
 * cloud seeded for a demo (`startEmbeddedMerchantCloud`) and the real terminal behind its
 * cashier's page (`startMerchantPage`).
 */
export interface EmbeddedMerchantCloudOptions {
  /** How to start the cloud (store, broker, ports, host, root, clock, seed key...). */
  cloud: StartCloudOptions;
  merchant: MerchantProfile;
  /** The merchant's and the consumers' currency (alpha code). */
  currency: string;
  /** Demo consumers created and funded once (idempotent: same deposit key). Default alice, bob. */
  consumers?: readonly string[];
  /** Each consumer's demo deposit in minor units. Default 100,000 (1,000.00). */
  deposit?: bigint;
}

/**
 * Starts a cloud, creates the merchant and the funded demo consumers (all idempotent, so a
 * persistent store can be reopened), and returns it with an HTTP client for the terminal
 * (results over the cloud's broker). The cloud is stopped again if seeding fails.
 */
export async function startEmbeddedMerchantCloud(
  o: EmbeddedMerchantCloudOptions,
): Promise<{ cloud: RunningCloud; client: HttpCloudClient }> {
  const cloud = await startCloud(o.cloud);
  try {
    const c = cloud.center;
    await c.createMerchant({ merchantId: o.merchant.id, name: o.merchant.name, currency: o.currency });
    for (const account of o.consumers ?? ['alice', 'bob']) {
      await c.createUser({ account, currency: o.currency });
      await c.deposit(account, o.deposit ?? 100_000n, 'demo');
    }
  } catch (err) {
    await cloud.stop();
    throw err;
  }
  const client = new HttpCloudClient({ httpUrl: cloud.httpUrl, brokerUrl: cloud.brokerUrl, root: o.cloud.root });
  return { cloud, client };
}

export interface MerchantPageOptions {
  merchant: MerchantProfile;
  cloud: CloudClient;
  host: string;
  /** Page port; 0 = free. */
  port: number;
  /** Currencies the form offers; the first is preselected. */
  currencies: readonly string[];
}

export interface MerchantPage {
  terminal: MerchantTerminal;
  server: MerchantServer;
  /** Closes the page, then stops the terminal. */
  close(): Promise<void>;
}

/** Starts the merchant terminal (dynamic QR + results subscription) and serves its page; stops the terminal if the page fails. */
export async function startMerchantPage(o: MerchantPageOptions): Promise<MerchantPage> {
  const terminal = new MerchantTerminal({ merchant: o.merchant, cloud: o.cloud, mpm: protocolMpmEncoder });
  await terminal.start();
  let server: MerchantServer;
  try {
    server = await startMerchantServer({
      terminal,
      port: o.port,
      host: o.host,
      defaultCurrency: o.currencies[0],
      currencies: o.currencies,
    });
  } catch (err) {
    await terminal.stop().catch(() => undefined);
    throw err;
  }
  return {
    terminal,
    server,
    async close() {
      await server.close();
      await terminal.stop();
    },
  };
}
