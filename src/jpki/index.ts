/** The JPKI certification authority: CA keys, certificates, revocation, CRL and OCSP (docs/jpki.md). */
import 'reflect-metadata';
export type { SigningKeyStore, SigningAlgorithm } from './signing-keys.ts';
export { SIGNING_ALGORITHMS, CA_KEY_BITS } from './signing-keys.ts';
export { SoftwareSigningKeyStore } from './software-keys.ts';
export { Pkcs11SigningKeyStore, pkcs11PinFromEnv, PKCS11_PIN_ENV } from './pkcs11-keys.ts';
export type { Pkcs11Options, KeyProtection } from './pkcs11-keys.ts';
