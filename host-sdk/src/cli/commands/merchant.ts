/**
 * `handset merchant ...`: the money-receiving terminal.
 *
 *   handset merchant serve [--cloud URL] [--broker mqtt://HOST:PORT] [--port N] [--host H]
 *                          [--merchant-id m-ID] [--name NAME] [--city CITY] [--country CC]
 *                          [--mcc NNNN] [--terminal-label T1] [--currency EUR] [--root PREFIX/]
 *                          [--register] [--scanner /dev/hidrawN] [--json]
 *       Serves the cashier's page and prints its URL; runs until SIGINT/SIGTERM, then
 *       closes the page server, the results subscription and (if it started one) the
 *       embedded cloud, and exits 0.
 *       Without --cloud: starts an embedded cloud in this process (SQLite in memory,
 *       embedded aedes broker, free ports) with the merchant and two funded demo consumers
 *       (alice, bob). With --cloud URL: uses that cloud's HTTP API; the MQTT broker comes
 *       from --broker or the cloud's /health; the merchant must exist there (or pass
 *       --register to create it). HTTP bearer token from HANDSET_API_TOKEN.
 *       --scanner reads a keyboard-mode barcode scanner through node-hid: each scanned
 *       pay code is charged against the newest order awaiting payment.
 */
import { ValidationError } from '@handset/device-drivers/core';
import { NodeHidDevice } from '@handset/device-drivers/transport/linux';
import type { Command } from 'commander';
import type { RunningCloud } from '../../cloud/service';
import { CloudRequestError, HttpCloudClient } from '../../merchant/cloud-client';
import type { MerchantProfile } from '../../merchant/ports';
import { type AttachedScanner, attachScanner } from '../../merchant/scanner';
import { currency as currencyOf } from '../../protocol/money';
import { MERCHANT_ID_RE } from '../../protocol/topics';
import { type CliIo, untilSignal } from '../io';
import { type MerchantPage, startEmbeddedMerchantCloud, startMerchantPage } from '../merchant-stack';

function port(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new ValidationError(`bad port ${JSON.stringify(v)}`, { code: 'BAD_ARGUMENT' });
  }
  return n;
}

function text(max: number, what: string) {
  return (v: string) => {
    if (!/^[\x20-\x7e]+$/.test(v) || v.length > max) {
      throw new ValidationError(`${what} must be 1-${max} printable ASCII characters`, { code: 'BAD_ARGUMENT' });
    }
    return v;
  };
}

export function register(program: Command, io: CliIo): void {
  const merchant = program
    .command('merchant')
    .description('merchant terminal: dynamic QR orders, pay codes, amount comparison, receipts');

  merchant
    .command('serve')
    .description("serve the cashier's page (embedded cloud unless --cloud is given)")
    .option('--cloud <url>', 'cloud HTTP API URL (default: start an embedded cloud)')
    .option('--broker <url>', 'MQTT broker for live results (default: from the cloud)')
    .option('--port <n>', 'page port (0 = free)', port, 0)
    .option('--host <host>', 'listen address', '127.0.0.1')
    .option('--merchant-id <id>', 'merchant id (m-...)', 'm-demo')
    .option('--name <name>', 'merchant name on the QR and receipts (<= 25)', text(25, 'name'), 'Demo Shop')
    .option('--city <city>', 'merchant city (<= 15)', text(15, 'city'), 'Berlin')
    .option('--country <cc>', 'ISO 3166-1 alpha-2', 'DE')
    .option('--mcc <code>', 'merchant category code', '5999')
    .option('--terminal-label <label>', 'till label on QR (62-07) and receipts', text(25, 'terminal label'))
    .option('--currency <code>', 'currency of the embedded merchant', 'EUR')
    .option('--root <prefix>', 'MQTT topic root prefix, e.g. test-1/', '')
    .option('--register', 'create the merchant in the cloud if it does not exist')
    .option(
      '--scanner <hidraw>',
      'a USB barcode scanner (keyboard mode) read directly, e.g. /dev/hidraw0: scans pay the open order',
    )
    .option('--json', 'print one JSON line {"event":"ready",...} instead of text')
    .action(async (o) => {
      if (!MERCHANT_ID_RE.test(o.merchantId)) {
        throw new ValidationError(`merchant id ${JSON.stringify(o.merchantId)} must match ${MERCHANT_ID_RE}`, {
          code: 'BAD_ARGUMENT',
        });
      }
      if (!/^[A-Z]{2}$/.test(o.country))
        throw new ValidationError('country must be ISO 3166-1 alpha-2 (e.g. DE)', { code: 'BAD_ARGUMENT' });
      if (!/^[0-9]{4}$/.test(o.mcc)) throw new ValidationError('mcc must be 4 digits', { code: 'BAD_ARGUMENT' });
      const cur = currencyOf(o.currency).alpha;
      const profile: MerchantProfile = {
        id: o.merchantId,
        name: o.name,
        city: o.city,
        country: o.country,
        mcc: o.mcc,
        terminalLabel: o.terminalLabel,
      };

      let cloud: RunningCloud | undefined;
      let client: HttpCloudClient;
      let currencies = [cur];
      try {
        if (o.cloud) {
          const token = process.env.HANDSET_API_TOKEN;
          const probe = new HttpCloudClient({ httpUrl: o.cloud, apiToken: token });
          const health = await probe.request<{ broker?: string | null }>('GET', '/health');
          const brokerUrl = o.broker ?? health.broker ?? undefined;
          client = new HttpCloudClient({ httpUrl: o.cloud, brokerUrl, root: o.root, apiToken: token });
          if (o.register) await client.ensureMerchant({ merchantId: profile.id, name: profile.name, currency: cur });
          try {
            currencies = [(await client.merchantInfo(profile.id)).currency];
          } catch (err) {
            if (err instanceof CloudRequestError && err.status === 404) {
              throw new ValidationError(
                `merchant ${profile.id} does not exist in the cloud at ${o.cloud}; pass --register to create it`,
                {
                  code: 'UNKNOWN_MERCHANT',
                },
              );
            }
            throw err;
          }
        } else {
          ({ cloud, client } = await startEmbeddedMerchantCloud({
            cloud: { store: 'sqlite::memory:', broker: 'embedded', brokerPort: 0, httpPort: 0, host: o.host, root: o.root },
            merchant: profile,
            currency: cur,
          }));
        }
      } catch (err) {
        await cloud?.stop();
        throw err;
      }

      let page: MerchantPage | undefined;
      let scanner: AttachedScanner | undefined;
      try {
        page = await startMerchantPage({ merchant: profile, cloud: client, host: o.host, port: o.port, currencies });
        if (o.scanner) {
          const device = new NodeHidDevice({ path: o.scanner });
          await device.open();
          scanner = attachScanner(page.terminal, device, {
            onError: (e) => io.err(`scanner: ${e.code}: ${e.message}\n`),
            onCharge: (v) => io.err(`scanner: order ${v.order.reference} ${v.order.state}\n`),
          });
        }
      } catch (err) {
        await scanner?.stop();
        await page?.close().catch(() => undefined);
        await cloud?.stop();
        throw err;
      }
      const server = page.server;
      const stopped = untilSignal();
      if (o.json) {
        io.out(
          `${JSON.stringify({ event: 'ready', url: server.url, merchantId: profile.id, cloudUrl: cloud?.httpUrl ?? o.cloud, brokerUrl: cloud?.brokerUrl ?? null, embeddedCloud: Boolean(cloud), pid: process.pid })}\n`,
        );
      } else {
        io.out(`Merchant terminal for ${profile.name} (${profile.id}): ${server.url}\n`);
        if (cloud) io.out(`Embedded cloud: ${cloud.httpUrl}  broker: ${cloud.brokerUrl}  (demo consumers alice, bob)\n`);
        io.out('Press Ctrl+C to stop.\n');
      }
      const sig = await stopped;
      await scanner?.stop();
      await page.close();
      await cloud?.stop();
      if (!o.json) io.out(`Stopped (${sig}).\n`);
    });
}
