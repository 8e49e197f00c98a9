/**
 * Handset runtime configuration: who the handset is, where it keeps its files, how it
 * reaches the cloud, and the payment rules it applies before asking the cloud.
 * Validated at the boundary (`parseConfig`): a bad value is a `ConfigError` naming the
 * field, never a crash later.
 */
import { ValidationError } from '@handset/device-drivers/core';
import { DEVICE_ID_RE } from '@handset/host-sdk/protocol';
import { z } from 'zod';

export interface HandsetConfig {
  /** `hs-...`: the MQTT client id and the id in every message. */
  deviceId: string;
  /** Directory for keystore.json (0600), device.secret (0600) and outbox.sqlite. */
  dataDir: string;
  /** `mqtt://host:port`. */
  brokerUrl: string;
  /** Topic root prefix ('' in production; tests use a unique one). */
  topicRoot: string;
  /**
   * Above this amount (minor units) the payment needs the PIN step-up (DESIGN §4); must
   * match the cloud's `stepUpLimit` (default 5,000 = 50.00).
   */
  stepUpLimit: bigint;
  /** Fingerprint match attempts per payment before the PIN fallback (DESIGN §4: 3). */
  maxFingerAttempts: number;
  /** How long one attempt waits for a finger (ms). */
  fingerTimeoutMs: number;
  /** How long the chain waits for the cloud's answer before showing "pending" (ms). */
  resultTimeoutMs: number;
  /** Longest a pay code stays on the panel (DESIGN §4: at most 60 s). */
  paycodeShowMs: number;
  /** How long the camera looks for the merchant's QR (ms). */
  scanTimeoutMs: number;
  /** Unanswered outbox entries are published again this often (ms). */
  resendMs: number;
}

export const DEFAULT_CONFIG: Omit<HandsetConfig, 'deviceId' | 'dataDir' | 'brokerUrl'> = {
  topicRoot: '',
  stepUpLimit: 5_000n,
  maxFingerAttempts: 3,
  fingerTimeoutMs: 30_000,
  resultTimeoutMs: 15_000,
  paycodeShowMs: 60_000,
  scanTimeoutMs: 20_000,
  resendMs: 5_000,
};

export class ConfigError extends ValidationError {
  constructor(message: string, field?: string) {
    super(message, { code: 'CONFIG_INVALID', device: 'config', details: field ? { field } : undefined });
  }
}

const ms = (max: number) => z.number().int().min(1).max(max);

const schema = z
  .object({
    deviceId: z.string().regex(DEVICE_ID_RE, 'device id must be hs- + 1-61 of [A-Za-z0-9_-]'),
    dataDir: z.string().min(1),
    brokerUrl: z.string().regex(/^mqtts?:\/\/[^\s/]+(:\d+)?\/?$/, 'broker URL must be mqtt://host:port'),
    topicRoot: z.string().regex(/^$|^([A-Za-z0-9_-]+\/)+$/, 'topic root must be empty or levels ending in /'),
    stepUpLimit: z.bigint().min(1n),
    maxFingerAttempts: z.number().int().min(1).max(10),
    fingerTimeoutMs: ms(600_000),
    resultTimeoutMs: ms(600_000),
    paycodeShowMs: ms(60_000),
    scanTimeoutMs: ms(600_000),
    resendMs: ms(600_000),
  })
  .strict();

/** Merges `input` over the defaults and validates every field. */
export function parseConfig(
  input: Partial<HandsetConfig> & Pick<HandsetConfig, 'deviceId' | 'dataDir' | 'brokerUrl'>,
): HandsetConfig {
  const r = schema.safeParse({ ...DEFAULT_CONFIG, ...input });
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path.join('.') || undefined;
    throw new ConfigError(`config ${field ?? ''}: ${issue?.message ?? 'invalid'}`.trim(), field);
  }
  return r.data;
}
