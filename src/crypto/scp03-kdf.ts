/**
 * The SCP03 data derivation (GP Card Specification v2.3 Amendment D, §4.1.5 and §6.2):
 * session keys, card and host cryptograms, and the pseudo-random card challenge.
 */
import { counterKdfCmac } from './kdf.ts';
import { AesKey, aesKeyBits } from './aes.ts';
import { Cmac } from './cmac.ts';
import type { Scp03StaticKeys } from './scp03-card.ts';
import { concatBytes, uintBE } from './bytes.ts';
import { invalid } from '../util/index.ts';

/** Derivation constants (GP Amd D Table 4-1). */
export const DERIVE = {
  cardCryptogram: 0x00,
  hostCryptogram: 0x01,
  cardChallenge: 0x02,
  sEnc: 0x04,
  sMac: 0x06,
  sRmac: 0x07,
} as const;

/**
 * GP Amd D §4.1.5 data derivation with the SP 800-108 counter-mode KDF and AES-CMAC:
 *   input_i = 00×11 ‖ constant ‖ 00 ‖ L (2 bytes, bits) ‖ i (1 byte) ‖ context
 * The 12-byte label (11 zero bytes and the constant), the separator 00 and L precede the
 * counter; the context follows it ("counter in the middle", CAVP's MIDDLE_FIXED).
 */
export function scp03Derive(key: Uint8Array | Cmac, constant: number, context: Uint8Array, bits: number): Uint8Array {
  if (!Number.isInteger(bits) || bits <= 0 || bits % 8 !== 0 || bits > 0xffff) throw invalid('bits', `expected a multiple of 8 below 65536, got ${bits}`);
  const before = concatBytes(new Uint8Array(11), Uint8Array.of(constant, 0x00), uintBE(bits, 2));
  return counterKdfCmac({ key, bits, before, after: context });
}

/** The three SCP03 session keys. */
export interface Scp03SessionKeys {
  readonly sEnc: Uint8Array;
  readonly sMac: Uint8Array;
  readonly sRmac: Uint8Array;
}

/**
 * GP Amd D §6.2.1: session keys from the static keys, context = host challenge ‖ card challenge,
 * L = the static key length (128, 192 or 256 bits).
 */
export function deriveSessionKeys(enc: Uint8Array, mac: Uint8Array, hostChallenge: Uint8Array, cardChallenge: Uint8Array): Scp03SessionKeys {
  const context = concatBytes(hostChallenge, cardChallenge);
  return {
    sEnc: scp03Derive(enc, DERIVE.sEnc, context, aesKeyBits(enc, 'K-ENC')),
    sMac: scp03Derive(mac, DERIVE.sMac, context, aesKeyBits(mac, 'K-MAC')),
    // §6.2.1: S-RMAC is derived from K-MAC too, with its own constant.
    sRmac: scp03Derive(mac, DERIVE.sRmac, context, aesKeyBits(mac, 'K-MAC')),
  };
}

/** GP Amd D §6.2.2.2: card cryptogram = KDF(S-MAC, 00, host challenge ‖ card challenge, 64) (S8 mode). */
export function cardCryptogram(sMac: Uint8Array | Cmac, hostChallenge: Uint8Array, cardChallenge: Uint8Array): Uint8Array {
  return scp03Derive(sMac, DERIVE.cardCryptogram, concatBytes(hostChallenge, cardChallenge), 64);
}

/** GP Amd D §6.2.2.3: host cryptogram = KDF(S-MAC, 01, host challenge ‖ card challenge, 64) (S8 mode). */
export function hostCryptogram(sMac: Uint8Array | Cmac, hostChallenge: Uint8Array, cardChallenge: Uint8Array): Uint8Array {
  return scp03Derive(sMac, DERIVE.hostCryptogram, concatBytes(hostChallenge, cardChallenge), 64);
}

/** The largest sequence counter (3 bytes, GP Amd D Table 7-3). */
export const MAX_SEQUENCE_COUNTER = 0xffffff;

/**
 * GP Amd D §6.2.2.1: pseudo-random card challenge = KDF(K-ENC, 02, sequence counter (3 bytes) ‖
 * invoking AID, 64), with the static K-ENC. The counter is the value the card returns in the
 * same INITIALIZE UPDATE response. Cross-checked against the pySim recorded sessions, whose
 * challenges are exactly this with the SGP.22 ISD-R AID (see docs/crypto.md).
 */
export function pseudoRandomCardChallenge(enc: Uint8Array | Cmac, sequenceCounter: number, context: Uint8Array): Uint8Array {
  if (!Number.isInteger(sequenceCounter) || sequenceCounter < 0 || sequenceCounter > MAX_SEQUENCE_COUNTER) {
    throw invalid('sequenceCounter', `expected 0..${MAX_SEQUENCE_COUNTER}, got ${sequenceCounter}`);
  }
  return scp03Derive(enc, DERIVE.cardChallenge, concatBytes(uintBE(sequenceCounter, 3), context), 64);
}

/**
 * A static key set prepared for the channel: K-ENC and K-MAC as CMAC keys (the KDF's PRF),
 * set up once and re-used for every session opened with them. K-DEK is not used by the
 * channel and is not kept. `dispose()` frees the contexts and wipes the subkeys.
 */
export class PreparedStaticKeys {
  readonly kvn: number;
  readonly bits: 128 | 192 | 256;
  readonly enc: Cmac;
  readonly mac: Cmac;

  constructor(keys: Scp03StaticKeys) {
    this.bits = aesKeyBits(keys.enc, 'keys.enc');
    if (aesKeyBits(keys.mac, 'keys.mac') !== this.bits || aesKeyBits(keys.dek, 'keys.dek') !== this.bits) {
      throw invalid('keys', 'expected K-ENC, K-MAC and K-DEK of the same length');
    }
    if (!Number.isInteger(keys.kvn) || keys.kvn < 1 || keys.kvn > 0xff) throw invalid('keys.kvn', `expected a key version number 01..FF, got ${keys.kvn}`);
    this.kvn = keys.kvn;
    this.enc = new Cmac(keys.enc);
    this.mac = new Cmac(keys.mac);
  }

  dispose(): void {
    this.enc.dispose();
    this.mac.dispose();
  }
}

/** A session's keys, prepared: S-ENC as an AES key (ICVs, CBC), S-MAC and S-RMAC as CMAC keys. */
export interface PreparedSessionKeys {
  readonly sEnc: AesKey;
  readonly sMac: Cmac;
  readonly sRmac: Cmac;
}

/**
 * GP Amd D §6.2.1, as deriveSessionKeys, but the derived keys go straight into prepared
 * contexts and their bytes are wiped: a session never holds its keys as plain arrays.
 * `decrypt`: whether S-ENC will decrypt (card: C-DECRYPTION; host: R-ENCRYPTION).
 */
export function prepareSessionKeys(statics: PreparedStaticKeys, hostChallenge: Uint8Array, cardChallenge: Uint8Array, decrypt: boolean): PreparedSessionKeys {
  const context = concatBytes(hostChallenge, cardChallenge);
  const sEnc = scp03Derive(statics.enc, DERIVE.sEnc, context, statics.bits);
  const sMac = scp03Derive(statics.mac, DERIVE.sMac, context, statics.bits);
  const sRmac = scp03Derive(statics.mac, DERIVE.sRmac, context, statics.bits);
  try {
    return { sEnc: decrypt ? AesKey.withDecryption(sEnc) : new AesKey(sEnc), sMac: new Cmac(sMac), sRmac: new Cmac(sRmac) };
  } finally {
    sEnc.fill(0);
    sMac.fill(0);
    sRmac.fill(0);
  }
}

/** Free a prepared session's contexts and wipe its subkeys. */
export function disposeSessionKeys(s: PreparedSessionKeys | undefined): void {
  s?.sEnc.dispose();
  s?.sMac.dispose();
  s?.sRmac.dispose();
}
