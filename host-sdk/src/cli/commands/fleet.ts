/**
 * The operator's view of the fleet over the cloud's HTTP API (provision/fleet-client.ts).
 *
 *   handset fleet [--cloud URL] [--json] [list [--account A]]   table of devices (default)
 *   handset fleet show hs-ID                                     one device
 *   handset fleet lock hs-ID [--reason R]                        lock payments
 *   handset fleet unlock hs-ID                                   unlock (failures reset)
 *   handset fleet check                                          invariant report; exit 1 if broken
 *
 * --cloud defaults to HANDSET_CLOUD_URL, else http://127.0.0.1:8080; the bearer token is
 * HANDSET_API_TOKEN. --json: one JSON object per line (a device per line for list).
 * HTTP failures are typed (CLOUD_UNREACHABLE, CLOUD_UNAUTHORISED, CLOUD_NOT_FOUND, ...),
 * one line, exit 1.
 */
import { HandsetError } from '@handset/device-drivers/core';
import type { Command } from 'commander';
import { FleetClient, type FleetDevice, type FleetInvariantReport } from '../../provision/fleet-client';
import type { CliIo } from '../io';

interface FleetGlobals {
  cloud?: string;
  json?: boolean;
}

export class FleetCheckError extends HandsetError {
  constructor(count: number) {
    super('INVARIANTS_BROKEN', `${count} invariant violation${count === 1 ? '' : 's'} on the cloud`, { device: 'fleet' });
  }
}

const COLUMNS = ['DEVICE', 'ACCOUNT', 'STATUS', 'COUNTER', 'FAILURES', 'SLOTS', 'REGISTERED'] as const;

function row(d: FleetDevice): string[] {
  return [
    d.deviceId,
    d.account,
    d.status === 'locked' && d.lockReason ? `locked (${d.lockReason})` : d.status,
    String(d.lastCounter),
    String(d.failures),
    d.enrolments?.length ? d.enrolments.map((e) => e.slot).join(',') : '-',
    new Date(d.registeredAt).toISOString(),
  ];
}

/** A plain left-aligned table, two spaces between columns. */
export function deviceTable(devices: FleetDevice[]): string {
  const rows = [[...COLUMNS], ...devices.map(row)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')}\n`).join('');
}

function deviceDetail(d: FleetDevice): string {
  const lines = [
    `device      ${d.deviceId}`,
    `account     ${d.account}`,
    `status      ${d.status}${d.lockReason ? ` (${d.lockReason})` : ''}`,
    `counter     ${d.lastCounter}`,
    `failures    ${d.failures}`,
    `public key  ${d.publicKey}`,
    `pay code    index ${d.paycodeIndex}, step ${d.stepSeconds} s`,
    `registered  ${new Date(d.registeredAt).toISOString()} (request ${d.registrationId})`,
    `enrolment   ${d.enrolments?.length ? '' : '(none)'}`,
    ...(d.enrolments ?? []).map((e) => `  slot ${String(e.slot).padStart(3)}  sha256 ${e.templateSha256}`),
  ];
  return `${lines.join('\n')}\n`;
}

function reportText(r: FleetInvariantReport): string {
  const totals = Object.entries(r.totals ?? {})
    .map(([cur, t]) => `${cur} posted ${t.posted} pending ${t.pending}`)
    .join('; ');
  const head = `invariants ${r.ok ? 'hold' : 'BROKEN'}: ${r.accounts} accounts, ${r.booked} booked transfers${totals ? `; sums ${totals}` : ''}\n`;
  return head + r.violations.map((v) => `  violation: ${v}\n`).join('');
}

export function register(program: Command, io: CliIo): void {
  const fleet = program
    .command('fleet')
    .description("the operator's view of the fleet over the cloud's HTTP API (token: HANDSET_API_TOKEN)")
    .option('--cloud <url>', 'cloud HTTP API (default HANDSET_CLOUD_URL or http://127.0.0.1:8080)')
    .option('--json', 'one JSON object per line');

  const client = (cmd: Command): { c: FleetClient; json: boolean } => {
    const g = cmd.optsWithGlobals<FleetGlobals>();
    const url = g.cloud ?? process.env.HANDSET_CLOUD_URL ?? 'http://127.0.0.1:8080';
    return { c: new FleetClient({ baseUrl: url, token: process.env.HANDSET_API_TOKEN }), json: Boolean(g.json) };
  };

  fleet
    .command('list', { isDefault: true })
    .description('every device: id, account, status, last counter, failures, enrolled slots, registered at')
    .option('--account <account>', "only this account's devices")
    .option('--json', 'one JSON object per device per line')
    .action(async (o: { account?: string }, cmd: Command) => {
      const { c, json } = client(cmd);
      const devices = await c.listDevices(o.account);
      if (json) io.out(devices.map((d) => `${JSON.stringify(d)}\n`).join(''));
      else io.out(devices.length ? deviceTable(devices) : 'no devices\n');
    });

  fleet
    .command('show')
    .description('one device')
    .argument('<device-id>')
    .option('--json', 'one JSON object')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { c, json } = client(cmd);
      const d = await c.getDevice(id);
      io.out(json ? `${JSON.stringify(d)}\n` : deviceDetail(d));
    });

  fleet
    .command('lock')
    .description("lock a device's payments")
    .argument('<device-id>')
    .option('--reason <reason>', 'why (stored with the device; default operator)')
    .option('--json', 'one JSON object')
    .action(async (id: string, o: { reason?: string }, cmd: Command) => {
      const { c, json } = client(cmd);
      const d = await c.lock(id, o.reason);
      io.out(json ? `${JSON.stringify(d)}\n` : `${d.deviceId}: ${d.status}${d.lockReason ? ` (${d.lockReason})` : ''}\n`);
    });

  fleet
    .command('unlock')
    .description("unlock a device's payments (host unlock; failures reset to 0)")
    .argument('<device-id>')
    .option('--json', 'one JSON object')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { c, json } = client(cmd);
      const d = await c.unlock(id);
      io.out(json ? `${JSON.stringify(d)}\n` : `${d.deviceId}: ${d.status}, failures ${d.failures}\n`);
    });

  fleet
    .command('check')
    .description("the cloud's invariant report; exit 1 if any invariant is broken")
    .option('--json', 'one JSON object')
    .action(async (_o: unknown, cmd: Command) => {
      const { c, json } = client(cmd);
      const r = await c.invariants();
      io.out(json ? `${JSON.stringify(r)}\n` : reportText(r));
      if (!r.ok || r.violations.length) throw new FleetCheckError(r.violations.length);
    });
}
