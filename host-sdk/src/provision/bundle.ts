/**
 * Firmware bundles: a deterministic, signed tar.
 *
 *     manifest.json    {v, type:"firmware.manifest", version, createdAt, files:[{path,size,sha256}], bundleSha256}
 *     manifest.sig     {v, type:"firmware.signature", alg:"ed25519", keyId, signature}
 *     <payload files>  sorted by path (firmware/..., deploy/...), then two zero blocks
 *
 * `bundleSha256` is the SHA-256 of the payload region (every byte after the manifest.sig
 * entry, end-of-archive blocks included); the release key's Ed25519 signature covers
 * `manifestSigningBytes(manifest.json bytes)` (protocol/ota.ts). Same input -> same bytes:
 * entries are sorted, every mtime is `createdAt` (whole seconds), owners and modes fixed,
 * and Ed25519 signatures are deterministic.
 *
 * Reading is streaming over a `ByteSource` (bounded memory, also used by the handset's
 * OTA agent on its staging file) and strict: canonical tar headers, zero padding, no
 * byte after the end blocks, signature checked before the manifest is believed, then
 * every file's size and hash and the payload hash. Any single changed byte is refused.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import {
  BUNDLE_PATH_RE,
  type BundleManifest,
  bundleManifestSchema,
  fromBase64Url,
  type ManifestSignature,
  manifestSignatureSchema,
  manifestSigningBytes,
  nodeCrypto,
  PROTOCOL_VERSION,
  toBase64Url,
  toHex,
  utf8,
} from '@handset/host-sdk/protocol';
import { BundleError } from './errors';
import { BLOCK, paddedSize, parseTarHeader, tarHeader } from './tar';

export const MANIFEST_NAME = 'manifest.json';
export const SIGNATURE_NAME = 'manifest.sig';
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const PIECE = 64 * 1024;

/** Random-access bytes: a buffer, a file, a staging file being filled. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (callers never read past `size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (o, n) => bytes.subarray(o, o + n) };
}

export async function fileSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  return {
    size,
    async read(offset, length) {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, got);
    },
    close: () => fh.close(),
  };
}

/** First 16 hex digits of SHA-256 of the raw public key. */
export function keyIdOf(publicKey: Uint8Array): string {
  return toHex(nodeCrypto.sha256(publicKey)).slice(0, 16);
}

export interface BundleFile {
  path: string;
  data: Uint8Array;
}

export interface BuildBundleInput {
  files: readonly BundleFile[];
  version: string;
  /** ms since the epoch; also every tar mtime (floored to seconds). */
  createdAt: number;
  /** 32-byte Ed25519 release key. */
  privateKey: Uint8Array;
}

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function entry(name: string, data: Uint8Array, mtime: number): Uint8Array[] {
  const pad = new Uint8Array(paddedSize(data.length) - data.length);
  return [tarHeader(name, data.length, mtime), data, pad];
}

/** Builds a signed bundle. Same input -> same bytes. */
export function buildBundle(input: BuildBundleInput): { bytes: Uint8Array; manifest: BundleManifest } {
  const files = [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const [i, f] of files.entries()) {
    if (!BUNDLE_PATH_RE.test(f.path) || utf8(f.path).length > 99 || f.path === MANIFEST_NAME || f.path === SIGNATURE_NAME)
      throw new BundleError('BAD_INPUT', `bundle path ${JSON.stringify(f.path)} is not allowed`, { details: { path: f.path } });
    if (i > 0 && files[i - 1]!.path === f.path)
      throw new BundleError('BAD_INPUT', `bundle path ${f.path} occurs twice`, { details: { path: f.path } });
  }
  const mtime = Math.floor(input.createdAt / 1000);
  const payload = concat([...files.flatMap((f) => entry(f.path, f.data, mtime)), new Uint8Array(2 * BLOCK)]);
  const manifest = {
    v: PROTOCOL_VERSION,
    type: 'firmware.manifest' as const,
    version: input.version,
    createdAt: input.createdAt,
    files: files.map((f) => ({ path: f.path, size: f.data.length, sha256: sha256Hex(f.data) })),
    bundleSha256: sha256Hex(payload),
  };
  const checked = bundleManifestSchema.safeParse(manifest);
  if (!checked.success)
    throw new BundleError('BAD_INPUT', `manifest: ${checked.error.issues[0]?.message ?? 'invalid'}`, {
      details: { path: checked.error.issues[0]?.path.join('.') },
    });
  const manifestBytes = utf8(`${JSON.stringify(manifest, null, 1)}\n`);
  const publicKey = nodeCrypto.ed25519PublicKey(input.privateKey);
  const sig: ManifestSignature = {
    v: PROTOCOL_VERSION,
    type: 'firmware.signature',
    alg: 'ed25519',
    keyId: keyIdOf(publicKey),
    signature: toBase64Url(nodeCrypto.ed25519Sign(input.privateKey, manifestSigningBytes(manifestBytes))),
  };
  const sigBytes = utf8(`${JSON.stringify(sig)}\n`);
  const bytes = concat([...entry(MANIFEST_NAME, manifestBytes, mtime), ...entry(SIGNATURE_NAME, sigBytes, mtime), payload]);
  return { bytes, manifest: checked.data };
}

/** Receives a payload file's bytes while a bundle is read (extraction). */
export interface BundleVisitor {
  /** Called once per file before its data; return a sink or undefined to skip the data. */
  file(path: string, size: number): Promise<FileSink | undefined> | FileSink | undefined;
}
export interface FileSink {
  write(chunk: Uint8Array): Promise<void> | void;
  end(): Promise<void> | void;
}

export interface VerifiedBundle {
  manifest: BundleManifest;
  keyId: string;
  /** Bytes of the whole bundle file. */
  size: number;
}

export interface ReadBundleOptions {
  /** Raw 32-byte release public keys the reader trusts. */
  trustedKeys: readonly Uint8Array[];
  visitor?: BundleVisitor;
  /** Progress of the payload pass: bytes of file data read so far, of the total. */
  onProgress?: (done: number, total: number) => void;
}

class Reader {
  pos = 0;
  constructor(readonly src: ByteSource) {}
  async take(n: number): Promise<Uint8Array> {
    if (this.pos + n > this.src.size)
      throw new BundleError('TRUNCATED', `bundle ends at byte ${this.src.size}, needed ${this.pos + n}`, {
        details: { size: this.src.size, needed: this.pos + n },
      });
    const b = await this.src.read(this.pos, n);
    if (b.length !== n) throw new BundleError('TRUNCATED', `short read at byte ${this.pos}`);
    this.pos += n;
    return b;
  }
  async header(): Promise<{ name: string; size: number; mtime: number } | undefined> {
    const at = this.pos;
    return parseTarHeader(await this.take(BLOCK), at);
  }
  async padding(size: number): Promise<void> {
    const n = paddedSize(size) - size;
    if (n === 0) return;
    const at = this.pos;
    const pad = await this.take(n);
    if (!pad.every((b) => b === 0))
      throw new BundleError('BAD_FORMAT', `non-zero padding at byte ${at}`, { details: { offset: at } });
  }
}

function json(bytes: Uint8Array, code: string, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new BundleError(code, `${what} is not UTF-8 JSON`, { cause });
  }
}

/**
 * Reads and verifies a bundle in one streaming pass: canonical tar, trusted key,
 * signature, manifest schema, every file's size and SHA-256, the payload hash, nothing
 * after the end. With a visitor, file data goes to it as it is read (extraction); the
 * caller must still treat the result as untrusted unless this resolves.
 */
export async function readBundle(src: ByteSource, options: ReadBundleOptions): Promise<VerifiedBundle> {
  const r = new Reader(src);
  const h0 = await r.header();
  if (h0?.name !== MANIFEST_NAME || h0.size > MAX_MANIFEST_BYTES)
    throw new BundleError('BAD_FORMAT', `first entry must be ${MANIFEST_NAME} (<= ${MAX_MANIFEST_BYTES} bytes)`);
  const manifestBytes = await r.take(h0.size);
  await r.padding(h0.size);
  const h1 = await r.header();
  if (h1?.name !== SIGNATURE_NAME || h1.size > 4096 || h1.mtime !== h0.mtime)
    throw new BundleError('BAD_FORMAT', `second entry must be ${SIGNATURE_NAME}`);
  const sigBytes = await r.take(h1.size);
  await r.padding(h1.size);

  const sigParsed = manifestSignatureSchema.safeParse(json(sigBytes, 'BAD_SIGNATURE', SIGNATURE_NAME));
  if (!sigParsed.success) throw new BundleError('BAD_SIGNATURE', `${SIGNATURE_NAME} is malformed`);
  const sig = sigParsed.data;
  if (`${JSON.stringify(sig)}\n` !== new TextDecoder().decode(sigBytes))
    throw new BundleError('BAD_SIGNATURE', `${SIGNATURE_NAME} is not in canonical form`);
  const key = options.trustedKeys.find((k) => keyIdOf(k) === sig.keyId);
  if (!key)
    throw new BundleError('UNKNOWN_KEY', `bundle is signed by key ${sig.keyId}, which is not trusted`, {
      details: { keyId: sig.keyId, trusted: options.trustedKeys.map(keyIdOf) },
    });
  const sigRaw = fromBase64Url(sig.signature);
  if (!(sigRaw instanceof Uint8Array) || !nodeCrypto.ed25519Verify(key, manifestSigningBytes(manifestBytes), sigRaw))
    throw new BundleError('BAD_SIGNATURE', `manifest signature does not verify with key ${sig.keyId}`, {
      details: { keyId: sig.keyId },
    });

  const parsed = bundleManifestSchema.safeParse(json(manifestBytes, 'BAD_MANIFEST', MANIFEST_NAME));
  if (!parsed.success)
    throw new BundleError(
      'BAD_MANIFEST',
      `manifest: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
    );
  const manifest = parsed.data;
  if (Math.floor(manifest.createdAt / 1000) !== h0.mtime)
    throw new BundleError('BAD_FORMAT', 'tar mtime differs from manifest createdAt');

  const payloadStart = r.pos;
  const payloadHash = createHash('sha256');
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  let done = 0;
  const takeHashed = async (n: number): Promise<Uint8Array> => {
    const b = await r.take(n);
    payloadHash.update(b);
    return b;
  };
  for (const f of manifest.files) {
    const at = r.pos;
    const hb = await takeHashed(BLOCK);
    const h = parseTarHeader(hb, at);
    if (!h || h.name !== f.path || h.size !== f.size || h.mtime !== h0.mtime)
      throw new BundleError('HASH_MISMATCH', `entry at byte ${at} is not ${f.path} (${f.size} bytes) from the manifest`, {
        details: { path: f.path, offset: at },
      });
    const sink = await options.visitor?.file(f.path, f.size);
    const fileHash = createHash('sha256');
    for (let left = f.size; left > 0; ) {
      const n = Math.min(PIECE, left);
      const piece = await takeHashed(n);
      fileHash.update(piece);
      if (sink) await sink.write(piece);
      left -= n;
      done += n;
      options.onProgress?.(done, total);
    }
    if (sink) await sink.end();
    if (fileHash.digest('hex') !== f.sha256)
      throw new BundleError('HASH_MISMATCH', `${f.path}: SHA-256 differs from the manifest`, { details: { path: f.path } });
    const padAt = r.pos;
    const pad = await takeHashed(paddedSize(f.size) - f.size);
    if (!pad.every((b) => b === 0))
      throw new BundleError('BAD_FORMAT', `non-zero padding at byte ${padAt}`, { details: { offset: padAt } });
  }
  const endAt = r.pos;
  const end = await takeHashed(2 * BLOCK);
  if (!end.every((b) => b === 0))
    throw new BundleError('BAD_FORMAT', `expected the end-of-archive blocks at byte ${endAt}`, { details: { offset: endAt } });
  if (r.pos !== src.size)
    throw new BundleError('BAD_FORMAT', `${src.size - r.pos} bytes after the end of the archive`, {
      details: { offset: r.pos },
    });
  const got = payloadHash.digest('hex');
  if (got !== manifest.bundleSha256)
    throw new BundleError('HASH_MISMATCH', `payload SHA-256 ${got} differs from the manifest's bundleSha256`, {
      details: { payloadStart },
    });
  return { manifest, keyId: sig.keyId, size: src.size };
}

/** readBundle over a file; closes it. */
export async function readBundleFile(path: string, options: ReadBundleOptions): Promise<VerifiedBundle> {
  let src: ByteSource;
  try {
    src = await fileSource(path);
  } catch (cause) {
    throw new BundleError('BAD_INPUT', `cannot open bundle ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    return await readBundle(src, options);
  } finally {
    await src.close?.();
  }
}
