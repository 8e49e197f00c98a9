/**
 * HIL targets (STYLE habit 8): the payment scenarios are written once against `Target`
 * and run on the simulated handset (`sim`) or on a real handset rig (`rig`).
 *
 * A target is the whole system around one handset: the handset runtime (chain), the
 * holder's hands (fingers on the sensor), the merchant terminal (the real library) with
 * its QR in front of the camera, and the cloud (for the invariants).
 *
 * - `createSimTarget()`: `startSimHandset` (sim platform: SimR307, simulated e-ink panel,
 *   SimCamera + LED) + the REAL cloud (`startCloud`, SQLite in memory, embedded aedes
 *   broker) + the REAL merchant terminal (`MerchantTerminal` over `HttpCloudClient`).
 * - rig: selected by `HANDSET_RIG` / `HIL_PORT`; see `rigRequirement()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryR307Store } from '@handset/device-drivers/r307';
import {
  defaultDecoder,
  fileStores,
  type HandsetChain,
  type Money,
  type OutboxStore,
  type SimHandset,
  type SimHandsetStores,
  startSimHandset,
} from '@handset/firmware';
import { type InvariantReport, ledgerIds, type RunningCloud, startCloud } from '@handset/host-sdk/cloud';
import { HttpCloudClient, type MerchantProfile, MerchantTerminal, protocolMpmEncoder } from '@handset/host-sdk/merchant';

export const DEMO_CURRENCY = 'EUR';
export const DEMO_ACCOUNTS = ['alice', 'bob'] as const;
export const DEMO_DEPOSIT = 100_000n;

/** The holder's hands: which finger touches the sensor when the handset asks for one. */
export interface Holder {
  /** Every prompt gets this finger (a name = a simulated finger; same name = same finger). */
  use(finger: string): void;
  /** Prompts get these fingers in order (then the last one again). */
  script(fingers: string[]): void;
  /** Fingers that touched the sensor, in order. */
  readonly presses: string[];
  /**
   * What the holder types at the next PIN prompts (a PIN + Enter, or `'cancel'`), in
   * order; a prompt with nothing scripted is canceled (nobody waits for a timeout).
   */
  typePins(entries: string[]): void;
  /** PIN prompts answered so far (`pin` or `cancel`; the digits are never recorded). */
  readonly pinPrompts: Array<'pin' | 'cancel'>;
}

export interface Target {
  readonly kind: 'sim' | 'rig';
  readonly name: string;
  readonly handset: SimHandset;
  readonly chain: HandsetChain;
  readonly holder: Holder;
  readonly merchant: MerchantTerminal;
  readonly cloud: RunningCloud;
  /** The account the handset is registered for. */
  readonly account: string;
  /** Puts the merchant terminal's QR (what its page shows) in front of the camera. */
  presentMerchantQr(payload: string): Promise<void>;
  /** The merchant's scanner reads the handset's panel; resolves with the QR text (or rejects after `timeoutMs`). */
  readHandsetQr(timeoutMs?: number): Promise<string>;
  /** Broker-level fault: every MQTT message (both directions) is delivered twice while on. */
  duplicateDelivery(on: boolean): void;
  /** Arms a crash of the handset right after its next outbox write (before it is published). */
  crashAfterNextOutboxWrite(): Promise<void>;
  /** Starts the handset again from its stores (keystore file, outbox file, sensor flash). */
  restartHandset(): Promise<SimHandset>;
  /** Posted balance of a ledger account id (`u:alice`, `m:m-demo-shop`). */
  balance(accountId: string): Promise<bigint>;
  /** Sum of every consumer and merchant balance (constant while no deposit is made). */
  moneyInAccounts(): Promise<bigint>;
  /** The cloud's invariant checker (money conserved per currency, nothing booked twice, registry = ledger). */
  checkInvariants(): Promise<InvariantReport>;
  close(): Promise<void>;
}

/** What the rig needs; the test reports this as a pending test when the rig is absent. */
export function rigRequirement(): string {
  return (
    'rig target pending: set HANDSET_RIG=1 (or HIL_PORT=/dev/serial0) on a Raspberry Pi 4/5 wired per ' +
    'schematics/pinout.md with an R307 on UART0 (TOUCH on GPIO23), a Waveshare 2.13" SSD1680 HAT on SPI0, ' +
    'a CSI camera, the LED fill-light on GPIO12 (PWM0) and a USB PIN pad, plus a merchant screen the camera can see'
  );
}

export function rigSelected(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.HANDSET_RIG || env.HIL_PORT);
}

export interface SimTargetOptions {
  merchant?: Partial<MerchantProfile>;
  deviceId?: string;
  account?: string;
  /** Pay-code session length on the handset (default 60 s; tests use a few seconds). */
  paycodeShowMs?: number;
  /** Keep the handset's files here (default a temp dir removed on close). */
  dataDir?: string;
  /** Register the handset during set-up (default false: the registration scenario does it). */
  register?: boolean;
  /** Log lines (the demo prints them). */
  log?: (line: string) => void;
}

/** Wraps an outbox so a test can make the handset die right after a durable write. */
class CrashingOutbox implements OutboxStore {
  armed: (() => void) | undefined;
  constructor(readonly inner: OutboxStore) {}
  async add(e: Parameters<OutboxStore['add']>[0]) {
    const r = await this.inner.add(e);
    const crash = this.armed;
    this.armed = undefined;
    crash?.();
    return r;
  }
  get = (id: string) => this.inner.get(id);
  markSent = (id: string, at: number) => this.inner.markSent(id, at);
  complete = (id: string, result: string, at: number) => this.inner.complete(id, result, at);
  unanswered = () => this.inner.unanswered();
  all = () => this.inner.all();
  close = () => this.inner.close();
}

export async function createSimTarget(o: SimTargetOptions = {}): Promise<Target> {
  const log = o.log ?? (() => undefined);
  const merchantProfile: MerchantProfile = {
    id: 'm-demo-shop',
    name: 'Demo Shop',
    city: 'Berlin',
    country: 'DE',
    mcc: '5999',
    ...o.merchant,
  };
  const account = o.account ?? 'alice';
  const deviceId = o.deviceId ?? `hs-${account}-1`;
  const cloud = await startCloud({ store: 'sqlite::memory:', broker: 'embedded', brokerPort: 0, httpPort: 0 });
  const cleanup: Array<() => Promise<void>> = [async () => cloud.stop()];
  const closeAll = async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    await cloud.center.createMerchant({ merchantId: merchantProfile.id, name: merchantProfile.name, currency: DEMO_CURRENCY });
    for (const a of DEMO_ACCOUNTS) {
      await cloud.center.createUser({ account: a, currency: DEMO_CURRENCY });
      await cloud.center.deposit(a, DEMO_DEPOSIT, 'hil-setup');
    }
    log(
      `cloud up: ${cloud.httpUrl}, broker ${cloud.brokerUrl}; ${DEMO_ACCOUNTS.join(', ')} funded with ${DEMO_DEPOSIT} minor units`,
    );

    const terminal = new MerchantTerminal({
      merchant: merchantProfile,
      cloud: new HttpCloudClient({ httpUrl: cloud.httpUrl, brokerUrl: cloud.brokerUrl }),
      mpm: protocolMpmEncoder,
    });
    await terminal.start();
    cleanup.push(() => terminal.stop());

    // broker-level duplication: every client publish is delivered a second time
    let duplicating = false;
    const aedes = cloud.broker!.aedes;
    aedes.on('publish', (packet, client) => {
      if (!duplicating || !client || packet.topic.startsWith('$SYS')) return;
      aedes.publish(
        { cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: 1, retain: false, dup: false } as never,
        () => undefined,
      );
    });

    const dir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'handset-hil-'));
    if (!o.dataDir) cleanup.unshift(async () => rmSync(dir, { recursive: true, force: true }));
    const r307Flash = new MemoryR307Store();
    const decoder = await defaultDecoder(200);
    let outbox: CrashingOutbox | undefined;
    const makeStores = (): SimHandsetStores => {
      const s = fileStores(dir, r307Flash);
      outbox = new CrashingOutbox(s.outbox);
      return { ...s, outbox };
    };
    const fingers = { queue: [] as string[], last: 'alice', presses: [] as string[] };
    const pins = { queue: [] as string[], prompts: [] as Array<'pin' | 'cancel'> };
    const holder: Holder = {
      use(f) {
        fingers.queue = [];
        fingers.last = f;
      },
      script(list) {
        fingers.queue = [...list];
        fingers.last = list.at(-1) ?? fingers.last;
      },
      presses: fingers.presses,
      typePins(entries) {
        pins.queue = [...entries];
      },
      pinPrompts: pins.prompts,
    };
    let handset: SimHandset;
    const boot = async () => {
      const h = await startSimHandset({
        config: { deviceId, brokerUrl: cloud.brokerUrl, paycodeShowMs: o.paycodeShowMs ?? 60_000, resultTimeoutMs: 10_000 },
        stores: makeStores(),
        platform: { decoder },
      });
      // the holder reacts to the handset's prompts (synchronously, before the sensor waits)
      h.chain.on('finger', (e) => {
        if (e.kind === 'prompt') {
          const f = fingers.queue.shift() ?? fingers.last;
          fingers.presses.push(f);
          h.platform.sim.r307.placeFinger(f);
        } else if (e.kind === 'lift') h.platform.sim.r307.liftFinger();
      });
      // ... and to the PIN prompts (a fresh `pin` screen: the pad is being read)
      h.chain.on('screen', (s) => {
        if (s.kind !== 'pin' || s.entered !== 0) return;
        const entry = pins.queue.shift() ?? 'cancel';
        const keypad = h.platform.sim.keypad;
        pins.prompts.push(entry === 'cancel' ? 'cancel' : 'pin');
        void (entry === 'cancel' ? keypad.cancel() : keypad.type(entry).then(() => keypad.enter())).catch(() => undefined);
      });
      h.chain.on('state', (s) => log(`  handset: ${s.from} -> ${s.to}`));
      handset = h;
      return h;
    };
    await boot();
    cleanup.push(async () => handset.stop());
    log(`handset ${deviceId} up (sim platform, outbox ${join(dir, 'outbox.sqlite')})`);

    if (o.register) {
      holder.use(account);
      await handset!.chain.register({ account });
      log(`handset registered for ${account} (pay-code index ${handset!.keystore.paycode?.index})`);
    }

    const balance = async (id: string) => {
      const [a] = await cloud.center.balances([id]);
      return a ? a.creditsPosted - a.debitsPosted : 0n;
    };
    const target: Target = {
      kind: 'sim',
      name: 'sim',
      get handset() {
        return handset;
      },
      get chain() {
        return handset.chain;
      },
      holder,
      merchant: terminal,
      cloud,
      account,
      async presentMerchantQr(payload) {
        handset.platform.sim.camera.setCode({ kind: 'qr', payload }, { scale: 3, rotationDeg: 8 });
      },
      async readHandsetQr(timeoutMs = 5_000) {
        const end = Date.now() + timeoutMs;
        for (;;) {
          const g = handset.platform.sim.panel.gray();
          const out = decoder.decode({ width: g.width, height: g.height, data: g.gray });
          if (out.hit) return out.hit.text;
          if (Date.now() > end) throw new Error(`no QR code on the handset's panel within ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      duplicateDelivery(on) {
        duplicating = on;
      },
      async crashAfterNextOutboxWrite() {
        const h = handset;
        outbox!.armed = () => void h.crash();
      },
      async restartHandset() {
        await handset.stop().catch(() => undefined);
        await handset.stores.outbox.close().catch(() => undefined);
        return boot();
      },
      balance,
      async moneyInAccounts() {
        let sum = 0n;
        for (const a of DEMO_ACCOUNTS) sum += await balance(ledgerIds.user(a));
        sum += await balance(ledgerIds.merchant(merchantProfile.id));
        return sum;
      },
      checkInvariants: () => cloud.center.checkInvariants(),
      close: closeAll,
    };
    return target;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** Money helper for scenarios. */
export const eur = (minor: bigint): Money => ({ minor, currency: DEMO_CURRENCY });
