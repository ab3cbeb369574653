/** Primitives not in node:crypto (CMAC, KDF, diversification, SCP03) and the key stores. */
export type { KeyStore } from './keystore.ts';
