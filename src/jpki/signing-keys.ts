/**
 * CA signing keys: the asymmetric key store the JPKI certification authority signs with.
 *
 * src/crypto's KeyStore holds symmetric keys and counters; a CA needs key pairs whose private
 * half never leaves the store. This interface is that: generate an RSA-2048 pair under a
 * label, read its public key (SubjectPublicKeyInfo DER), sign with it. There is no call that
 * returns a private key, so no implementation can be asked for one.
 *
 * Implementations: SoftwareSigningKeyStore (sealed files or memory, software-keys.ts) and
 * Pkcs11SigningKeyStore (an HSM or SoftHSM2 token, pkcs11-keys.ts).
 */
import { invalid } from '../util/index.ts';

/** The one signature algorithm the CA uses: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2, RFC 4055 §5). */
export type SigningAlgorithm = 'sha256WithRSAEncryption';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['sha256WithRSAEncryption'];

export interface SigningKeyStore {
  /** What the store is, for `info` output and logs (never a PIN): `software:/var/lib/juki/jpki-keys`, `pkcs11:/usr/lib/softhsm/libsofthsm2.so#juki`. */
  readonly description: string;
  /** Make a new RSA-2048 key pair (public exponent 65537) under `label`; returns its SubjectPublicKeyInfo DER. Refuses (JUKI_ERR_CONFLICT) a label already in use. */
  generate(label: string): Promise<Uint8Array>;
  /** Whether a key pair is stored under `label`. */
  has(label: string): Promise<boolean>;
  /** The SubjectPublicKeyInfo DER of the key pair under `label` (JUKI_ERR_NOT_FOUND if none). */
  publicKey(label: string): Promise<Uint8Array>;
  /** Sign `data` (the whole message; the store hashes it) with the private key under `label`. */
  sign(label: string, algorithm: SigningAlgorithm, data: Uint8Array): Promise<Uint8Array>;
  /** Release sessions and handles. The store is unusable afterwards. */
  close(): Promise<void>;
}

const LABEL = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Check a key label: lower-case letters, digits, `.`, `_`, `-`, 1-64 characters (it names a file in the software store). */
export function checkLabel(label: string): string {
  if (typeof label !== 'string' || !LABEL.test(label)) {
    throw invalid('label', `expected a key label (lower-case letters, digits, '.', '_', '-', 1-64 characters), got ${JSON.stringify(label)}`);
  }
  return label;
}

/** Refuse an algorithm the store does not implement. */
export function checkAlgorithm(algorithm: string): SigningAlgorithm {
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw invalid('algorithm', `expected one of ${SIGNING_ALGORITHMS.join(', ')}, got ${JSON.stringify(algorithm)}`);
  }
  return algorithm as SigningAlgorithm;
}

/** RSA key size the CA keys are made with (and the only one the JPKI card supports). */
export const CA_KEY_BITS = 2048;
