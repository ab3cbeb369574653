/** The JPKI certification authority: CA keys, certificates, revocation, CRL and OCSP (docs/jpki.md). */
import 'reflect-metadata';
export type { SigningKeyStore, SigningAlgorithm } from './signing-keys.ts';
export { SIGNING_ALGORITHMS, CA_KEY_BITS } from './signing-keys.ts';
export { SoftwareSigningKeyStore } from './software-keys.ts';
export { Pkcs11SigningKeyStore, pkcs11PinFromEnv, PKCS11_PIN_ENV } from './pkcs11-keys.ts';
export type { Pkcs11Options, KeyProtection } from './pkcs11-keys.ts';
export { JpkiAuthority } from './ca.ts';
export type { JpkiAuthorityOptions, CaInfo, IssueOptions, IssuedCertificate, CertificateRecord, StatusChange } from './ca.ts';
export {
  OID, JUKI_OID_ARC, CA_IDS, DEFAULT_ORGANIZATION, DEFAULT_VALIDITY, SEX_CODE,
  checkCardPublicKey, rsaSpki, eraDate, encodeBasicFour, basicFourSan, parseBasicFourSan, caName, isCaId,
} from './profile.ts';
export type { CaId, CaTier, CertificateKind, SignHolder, Sex, BasicFour, ValidityDays } from './profile.ts';
export { REVOCATION_REASONS, REASON_FOR_CAUSE, CARD_CAUSES } from './revocation.ts';
export type { RevocationReason, CardCause, CertificateStatus } from './revocation.ts';
export { caUrls } from './certificate.ts';
export type { CaUrls } from './certificate.ts';
export { answerOcsp, OCSP_STATUS } from './ocsp.ts';
export type { OcspSource } from './ocsp.ts';
export { jpkiHttpPlugin } from './http.ts';
export {
  personaliseJpkiCard, jpkiMasterKeys, jpkiInitialMaster, jpkiInitialKeys, JpkiCardSession, spkiFromPublicKeyTemplate,
  JPKI_CARD_AID, JPKI_CARD_KVN, JPKI_INITIAL_KVN, JPKI_MASTER_KEY_NAMES, JPKI_INITIAL_MASTER_KEY_NAMES, JPKI_CARD_KEYS, JPKI_CARD_EFS,
} from './card-personalisation.ts';
export type { PersonaliseJpkiOptions, JpkiCardResult } from './card-personalisation.ts';
export { JpkiRelayService, JPKI_RELAY_PATHS } from './http-relay.ts';
export type { JpkiCardService, JpkiRelayHolder, JpkiRelayPeer, JpkiRelayServiceOptions, RelayReply } from './http-relay.ts';
