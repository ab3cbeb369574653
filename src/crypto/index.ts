/** Primitives not in node:crypto (CMAC, KDF, diversification, SCP03) and the key stores. */
export type { KeyStore } from './keystore.ts';
export { aesCmac, Cmac } from './cmac.ts';
export { AesKey } from './aes.ts';
export { secureRandom } from './random.ts';
export { counterKdfCmac } from './kdf.ts';
export type { CounterKdfInput } from './kdf.ts';
export { concatBytes, equalBytes, wipe, padMethod2, unpadMethod2 } from './bytes.ts';
export {
  DERIVE, scp03Derive, deriveSessionKeys, cardCryptogram, hostCryptogram, pseudoRandomCardChallenge, MAX_SEQUENCE_COUNTER, PreparedStaticKeys,
  prepareSessionKeys, disposeSessionKeys,
} from './scp03-kdf.ts';
export type { Scp03SessionKeys, PreparedSessionKeys } from './scp03-kdf.ts';
export { LEVEL, SECURITY_LEVELS, isSecurityLevel, I_PARAM, levelSupported, swCarriesRmac } from './scp03-wire.ts';
export type { CommandFields, SecurityLevel, InitializeUpdateResponse } from './scp03-wire.ts';
export { Scp03CardChannel, SCP_SW } from './scp03-card.ts';
export type { Scp03StaticKeys, Scp03CardOptions, CardChallengeSource, SwOnly } from './scp03-card.ts';
export { Scp03HostChannel, parseInitializeUpdateResponse } from './scp03-host.ts';
export type { Scp03HostOptions, Scp03KeyResolver } from './scp03-host.ts';
export { precomputeScript, openScriptResponses, scriptFitsCard } from './scp03-script.ts';
export type { Scp03Script, Scp03ScriptOptions, ScriptResponse } from './scp03-script.ts';
export { diversifyKey, diversifyKeySet, KEY_DOMAINS } from './diversify.ts';
export type { DiversifiedKey, MasterKeys } from './diversify.ts';
export { checkKeyName } from './key-name.ts';
export { MemoryKeyStore } from './memory-keystore.ts';
export { SoftwareKeyStore, type SoftwareKeyStoreOptions } from './software-keystore.ts';
export { dekEncrypt, dekDecrypt, keyCheckValue } from './scp03-dek.ts';
