/**
 * SCP03, host side (GP Card Specification v2.3 Amendment D): a pure, synchronous protocol
 * object that runs where the keys are. It builds INITIALIZE UPDATE, checks the card
 * cryptogram and builds EXTERNAL AUTHENTICATE, then wraps commands and unwraps responses.
 * It never talks to a card: the caller carries the bytes.
 */
import { aesKeyBits } from './aes.ts';
import { concatBytes, equalBytes, padMethod2, readUintBE, unpadMethod2, wipe } from './bytes.ts';
import { secureRandom } from './random.ts';
import {
  cardCryptogram, disposeSessionKeys, hostCryptogram, PreparedStaticKeys, prepareSessionKeys, pseudoRandomCardChallenge, type PreparedSessionKeys,
} from './scp03-kdf.ts';
import type { Scp03StaticKeys } from './scp03-card.ts';
import {
  CLA_SM, claSupported, cmacInput, commandIcv, type CommandFields, I_PARAM, INS_EXTERNAL_AUTHENTICATE, INS_INITIALIZE_UPDATE,
  type InitializeUpdateResponse, isSecurityLevel, LEVEL, levelSupported, responseIcv, S8, SCP03_ID, type SecurityLevel, swCarriesRmac,
} from './scp03-wire.ts';
import { invalid, JukiError } from '../util/index.ts';

/** Finds the static keys for a card from its key diversification data (e.g. diversifies master keys with it). */
export type Scp03KeyResolver = (diversificationData: Uint8Array, kvn: number) => Scp03StaticKeys;

export interface Scp03HostOptions {
  /** The card's static keys, or a resolver that derives them from the card's diversification data. */
  readonly keys: Scp03StaticKeys | Scp03KeyResolver;
  /** The security level to request in EXTERNAL AUTHENTICATE. */
  readonly level: SecurityLevel;
  /** The 8-byte host challenge; default from `random`. */
  readonly hostChallenge?: Uint8Array;
  /** Random source for the host challenge (default node:crypto randomBytes). */
  readonly random?: (n: number) => Uint8Array;
  /**
   * The AID the card uses as the context of its pseudo-random challenge. When given and the
   * card announces a pseudo-random challenge, the host recomputes and checks it (§6.2.2.1).
   */
  readonly cardContext?: Uint8Array;
}

type State = 'idle' | 'initializing' | 'open' | 'closed';

/** Parse an INITIALIZE UPDATE response (GP Amd D Table 7-3, S8): 29 bytes, or 32 with the sequence counter. */
export function parseInitializeUpdateResponse(data: Uint8Array): InitializeUpdateResponse {
  if (data.length !== 29 && data.length !== 32) throw scpAuth(`INITIALIZE UPDATE response: expected 29 or 32 bytes (S8 mode), got ${data.length}`);
  const i = data[12]!;
  if (data[11] !== SCP03_ID) throw scpAuth(`INITIALIZE UPDATE response: expected SCP identifier 03, got ${hex(data[11]!)}`);
  if (i & I_PARAM.s16) throw scpAuth(`INITIALIZE UPDATE response: i ${hex(i)} asks for S16 mode, which is not implemented`);
  const pseudo = Boolean(i & I_PARAM.pseudoRandom);
  // Table 7-3: the sequence counter is present exactly when the challenge is pseudo-random.
  if (pseudo !== (data.length === 32)) {
    throw scpAuth(`INITIALIZE UPDATE response: i ${hex(i)} ${pseudo ? 'announces' : 'does not announce'} a pseudo-random challenge but the response is ${data.length} bytes`);
  }
  return {
    diversificationData: data.slice(0, 10),
    kvn: data[10]!,
    scpId: data[11]!,
    i,
    cardChallenge: data.slice(13, 21),
    cardCryptogram: data.slice(21, 29),
    ...(pseudo ? { sequenceCounter: readUintBE(data.subarray(29, 32)) } : {}),
  };
}

/** SCP03 host side: INITIALIZE UPDATE → card cryptogram check → EXTERNAL AUTHENTICATE → wrap/unwrap. */
export class Scp03HostChannel {
  readonly #keys: Scp03StaticKeys | Scp03KeyResolver;
  readonly #level: SecurityLevel;
  readonly #hostChallenge: Uint8Array;
  readonly #cardContext: Uint8Array | undefined;
  #state: State = 'idle';
  #requestedKvn = 0;
  #session: PreparedSessionKeys | undefined;
  #card: InitializeUpdateResponse | undefined;
  #mcv: Uint8Array = new Uint8Array(16);
  #counter = 0;

  constructor(options: Scp03HostOptions) {
    if (!isSecurityLevel(options.level)) throw invalid('level', `expected one of 00 01 03 11 13 33, got ${hex(options.level)}`);
    const hc = options.hostChallenge ?? (options.random ?? secureRandom)(S8);
    if (hc.length !== S8) throw invalid('hostChallenge', `expected ${S8} bytes, got ${hc.length}`);
    if (typeof options.keys !== 'function') checkKeys(options.keys);
    this.#keys = options.keys;
    this.#level = options.level;
    this.#hostChallenge = hc.slice();
    this.#cardContext = options.cardContext?.slice();
  }

  /** Whether EXTERNAL AUTHENTICATE has been built and the channel wraps commands. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** The requested security level. */
  get level(): SecurityLevel {
    return this.#level;
  }

  /** The host challenge sent in INITIALIZE UPDATE. */
  get hostChallenge(): Uint8Array {
    return this.#hostChallenge.slice();
  }

  /** The card's INITIALIZE UPDATE answer, once received (diversification data, KVN, i, sequence counter). */
  get card(): InitializeUpdateResponse | undefined {
    return this.#card;
  }

  /**
   * INITIALIZE UPDATE (GP Amd D §7.1); `kvn` 0 lets the card pick its first key set.
   *   C: 80 50 <kvn> 00 08 <host challenge 8> 00
   */
  initializeUpdateCommand(kvn = 0): CommandFields {
    if (this.#state !== 'idle') throw scpState('INITIALIZE UPDATE was already built for this channel; start a new one');
    if (!Number.isInteger(kvn) || kvn < 0 || kvn > 0xff) throw invalid('kvn', `expected 00..FF, got ${kvn}`);
    this.#requestedKvn = kvn;
    this.#state = 'initializing';
    return { cla: 0x80, ins: INS_INITIALIZE_UPDATE, p1: kvn, p2: 0x00, data: this.#hostChallenge.slice(), le: 0 };
  }

  /**
   * Check the card's INITIALIZE UPDATE answer and build EXTERNAL AUTHENTICATE (§7.2):
   *   C: 84 82 <level> 00 10 <host cryptogram 8> <C-MAC 8>
   * Throws JUKI_ERR_SCP_AUTHENTICATION (and closes) when the card cryptogram is wrong (the card
   * does not hold the keys), the answer is malformed or refused, or the card cannot give the level.
   */
  onInitializeUpdateResponse(data: Uint8Array, sw = 0x9000): CommandFields {
    if (this.#state !== 'initializing') throw scpState('an INITIALIZE UPDATE response arrived before INITIALIZE UPDATE was built');
    try {
      if (sw !== 0x9000) throw scpAuth(`the card refused INITIALIZE UPDATE with SW ${sw.toString(16).toUpperCase().padStart(4, '0')}`);
      const card = parseInitializeUpdateResponse(data);
      if (this.#requestedKvn !== 0 && card.kvn !== this.#requestedKvn) throw scpAuth(`the card answered with key version ${hex(card.kvn)}, asked for ${hex(this.#requestedKvn)}`);
      const keys = typeof this.#keys === 'function' ? this.#keys(card.diversificationData, card.kvn) : this.#keys;
      checkKeys(keys);
      if (keys.kvn !== card.kvn) throw scpAuth(`the card uses key version ${hex(card.kvn)}, the host holds ${hex(keys.kvn)}`);
      if (!levelSupported(card.i, this.#level)) throw scpAuth(`the card (i ${hex(card.i)}) cannot give security level ${hex(this.#level)}`);
      if (card.sequenceCounter !== undefined && this.#cardContext) {
        // §6.2.2.1: a pseudo-random challenge can be recomputed; a mismatch means a wrong card or replay.
        const expected = pseudoRandomCardChallenge(keys.enc, card.sequenceCounter, this.#cardContext);
        if (!equalBytes(expected, card.cardChallenge)) throw scpAuth('the pseudo-random card challenge does not match the sequence counter and AID');
      }
      const statics = new PreparedStaticKeys(keys);
      let session: PreparedSessionKeys;
      try {
        session = prepareSessionKeys(statics, this.#hostChallenge, card.cardChallenge, true);
      } finally {
        statics.dispose();
      }
      this.#session = session;
      // §6.2.2.2: the host authenticates the card by its cryptogram.
      const expected = cardCryptogram(session.sMac, this.#hostChallenge, card.cardChallenge);
      if (!equalBytes(expected, card.cardCryptogram)) throw scpAuth('the card cryptogram is wrong: the card does not hold the expected keys');
      this.#card = card;
      const cryptogram = hostCryptogram(session.sMac, this.#hostChallenge, card.cardChallenge);
      const cla = 0x80 | CLA_SM;
      // §6.2.3–§6.2.4: EXTERNAL AUTHENTICATE is C-MACed from MCV = 16 × 00, never encrypted.
      const mac = session.sMac.mac(cmacInput(new Uint8Array(16), cla, INS_EXTERNAL_AUTHENTICATE, this.#level, 0x00, cryptogram));
      this.#mcv = mac;
      this.#counter = 0;
      this.#state = 'open';
      return { cla, ins: INS_EXTERNAL_AUTHENTICATE, p1: this.#level, p2: 0x00, data: concatBytes(cryptogram, mac.subarray(0, S8)) };
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Check the card's answer to EXTERNAL AUTHENTICATE: anything but 90 00 closes the channel and throws JUKI_ERR_SCP_AUTHENTICATION. */
  onExternalAuthenticateResponse(sw: number): void {
    if (sw === 0x9000 && this.#state === 'open') return;
    this.close();
    throw scpAuth(sw === 0x6300
      ? 'the card refused the host cryptogram (63 00)'
      : `the card refused EXTERNAL AUTHENTICATE with SW ${sw.toString(16).toUpperCase().padStart(4, '0')}`);
  }

  /**
   * Protect a command for the open session: C-DECRYPTION (§6.2.6, data padded and AES-CBC
   * encrypted with ICV = AES(S-ENC, counter)), then C-MAC (§6.2.4) over the chained MCV; the
   * wire CLA gets the SM bit (80 → 84) and Le is kept. The counter advances for every command.
   *   80 CA 00 66 00   →   84 CA 00 66 08 <C-MAC 8> 00
   */
  wrapCommand(cmd: CommandFields): CommandFields {
    if (this.#state !== 'open') throw scpState('wrapCommand needs an open channel (after EXTERNAL AUTHENTICATE)');
    if (!claSupported(cmd.cla)) throw invalid('cla', `expected a first-interindustry (00-1F) or proprietary (80-FE) class, got ${hex(cmd.cla)}`);
    if (cmd.cla & CLA_SM) throw invalid('cla', `the plain command already indicates secure messaging (${hex(cmd.cla)})`);
    const session = this.#session!;
    this.#counter++;
    if (!(this.#level & LEVEL.cMac)) return { ...cmd, data: cmd.data.slice() };
    let body = cmd.data;
    if (this.#level & LEVEL.cDecryption && cmd.data.length > 0) {
      const padded = padMethod2(cmd.data);
      body = session.sEnc.cbcEncrypt(commandIcv(session.sEnc, this.#counter), padded);
      wipe(padded);
    }
    if (body.length + S8 > 0xffff) throw invalid('data', `the protected data field would be ${body.length + S8} bytes, over 65535`);
    const mac = session.sMac.mac(cmacInput(this.#mcv, cmd.cla, cmd.ins, cmd.p1, cmd.p2, body));
    this.#mcv = mac;
    const out: CommandFields = { cla: cmd.cla | CLA_SM, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: concatBytes(body, mac.subarray(0, S8)) };
    if (cmd.le !== undefined) out.le = cmd.le;
    return out;
  }

  /**
   * Check and strip the protection of the response to the last wrapped command: verify the
   * R-MAC (§6.2.5) and decrypt R-ENC data (§6.2.7). Returns the plain data. A wrong R-MAC,
   * undecryptable data, or data beside an error SW when R-MAC is on closes the channel and
   * throws JUKI_ERR_SCP_INTEGRITY. Responses do not advance the MCV or the counter.
   */
  unwrapResponse(data: Uint8Array, sw: number): Uint8Array {
    if (this.#state !== 'open') throw scpState('unwrapResponse needs an open channel');
    if (!(this.#level & LEVEL.rMac)) return data.slice();
    const session = this.#session!;
    const fail = (why: string): never => {
      this.close();
      throw new JukiError('JUKI_ERR_SCP_INTEGRITY', `secure channel response refused: ${why}`, { sw });
    };
    if (!swCarriesRmac(sw)) {
      // §6.2.5: an error carries only the status word; data beside it would be unprotected.
      if (data.length > 0) fail(`SW ${sw.toString(16).toUpperCase().padStart(4, '0')} came with ${data.length} unprotected data bytes`);
      return new Uint8Array(0);
    }
    if (data.length < S8) fail(`expected at least ${S8} bytes (the R-MAC), got ${data.length}`);
    const body = data.subarray(0, data.length - S8);
    const rmac = session.sRmac.mac(this.#mcv, body, Uint8Array.of(sw >> 8, sw & 0xff));
    if (!equalBytes(rmac.subarray(0, S8), data.subarray(data.length - S8))) fail('the R-MAC is wrong');
    if (!(this.#level & LEVEL.rEncryption) || body.length === 0) return body.slice();
    if (body.length % 16 !== 0) fail(`R-ENC data must be a multiple of 16 bytes, got ${body.length}`);
    const plain = session.sEnc.cbcDecrypt(responseIcv(session.sEnc, this.#counter), body);
    const unpadded = unpadMethod2(plain);
    wipe(plain);
    if (!unpadded) return fail('the decrypted response data is not padded with ISO 9797-1 method 2');
    return unpadded;
  }

  /** Close the channel and wipe the session keys and chaining state. */
  close(): void {
    disposeSessionKeys(this.#session);
    this.#session = undefined;
    wipe(this.#mcv);
    this.#mcv = new Uint8Array(16);
    this.#counter = 0;
    this.#state = 'closed';
  }
}

function checkKeys(keys: Scp03StaticKeys): void {
  const bits = aesKeyBits(keys.enc, 'keys.enc');
  if (aesKeyBits(keys.mac, 'keys.mac') !== bits || aesKeyBits(keys.dek, 'keys.dek') !== bits) throw invalid('keys', 'expected K-ENC, K-MAC and K-DEK of the same length');
  if (!Number.isInteger(keys.kvn) || keys.kvn < 1 || keys.kvn > 0xff) throw invalid('keys.kvn', `expected a key version number 01..FF, got ${keys.kvn}`);
}

function scpAuth(message: string): JukiError {
  return new JukiError('JUKI_ERR_SCP_AUTHENTICATION', message);
}

function scpState(message: string): JukiError {
  return new JukiError('JUKI_ERR_SCP_STATE', message);
}

function hex(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
