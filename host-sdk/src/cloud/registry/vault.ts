import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { HandsetError, ValidationError } from '@handset/device-drivers/core';

/**
 * Pay-code seeds at rest: AES-256-GCM with a 32-byte key from config or the
 * `HANDSET_SEED_KEY` environment variable (64 hex digits or base64). The device id is
 * bound as additional data, so a sealed seed copied onto another device's row fails to
 * open. Format: `v1.<iv b64url>.<tag b64url>.<ciphertext b64url>`.
 */
export class SeedVault {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32)
      throw new ValidationError('seed key must be 32 bytes (AES-256)', { device: 'cloud', code: 'BAD_SEED_KEY' });
    this.key = Buffer.from(key);
  }

  /** Parses a key given as 64 hex digits or base64/base64url of 32 bytes. */
  static fromText(text: string): SeedVault {
    return new SeedVault(SeedVault.keyFromText(text));
  }

  /** The key bytes of a key given as 64 hex digits or base64/base64url (length checked by the constructor). */
  static keyFromText(text: string): Uint8Array {
    const t = text.trim();
    return new Uint8Array(/^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64'));
  }

  /** From `HANDSET_SEED_KEY`, or a fresh random key (then seeds die with the process: dev only). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): { vault: SeedVault; ephemeral: boolean } {
    const { key, ephemeral } = SeedVault.keyFromEnv(env);
    return { vault: new SeedVault(key), ephemeral };
  }

  /** The key bytes from `HANDSET_SEED_KEY`, or fresh random bytes (`ephemeral`). */
  static keyFromEnv(env: NodeJS.ProcessEnv = process.env): { key: Uint8Array; ephemeral: boolean } {
    const k = env.HANDSET_SEED_KEY;
    return k ? { key: SeedVault.keyFromText(k), ephemeral: false } : { key: new Uint8Array(randomBytes(32)), ephemeral: true };
  }

  seal(seed: Uint8Array, deviceId: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(deviceId, 'utf8'));
    const ct = Buffer.concat([c.update(seed), c.final()]);
    return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, deviceId: string): Uint8Array {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || ct === undefined)
      throw new HandsetError('SEED_SEALED', 'sealed seed has a bad format', { device: 'cloud' });
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(deviceId, 'utf8'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return new Uint8Array(Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]));
    } catch (cause) {
      throw new HandsetError('SEED_SEALED', 'sealed seed does not open with this key', { device: 'cloud', cause });
    }
  }
}
