import { z } from 'zod';
import { fromUtf8, utf8 } from './encoding';
import { MessageError } from './errors';
import { PROTOCOL_VERSION, parseJson, schemaError, sha256HexSchema, signatureSchema, timestampSchema } from './messages';

/**
 * Firmware bundles and over-the-air updates: the manifest a release key signs, and the
 * OTA messages on `handset/v1/{deviceId}/ota/{name}` (cloud/host -> handset) and
 * `handset/v1/{deviceId}/ota-report/{name}` (handset -> cloud/host). QoS 1 throughout.
 *
 * | topic                 | message      | meaning                                               |
 * | --------------------- | ------------ | ----------------------------------------------------- |
 * | ota/offer             | ota.offer    | an update: id, size, chunk size, SHA-256 of the bundle |
 * | ota/chunk             | ota.chunk    | chunk `index` of the bundle bytes (base64url)          |
 * | ota/done              | ota.done     | "I sent every chunk": answer with ota.status           |
 * | ota-report/status     | ota.status   | receiving (+ missing chunks) / installed / failed ...  |
 *
 * Resumption: the handset keeps a staging file and a received-chunk bitmap per updateId;
 * an `ota.status` in state `receiving` lists the missing chunk indices (up to 256), and
 * the sender sends those again. Duplicate chunks are harmless (each index is written at
 * its own offset). The handset trusts nothing here: after the last chunk it checks the
 * whole bundle (release-key signature, every hash) before it touches a slot.
 *
 * OTA messages may be larger than MAX_MESSAGE_BYTES (a chunk carries up to 48 KiB);
 * `decodeOtaMessage` applies OTA_MAX_MESSAGE_BYTES instead.
 */

/** Domain separation of the manifest signature (see manifestSigningBytes). */
export const MANIFEST_DOMAIN = 'handset/v1/firmware-manifest';
export const OTA_MAX_MESSAGE_BYTES = 96 * 1024;
export const OTA_MAX_CHUNK_BYTES = 48 * 1024;
/** Largest bundle a handset accepts (its staging file is this big at most). */
export const OTA_MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Firmware version: semver-ish, 1-64 of [0-9A-Za-z.+-], starting with a digit or letter. */
export const FIRMWARE_VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
/** A bundle path: relative, '/'-separated, no '.', '..' or empty levels, at most 99 bytes (ustar name field). */
export const BUNDLE_PATH_RE = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._@+-]+(\/[A-Za-z0-9._@+-]+)*$/;

export const firmwareVersionSchema = z.string().regex(FIRMWARE_VERSION_RE, 'version must be 1-64 of [0-9A-Za-z.+-]');
export const updateIdSchema = z.string().regex(UUID_RE, 'update id must be a lowercase UUID');

export const manifestFileSchema = z.strictObject({
  path: z.string().max(99).regex(BUNDLE_PATH_RE, 'path must be relative, without . or .. levels'),
  size: z.number().int().min(0).max(OTA_MAX_BUNDLE_BYTES),
  sha256: sha256HexSchema,
});

/**
 * The signed description of a bundle: every payload file with its size and SHA-256, and
 * `bundleSha256` = SHA-256 of the payload region of the tar (every byte after the
 * manifest and signature entries, end-of-archive blocks included).
 */
export const bundleManifestSchema = z
  .strictObject({
    v: z.literal(PROTOCOL_VERSION),
    type: z.literal('firmware.manifest'),
    version: firmwareVersionSchema,
    createdAt: timestampSchema,
    files: z.array(manifestFileSchema).min(1).max(10_000),
    bundleSha256: sha256HexSchema,
  })
  .superRefine((m, ctx) => {
    for (let i = 1; i < m.files.length; i++)
      if (m.files[i - 1]!.path >= m.files[i]!.path)
        ctx.addIssue({ code: 'custom', message: 'files must be sorted by path, without duplicates', path: ['files', i, 'path'] });
  });
export type BundleManifest = z.output<typeof bundleManifestSchema>;

/** `manifest.sig`: which release key signed, and its Ed25519 signature over manifestSigningBytes. */
export const manifestSignatureSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('firmware.signature'),
  alg: z.literal('ed25519'),
  /** First 16 hex digits of SHA-256 of the raw 32-byte public key. */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  signature: signatureSchema,
});
export type ManifestSignature = z.output<typeof manifestSignatureSchema>;

/** `u16 len(domain) | domain | manifest.json bytes`: what the release key signs. */
export function manifestSigningBytes(manifestJson: Uint8Array): Uint8Array {
  const d = utf8(MANIFEST_DOMAIN);
  const out = new Uint8Array(2 + d.length + manifestJson.length);
  out[0] = d.length >> 8;
  out[1] = d.length & 0xff;
  out.set(d, 2);
  out.set(manifestJson, 2 + d.length);
  return out;
}

export const otaOfferSchema = z
  .strictObject({
    v: z.literal(PROTOCOL_VERSION),
    type: z.literal('ota.offer'),
    updateId: updateIdSchema,
    version: firmwareVersionSchema,
    size: z.number().int().min(1).max(OTA_MAX_BUNDLE_BYTES),
    chunkSize: z.number().int().min(512).max(OTA_MAX_CHUNK_BYTES),
    chunks: z.number().int().min(1),
    /** SHA-256 of the whole bundle file (transport check; the signature is the trust check). */
    sha256: sha256HexSchema,
    ts: timestampSchema,
  })
  .superRefine((m, ctx) => {
    if (m.chunks !== Math.ceil(m.size / m.chunkSize))
      ctx.addIssue({ code: 'custom', message: 'chunks must be ceil(size / chunkSize)', path: ['chunks'] });
  });

export const otaChunkSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('ota.chunk'),
  updateId: updateIdSchema,
  index: z.number().int().min(0),
  data: z.string().regex(/^[A-Za-z0-9_-]+$/, 'data must be base64url'),
});

export const otaDoneSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('ota.done'),
  updateId: updateIdSchema,
});

export const otaStateSchema = z.enum(['receiving', 'verifying', 'installed', 'failed']);

export const otaStatusSchema = z
  .strictObject({
    v: z.literal(PROTOCOL_VERSION),
    type: z.literal('ota.status'),
    updateId: updateIdSchema,
    state: otaStateSchema,
    received: z.number().int().min(0),
    chunks: z.number().int().min(0),
    /** Missing chunk indices, ascending, at most 256 (state receiving). */
    missing: z.array(z.number().int().min(0)).max(256).optional(),
    /** Error code when failed (BAD_SIGNATURE, HASH_MISMATCH, TRUNCATED, ...). */
    reason: z
      .string()
      .regex(/^[A-Z0-9_]{1,40}$/)
      .optional(),
    version: firmwareVersionSchema.optional(),
    /** Slot written (state installed). */
    slot: z.enum(['a', 'b']).optional(),
    ts: timestampSchema,
  })
  .superRefine((m, ctx) => {
    if (m.state === 'failed' && !m.reason) ctx.addIssue({ code: 'custom', message: 'failed needs a reason', path: ['reason'] });
  });

export const otaMessageSchemas = {
  'ota.offer': otaOfferSchema,
  'ota.chunk': otaChunkSchema,
  'ota.done': otaDoneSchema,
  'ota.status': otaStatusSchema,
} as const;
export type OtaMessageKind = keyof typeof otaMessageSchemas;
export type OtaOffer = z.output<typeof otaOfferSchema>;
export type OtaChunk = z.output<typeof otaChunkSchema>;
export type OtaDone = z.output<typeof otaDoneSchema>;
export type OtaStatus = z.output<typeof otaStatusSchema>;
export interface OtaMessageMap {
  'ota.offer': OtaOffer;
  'ota.chunk': OtaChunk;
  'ota.done': OtaDone;
  'ota.status': OtaStatus;
}
export type AnyOtaMessage = OtaMessageMap[OtaMessageKind];

function validateOta<K extends OtaMessageKind>(kind: K, value: unknown): OtaMessageMap[K] {
  const r = otaMessageSchemas[kind].safeParse(value);
  if (r.success) return r.data as OtaMessageMap[K];
  throw schemaError(kind, r.error);
}

const parseOtaJson = (bytes: Uint8Array | string) => parseJson(bytes, OTA_MAX_MESSAGE_BYTES);

/** Decodes one OTA message of an expected kind (size, UTF-8, JSON, strict schema) or throws MessageError. */
export function decodeOtaMessage<K extends OtaMessageKind>(kind: K, bytes: Uint8Array | string): OtaMessageMap[K] {
  return validateOta(kind, parseOtaJson(bytes));
}

/** Decodes an OTA message whose kind is its own `type`. */
export function decodeAnyOtaMessage(bytes: Uint8Array | string): AnyOtaMessage {
  const value = parseOtaJson(bytes);
  const type = value !== null && typeof value === 'object' ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !(type in otaMessageSchemas))
    throw new MessageError('MESSAGE_KIND', `unknown OTA message type ${JSON.stringify(type)}`, 'type');
  return validateOta(type as OtaMessageKind, value);
}

/** UTF-8 JSON of an OTA message, validated first. */
export function encodeOtaMessage<K extends OtaMessageKind>(kind: K, message: OtaMessageMap[K]): Uint8Array {
  const bytes = utf8(JSON.stringify(message));
  decodeOtaMessage(kind, bytes);
  return bytes;
}
