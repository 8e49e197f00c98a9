/**
 * Boot-time slot health (the A/B half of OTA, DESIGN §2 `src/ota`).
 *
 * Each start of the runtime first calls `beginBoot(root)`: an unconfirmed slot has its
 * boot count raised (persisted before anything else runs, so a crash or hang still
 * counts). When the count exceeds `maxBoots` and a previous slot exists, `current` is
 * switched back to it (atomic symlink rename) and the state records `rolledBackFrom`.
 * When the runtime's own start-up succeeds (platform open, keystore, uplink, idle
 * screen: `startDeviceHandset`), `confirmBoot(root)` marks the slot good.
 *
 * systemd (deploy/handset.service, Restart=always) is what turns a failed start into
 * the next boot attempt on the device; `runHealthChecked` is that sequence in-process.
 */
import {
  activeSlot,
  reconcileState,
  type SlotName,
  type SlotState,
  slotManifest,
  switchCurrent,
  writeSlotState,
} from '@handset/host-sdk/provision';

export const DEFAULT_MAX_BOOTS = 3;

export interface BootDecision {
  /** Slot this start runs from. */
  slot: SlotName | undefined;
  state: SlotState | undefined;
  /** True if this call switched back to the previous slot. */
  rolledBack: boolean;
}

export async function beginBoot(root: string, options: { maxBoots?: number; now?: number } = {}): Promise<BootDecision> {
  const maxBoots = options.maxBoots ?? DEFAULT_MAX_BOOTS;
  const now = options.now ?? Date.now();
  const state = await reconcileState(root, now);
  if (!state) return { slot: await activeSlot(root), state, rolledBack: false };
  if (state.confirmed) return { slot: state.slot, state, rolledBack: false };
  const counted: SlotState = { ...state, bootCount: state.bootCount + 1, updatedAt: now };
  if (counted.bootCount <= maxBoots || !state.previous) {
    await writeSlotState(root, counted);
    return { slot: state.slot, state: counted, rolledBack: false };
  }
  const back = state.previous.slot;
  const version = (await slotManifest(root, back))?.version ?? state.previous.version;
  await switchCurrent(root, back);
  const rolled: SlotState = {
    v: 1,
    slot: back,
    version,
    bootCount: 1,
    confirmed: false,
    rolledBackFrom: { slot: state.slot, version: state.version },
    updatedAt: now,
  };
  await writeSlotState(root, rolled);
  return { slot: back, state: rolled, rolledBack: true };
}

/** Marks the running slot healthy (boot count 0, confirmed). */
export async function confirmBoot(root: string, now = Date.now()): Promise<SlotState | undefined> {
  const state = await reconcileState(root, now);
  if (!state || state.confirmed) return state;
  const ok: SlotState = { ...state, bootCount: 0, confirmed: true, updatedAt: now };
  await writeSlotState(root, ok);
  return ok;
}

/**
 * One start of the runtime under the health check: beginBoot, `start()`, confirmBoot.
 * A start that throws is not confirmed (the error is rethrown for the supervisor, which
 * restarts the service; after `maxBoots` such starts the next beginBoot rolls back).
 */
export async function runHealthChecked<T>(
  root: string,
  start: (boot: BootDecision) => Promise<T>,
  options: { maxBoots?: number } = {},
): Promise<{ value: T; boot: BootDecision }> {
  const boot = await beginBoot(root, options);
  const value = await start(boot);
  await confirmBoot(root);
  return { value, boot };
}
