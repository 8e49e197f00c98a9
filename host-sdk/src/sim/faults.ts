/**
 * The fault presets of the fleet simulation. Each seed runs one preset (chosen by the
 * seed, or forced with `--faults`); a preset is a handful of knobs, all off in `none`.
 */
import { CLEAN_LINK, type LinkProfile } from './network';

export interface FaultPreset {
  name: FaultPresetName;
  /** One line for `--help` and the docs. */
  about: string;
  /** Handset/merchant -> cloud and cloud -> handset/merchant. */
  link: LinkProfile;
  /** Chance per cloud batch that the worker crashes (at most `maxCrashes` per seed). */
  crash: number;
  maxCrashes: number;
  /** Reboots per handset over the run (its outbox survives). */
  rebootsPerHandset: number;
  /** Handset clocks are off by up to this (ms), behind or ahead, inside the cloud's window. */
  skewMs: readonly [number, number];
  /** Rogue messages per handset over the run. */
  roguePerHandset: number;
  /** Share of handsets funded for only about half of what they try to spend. */
  underfunded: number;
  /** Share of orders that a second handset tries to pay as well. */
  doubleOrder: number;
}

export const FAULT_PRESET_NAMES = [
  'none',
  'duplicate',
  'loss',
  'reorder',
  'crash',
  'reboot',
  'skew',
  'rogue',
  'insufficient-funds',
  'double-order',
  'chaos',
] as const;
export type FaultPresetName = (typeof FAULT_PRESET_NAMES)[number];

const base: Omit<FaultPreset, 'name' | 'about'> = {
  link: CLEAN_LINK,
  crash: 0,
  maxCrashes: 0,
  rebootsPerHandset: 0,
  skewMs: [0, 0],
  roguePerHandset: 0,
  underfunded: 0,
  doubleOrder: 0,
};

export const FAULT_PRESETS: Record<FaultPresetName, FaultPreset> = {
  none: { ...base, name: 'none', about: 'a clean network, every party honest' },
  duplicate: {
    ...base,
    name: 'duplicate',
    about: '30% of messages (both ways) delivered two or three times',
    link: { ...CLEAN_LINK, duplicate: 0.3 },
  },
  loss: {
    ...base,
    name: 'loss',
    about: '20% of messages (both ways) lost; outboxes resend until answered',
    link: { ...CLEAN_LINK, drop: 0.2 },
  },
  reorder: {
    ...base,
    name: 'reorder',
    about: '30% of messages held back 0.2-4 s so later ones overtake them',
    link: { ...CLEAN_LINK, reorder: 0.3 },
  },
  crash: {
    ...base,
    name: 'crash',
    about:
      'the cloud worker dies in 10% of batches (inside the batch transaction, or after its commit before any answer is sent) and a new one starts over the same files',
    crash: 0.1,
    maxCrashes: 8,
    link: { ...CLEAN_LINK, duplicate: 0.05 },
  },
  reboot: {
    ...base,
    name: 'reboot',
    about: 'each handset reboots about twice (down 0.5-20 s, answers meanwhile lost); its outbox survives',
    rebootsPerHandset: 2,
  },
  skew: {
    ...base,
    name: 'skew',
    about: 'handset clocks off by -90 s .. +25 s (inside the cloud window of -120 s / +30 s)',
    skewMs: [-90_000, 25_000],
  },
  rogue: {
    ...base,
    name: 'rogue',
    about:
      'a rogue handset sends bad signatures, messages in other devices’ names and replays of captured authorisations; a rogue merchant charges used pay codes again',
    roguePerHandset: 1,
  },
  'insufficient-funds': {
    ...base,
    name: 'insufficient-funds',
    about: 'half the handsets are funded for about half of what they try to spend',
    underfunded: 0.5,
  },
  'double-order': {
    ...base,
    name: 'double-order',
    about: 'a third of the orders are paid by two handsets at nearly the same time',
    doubleOrder: 0.33,
  },
  chaos: {
    name: 'chaos',
    about: 'all of the above at lower rates, at once',
    link: { delayMs: [2, 30], drop: 0.1, duplicate: 0.15, reorder: 0.15 },
    crash: 0.05,
    maxCrashes: 5,
    rebootsPerHandset: 1,
    skewMs: [-60_000, 20_000],
    roguePerHandset: 0.5,
    underfunded: 0.25,
    doubleOrder: 0.15,
  },
};

/** The preset a seed runs when none is forced: the seeds cycle through every preset. */
export function presetForSeed(seed: number): FaultPreset {
  const name = FAULT_PRESET_NAMES[seed % FAULT_PRESET_NAMES.length]!;
  return FAULT_PRESETS[name];
}
