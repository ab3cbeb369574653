/**
 * The host key store: where keys that must not live beside the data they protect are kept
 * (card-image sealing keys and anti-rollback counters, master keys, CA keys).
 *
 * Implementations: a sealed software store (default, a folder) and a memory store (tests,
 * benchmarks); PKCS#11 (SoftHSM2 / a real HSM) joins behind the same interface. The API is
 * synchronous because the card engine answers APDUs synchronously and must persist each
 * retry-counter change before it compares a PIN.
 */
export interface KeyStore {
  /** A human-readable description for `info` commands, e.g. `software:/var/lib/juki/keys`. */
  readonly description: string;
  /** The 32-byte AES key stored under `name`, created from a CSPRNG on first use unless `create` is false. Throws JUKI_ERR_KEYSTORE if missing (and not created) or destroyed. */
  secretKey(name: string, create?: boolean): Uint8Array;
  /** Whether a live (not destroyed) key is stored under `name`. */
  hasKey(name: string): boolean;
  /** Destroy the key: every later secretKey(name) throws, even with create. Used on detected tampering. */
  destroyKey(name: string): void;
  /** A monotonic counter (0 when never set). */
  readCounter(name: string): number;
  /** Advance the counter to `value`, durably, before returning. Refuses (JUKI_ERR_KEYSTORE) to go backwards. */
  advanceCounter(name: string, value: number): void;
}
