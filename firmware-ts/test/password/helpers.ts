import { ManualClock } from '@handset/device-drivers/core';
import { PinPad, type ReadPinOptions, SimKeypad } from '@handset/device-drivers/pinpad';
import {
  type LockStore,
  MemoryLockStore,
  PasswordModule,
  type PasswordModuleOptions,
  type PinHashRecord,
  type PinVerifier,
  ScryptPinVerifier,
} from '../../src/modules/password';
import type { Screen } from '../../src/ui/screens';

/** Cheap scrypt for tests (the defaults are measured in their own test). */
export const FAST = { N: 1024, r: 8, p: 1, keyLen: 32 };

/** A PinPad that records every error its readPin rejects with (for the leak scan). */
export class RecordingPinPad extends PinPad {
  readonly errors: unknown[] = [];
  override readPin(options?: ReadPinOptions) {
    return super.readPin(options).catch((err: unknown) => {
      this.errors.push(err);
      throw err;
    });
  }
}

/** A verifier wrapper that keeps the buffers it was handed (to check they get wiped). */
export class SpyVerifier implements PinVerifier {
  readonly seen: Uint8Array[] = [];
  readonly seenDuring: string[] = [];
  onVerify: (() => Promise<void>) | undefined;
  constructor(readonly inner: PinVerifier) {}
  hash(pin: Uint8Array): Promise<PinHashRecord> {
    return this.inner.hash(pin);
  }
  async verify(pin: Uint8Array, record: PinHashRecord): Promise<boolean> {
    this.seen.push(pin);
    this.seenDuring.push(new TextDecoder().decode(pin));
    await this.onVerify?.();
    return this.inner.verify(pin, record);
  }
}

export async function flush(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

export interface Rig {
  clock: ManualClock;
  keypad: SimKeypad;
  pinpad: RecordingPinPad;
  module: PasswordModule;
  verifier: SpyVerifier;
  store: LockStore;
  screens: Screen[];
  logs: Array<{ level: string; event: string; fields?: Record<string, unknown> }>;
  /** Resolves once the n-th empty PIN screen is up (the entry is then reading keys). */
  prompt(n: number): Promise<void>;
  /** Types `pin` + Enter at the n-th prompt. */
  enterAt(n: number, pin: string): Promise<void>;
  close(): Promise<void>;
}

export async function rig(
  options: { store?: LockStore; pin?: string | null; open?: boolean } & Partial<PasswordModuleOptions> = {},
): Promise<Rig> {
  const clock = new ManualClock({ autoAdvance: false });
  const keypad = new SimKeypad({ clock });
  const pinpad = new RecordingPinPad({ device: keypad.device, clock });
  const verifier = new SpyVerifier(new ScryptPinVerifier({ params: FAST }));
  const store = options.store ?? new MemoryLockStore();
  const screens: Screen[] = [];
  const logs: Rig['logs'] = [];
  const log = {
    info: (event: string, fields?: Record<string, unknown>) => logs.push({ level: 'info', event, fields }),
    warn: (event: string, fields?: Record<string, unknown>) => logs.push({ level: 'warn', event, fields }),
  };
  const { pin: _p, store: _s, open: _o, ...rest } = options;
  const module = new PasswordModule({ pinpad, verifier, lockStore: store, show: (s) => screens.push(s), clock, log, ...rest });
  if (options.pin !== null) await module.setPin(options.pin ?? '582914');
  if (options.open !== false) await pinpad.open();
  const prompts = () => screens.filter((s) => s.kind === 'pin' && s.entered === 0).length;
  const prompt = async (n: number) => {
    const deadline = Date.now() + 10_000;
    for (let i = 0; prompts() < n && Date.now() < deadline; i++)
      await new Promise((r) => (i < 200 ? setImmediate(r) : setTimeout(r, 2)));
    if (prompts() < n) throw new Error(`PIN prompt ${n} never appeared`);
  };
  return {
    clock,
    keypad,
    pinpad,
    module,
    verifier,
    store,
    screens,
    logs,
    prompt,
    async enterAt(n, pin) {
      await prompt(n);
      await keypad.type(pin);
      await keypad.enter();
    },
    close: () => pinpad.close(),
  };
}
