/**
 * What the SCP03 card and host sides share: the command shape, security levels, the
 * C-MAC input, the encryption-counter ICVs and the INITIALIZE UPDATE response layout.
 */
import { AesKey, aesEcbEncrypt } from './aes.ts';
import { concatBytes, uintBE } from './bytes.ts';

/**
 * A command APDU as the secure channel sees it: header, data and (opaque) Le. `le`
 * undefined means absent; otherwise it is passed through untouched (0 = maximum is the
 * card engine's convention, not the channel's).
 */
export interface CommandFields {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  le?: number;
}

/** Security level bits (GP Amd D §7.2.2.1, EXTERNAL AUTHENTICATE P1). */
export const LEVEL = {
  none: 0x00,
  cMac: 0x01,
  cDecryption: 0x02,
  rMac: 0x10,
  rEncryption: 0x20,
} as const;

/** A security level: one of the combinations GP Amd D allows. */
export type SecurityLevel = 0x00 | 0x01 | 0x03 | 0x11 | 0x13 | 0x33;

/** Every allowed security level, weakest first. */
export const SECURITY_LEVELS: readonly SecurityLevel[] = [0x00, 0x01, 0x03, 0x11, 0x13, 0x33];

/** Whether `level` is one of the allowed combinations (C-DEC needs C-MAC; R-ENC needs C-DEC and R-MAC). */
export function isSecurityLevel(level: number): level is SecurityLevel {
  return (SECURITY_LEVELS as readonly number[]).includes(level);
}

/** The i parameter bits (GP Amd D Table 5-1). */
export const I_PARAM = {
  /** b1: S16 mode (16-byte challenges, cryptograms and MACs); not implemented here. */
  s16: 0x01,
  /** b5: pseudo-random card challenge (then the sequence counter is in the IU response). */
  pseudoRandom: 0x10,
  /** b6: R-MAC supported. */
  rMac: 0x20,
  /** b7: R-ENCRYPTION supported. */
  rEncryption: 0x40,
} as const;

/** Whether a card announcing parameter `i` supports `level` (Table 5-1: R-MAC and R-ENC are optional). */
export function levelSupported(i: number, level: SecurityLevel): boolean {
  if (level & LEVEL.rMac && !(i & I_PARAM.rMac)) return false;
  if (level & LEVEL.rEncryption && !(i & I_PARAM.rEncryption)) return false;
  return true;
}

/** The SCP identifier in the key information (GP Amd D Table 7-3). */
export const SCP03_ID = 0x03;
/** C-MAC, R-MAC, challenge and cryptogram length in S8 mode. */
export const S8 = 8;
/** The INITIALIZE UPDATE instruction. */
export const INS_INITIALIZE_UPDATE = 0x50;
/** The EXTERNAL AUTHENTICATE instruction. */
export const INS_EXTERNAL_AUTHENTICATE = 0x82;
/** The secure-messaging indication bit in CLA (GP proprietary SM, ISO 7816-4 §5.4.1 b3 = 1). */
export const CLA_SM = 0x04;

/** Whether CLA is in a class SCP03 can protect: first interindustry (0x00–0x1F) or proprietary (0x80–0xFE), without ISO SM (b4). */
export function claSupported(cla: number): boolean {
  // ISO 7816-4 §5.4.1: 0x00–0x1F first interindustry (b5 = chaining), 0x80–0xFE proprietary; FF is invalid.
  // b4 (0x08) would mean ISO secure messaging, which SCP03 does not use: refused, so that
  // the only CLA bits outside the C-MAC are the logical channel number (b2 b1), as in §6.2.4.
  return ((cla >= 0x00 && cla <= 0x1f) || (cla >= 0x80 && cla <= 0xfe)) && !(cla & 0x08);
}

/**
 * GP Amd D §6.2.4: the C-MAC input after the MAC chaining value:
 *   CLA' INS P1 P2 Lc' ‖ data'
 * with CLA' = (CLA & F0) | 04 (SM indicated, logical channel bits zero), Lc' counting the
 * 8-byte C-MAC, data' the (encrypted) data field. Lc' is one byte up to 255, else the
 * three-byte extended form 00 ‖ Lc (ISO 7816-4 §5.1). Le is not MACed.
 */
export function cmacInput(mcv: Uint8Array, cla: number, ins: number, p1: number, p2: number, body: Uint8Array): Uint8Array {
  const lc = body.length + S8;
  const lcBytes = lc <= 0xff ? Uint8Array.of(lc) : concatBytes(Uint8Array.of(0), uintBE(lc, 2));
  return concatBytes(mcv, Uint8Array.of((cla & 0xf0) | CLA_SM, ins, p1, p2), lcBytes, body);
}

/** GP Amd D §6.2.6: command ICV = AES(S-ENC, encryption counter as a 16-byte big-endian block). */
export function commandIcv(sEnc: Uint8Array | AesKey, counter: number): Uint8Array {
  const block = new Uint8Array(16);
  block.set(uintBE(counter, 8), 8);
  return sEnc instanceof AesKey ? sEnc.encryptBlock(block) : aesEcbEncrypt(sEnc, block);
}

/** GP Amd D §6.2.7: response ICV = AES(S-ENC, the same counter block with its first byte set to 80). */
export function responseIcv(sEnc: Uint8Array | AesKey, counter: number): Uint8Array {
  const block = new Uint8Array(16);
  block.set(uintBE(counter, 8), 8);
  block[0] = 0x80;
  return sEnc instanceof AesKey ? sEnc.encryptBlock(block) : aesEcbEncrypt(sEnc, block);
}

/** GP Amd D §6.2.5: R-MAC (and R-ENC) apply only to 9000, 62xx and 63xx; errors return the bare SW. */
export function swCarriesRmac(sw: number): boolean {
  return sw === 0x9000 || sw >> 8 === 0x62 || sw >> 8 === 0x63;
}

/** The fields of an INITIALIZE UPDATE response (GP Amd D Table 7-3, S8 mode). */
export interface InitializeUpdateResponse {
  readonly diversificationData: Uint8Array;
  readonly kvn: number;
  readonly scpId: number;
  readonly i: number;
  readonly cardChallenge: Uint8Array;
  readonly cardCryptogram: Uint8Array;
  /** Present when the card uses pseudo-random challenges (i b5). */
  readonly sequenceCounter?: number;
}

/** Encode an INITIALIZE UPDATE response: div data (10) ‖ KVN 03 i ‖ challenge (8) ‖ cryptogram (8) [‖ counter (3)]. */
export function encodeInitializeUpdateResponse(r: InitializeUpdateResponse): Uint8Array {
  return concatBytes(
    r.diversificationData,
    Uint8Array.of(r.kvn, r.scpId, r.i),
    r.cardChallenge,
    r.cardCryptogram,
    r.sequenceCounter === undefined ? new Uint8Array(0) : uintBE(r.sequenceCounter, 3),
  );
}
