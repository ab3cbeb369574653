/** The chip: APDU engine, file system, PINs, SCP03, storage, applications. */
export type { CardDevice } from './device.ts';
export { Card, ATR, StorageFault } from './card.ts';
export type { CardOptions } from './card.ts';
export { CommandApdu, ResponseApdu } from './apdu.ts';
export type { CommandFields } from './apdu.ts';
export { SW, describeSw, isSuccessOrWarning, IsoError } from './sw.ts';
export { parseTlvs, findTlv, tlv, concat, parseDgis, dgi } from './tlv.ts';
export type { Tlv, Dgi } from './tlv.ts';
export { always, never, pin, channel, pinAndChannel, issuer, anyOf, allows, describeCondition, LEVEL } from './access.ts';
export type { AccessCondition, SecurityView, ChannelOwner, Operation } from './access.ts';
export { FileTable, fidHex } from './files.ts';
export type { EfDef, BinaryEfDef, PinEfDef, KeyEfDef } from './files.ts';
export { pinFormatOk } from './pin.ts';
export type { PinPolicy } from './pin.ts';
export type { ApplicationType, AppContext, Handler, Reply, PersoContext } from './application.ts';
export type { CardImage, CardLifecycle, AppRecord, KeySetRecord, InitialKeySet } from './image.ts';
export { cardIdOf } from './image.ts';
export { MemoryCardStore, SealedCardStore, MemoryBlobStore, FileBlobStore, sealingNames, sealedImageCardId, sealedImageVersion, retryCounterName, retryCounterTries, nextRetryCounter } from './storage.ts';
export type { CardStore, BlobStore, WritePointHook, SealedCardStoreOptions } from './storage.ts';
export { ISD_AID, MAKER_TRANSPORT_KVN, isTransportKvn, DGI_KEYSET, LIFECYCLE_CODE, keyCheckValue } from './issuer-domain.ts';
export { CARD_MODULES, blankCardImage, manufactureBlankCard, cardSerial, transportKeysOf, jpkiInitialKeysOf } from './blank.ts';
export type { BlankCardSpec, TransportKeys, JpkiInitialSpec } from './blank.ts';
export { basicArea, BASIC_AID, BASIC_FID, BASIC_PIN_REF, BASIC_FILES } from './apps/basic.ts';
export { operatorCard, OPERATOR_AID, OPERATOR_FID, OPERATOR_PIN_REF, OPERATOR_KEY_REF } from './apps/operator.ts';
export { ordinanceArea, ORDINANCE_MODULE, ORDINANCE_FID, ORDINANCE_PIN_REF } from './apps/ordinance.ts';
export {
  jpkiArea, jpkiApplication, jpkiTokenFile, checkCertificate, JPKI_AID, JPKI_FID, JPKI_AUTH_PIN_REF, JPKI_SIGN_PIN_REF, JPKI_AUTH_KEY_REF, JPKI_SIGN_KEY_REF,
  JPKI_SD_KVN, JPKI_SD_INITIAL_KVN, JPKI_KEY_BITS, JPKI_MAX_SIGN_INPUT, JPKI_FILES, BASIC_FOUR_ARC_DER,
} from './apps/jpki.ts';
export type { JpkiToken, JpkiOptions } from './apps/jpki.ts';
