/**
 * Factory provisioning of one handset's data directory (host-sdk/src/provision/provision.ts).
 *
 *   handset provision --device-id hs-X --account A --cloud http://HOST:PORT --data-dir DIR
 *                     [--port /dev/ttyX [--baud B] [--slots 1,2]] [--no-fingerprint]
 *                     [--broker mqtt://HOST:PORT] [--json]
 *
 * The bearer token comes from HANDSET_API_TOKEN. Prints a summary (never the seed or the
 * private key); failures are typed, one line, exit 1.
 */
import { ValidationError } from '@handset/device-drivers/core';
import { R307 } from '@handset/device-drivers/r307';
import { SerialPortUart } from '@handset/device-drivers/transport/linux';
import type { Command } from 'commander';
import { FleetClient } from '../../provision/fleet-client';
import { type ProvisionResult, provisionHandset } from '../../provision/provision';
import type { CliIo } from '../io';

interface ProvisionArgs {
  deviceId: string;
  account: string;
  cloud: string;
  dataDir: string;
  port?: string;
  baud: string;
  slots?: string;
  fingerprint: boolean;
  broker?: string;
  json?: boolean;
}

function parseSlots(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) throw new ValidationError(`--slots '${raw}': '${p}' is not a slot number 0..999`);
    const n = Number(p);
    if (out.includes(n)) throw new ValidationError(`--slots '${raw}': slot ${n} listed twice`);
    out.push(n);
  }
  return out;
}

export function summary(r: ProvisionResult): string {
  const lines = [
    `provisioned ${r.deviceId} for account ${r.account} in ${r.dataDir}`,
    `  device key   ${r.keyCreated ? 'generated' : 'kept (already present)'}; public key ${r.publicKey}`,
    `  registration ${
      r.registration === 'skipped'
        ? 'skipped (--no-fingerprint: the handset registers after its first enrolment)'
        : `${r.registration}; pay-code index ${r.paycodeIndex}, seed sealed in keystore.json`
    }`,
    `  enrolment    ${r.enrolments.length ? r.enrolments.map((e) => `slot ${e.slot} sha256 ${e.templateSha256.slice(0, 16)}...`).join(', ') : '(none)'}`,
    `  broker       ${r.brokerUrl}`,
    `  files        ${r.files.join(' ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('provision')
    .description("factory provisioning: device key, cloud registration with the sensor's enrolment digests, sealed seed, config")
    .requiredOption('--device-id <id>', 'handset id (hs-...)')
    .requiredOption('--account <account>', "the holder's account on the cloud")
    .requiredOption('--cloud <url>', 'cloud HTTP API (http://host:port); token from HANDSET_API_TOKEN')
    .requiredOption('--data-dir <dir>', "the handset's data directory to write (device.secret, keystore.json, handset.env)")
    .option('--port <path>', 'serial device of the R307 whose stored templates are registered')
    .option('--baud <n>', 'R307 baud rate', '57600')
    .option('--slots <list>', 'comma-separated slots to register (default: every occupied slot)')
    .option('--no-fingerprint', 'no sensor: write key and config only, no registration')
    .option('--broker <url>', "broker URL for the config (default: the cloud's /health answer)")
    .option('--json', 'print the summary as one JSON object')
    .action(async (o: ProvisionArgs) => {
      const slots = o.slots === undefined ? undefined : parseSlots(o.slots);
      if (o.port && !o.fingerprint) throw new ValidationError('--port and --no-fingerprint exclude each other');
      if (slots && !o.port) throw new ValidationError('--slots needs --port');
      const baudRate = Number(o.baud);
      if (!Number.isInteger(baudRate) || baudRate < 9600 || baudRate > 115200)
        throw new ValidationError(`--baud '${o.baud}' is not an integer in 9600..115200`);
      const cloud = new FleetClient({ baseUrl: o.cloud, token: process.env.HANDSET_API_TOKEN });
      const run = (r307?: R307) =>
        provisionHandset({
          deviceId: o.deviceId,
          account: o.account,
          dataDir: o.dataDir,
          cloud,
          r307,
          fingerprint: o.fingerprint,
          slots,
          brokerUrl: o.broker,
        });
      let result: ProvisionResult;
      if (o.port) {
        const driver = new R307({ uart: new SerialPortUart({ path: o.port, baudRate }) });
        await driver.open();
        try {
          result = await run(driver);
        } finally {
          await driver.close();
        }
      } else result = await run();
      io.out(o.json ? `${JSON.stringify(result)}\n` : summary(result));
    });
}
