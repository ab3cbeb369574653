/** The CS's card flows: host side of re-keying, personalisation, PIN services, identity and operator login. */
export { rekeyBlankCard, putKeyData, keyCheckValues } from './rekey.ts';
export type { RekeyOptions, RekeyResult, KeyCheckValues } from './rekey.ts';
export { personaliseCard, checkBasicAreaData, basicAreaDgis, looksIssued } from './personalise.ts';
export type { BasicAreaData, PersonalisationPlan, PersonalisationResult } from './personalise.ts';
export { setPinOnPinPad, unblockPin, changePinByHolder } from './pin-services.ts';
export type { UnblockOptions, UnblockResult, HolderPinChange, HolderPinChangeResult, IdentityVerificationRef } from './pin-services.ts';
export { installJpkiArea } from './jpki-area.ts';
export type { JpkiAreaPlan, JpkiAreaResult } from './jpki-area.ts';
export { readCardIdentity } from './identity.ts';
export type { CardIdentity } from './identity.ts';
export { operatorLogin, verifyOperatorSignature, newLoginChallenge } from './operator.ts';
export { inspectCard } from './card-state.ts';
export type { CardState, CardApplicationState, IsdKeys } from './card-state.ts';
export {
  diversifiedKeySource, keyStoreKeySource, municipalityCardKeys, wipeKeys, MUNICIPALITY_MASTER_KEYS, MUNICIPALITY_TRANSPORT_KVN, ISSUER_KVN,
} from './card-keys.ts';
export type { CardKeySource, MasterKeyNames } from './card-keys.ts';
export type { CardFlowEvent, CardFlowObserver } from './steps.ts';
export { ISD_AID, BASIC_AID, OPERATOR_AID, MAKER_TRANSPORT_KVN } from './wire.ts';
export type { CardLifecycle } from './wire.ts';
