/**
 * The handset service entry (`node /opt/handset/current/firmware/handsetd.js`, run by
 * deploy/handset.service): the A/B health check around the device runtime's start-up.
 * HANDSET_ROOT (default /opt/handset) is the slot root; the rest of the environment is
 * main.device.ts's. A start that throws exits non-zero and systemd restarts it; after
 * DEFAULT_MAX_BOOTS unconfirmed starts the previous slot is booted instead.
 */
import { startDeviceHandset } from './main.device';
import { runHealthChecked } from './ota/boot';

/* v8 ignore start -- process entry */
const root = process.env.HANDSET_ROOT ?? '/opt/handset';
try {
  const { value: handset, boot } = await runHealthChecked(root, () => startDeviceHandset(process.env));
  process.stderr.write(`handsetd: running slot ${boot.slot ?? '-'}${boot.rolledBack ? ' (rolled back)' : ''}\n`);
  const stop = async () => {
    await handset.stop();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (err) {
  process.stderr.write(`handsetd: start-up failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
/* v8 ignore stop */
