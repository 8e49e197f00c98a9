/**
 * The crypto the wire contract needs, behind one small interface (STYLE habit 12) so the
 * protocol code stays free of platform imports: node:crypto on the handset and the
 * cloud (`nodeCrypto` in crypto-node.ts); a WebCrypto or HSM-backed provider could
 * replace it without touching signing.ts or paycode.ts.
 *
 * Keys are raw bytes: an Ed25519 private key is its 32-byte seed (RFC 8032), a public
 * key the 32-byte encoded point.
 */
export interface Ed25519KeyPair {
  /** 32-byte RFC 8032 private key (seed). Never logged, never sent. */
  readonly privateKey: Uint8Array;
  /** 32-byte public key. */
  readonly publicKey: Uint8Array;
}

export interface CryptoProvider {
  /** Fresh key pair from a CSPRNG. */
  generateEd25519KeyPair(): Ed25519KeyPair;
  /** Public key of a 32-byte private key. Throws SigningError on a wrong length. */
  ed25519PublicKey(privateKey: Uint8Array): Uint8Array;
  /** Deterministic 64-byte signature (RFC 8032: same key + message => same signature). */
  ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** False for a bad signature AND for malformed keys/signatures; never throws. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /**
   * The same check off the calling thread, where the provider can (node: libuv's thread
   * pool), so a server verifies a batch in parallel while its event loop goes on.
   */
  ed25519VerifyAsync?(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(length: number): Uint8Array;
}
