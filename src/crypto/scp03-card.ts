/**
 * SCP03, card side (GP Card Specification v2.3 Amendment D): a pure, synchronous protocol
 * object. The card engine feeds it INITIALIZE UPDATE, EXTERNAL AUTHENTICATE and every
 * command that arrives while the channel is open, and passes every response through
 * wrapResponse. It does no I/O: in pseudo-random mode the engine must persist
 * `sequenceCounter` after each INITIALIZE UPDATE, before sending the response.
 */
import { equalBytes, padMethod2, unpadMethod2, wipe } from './bytes.ts';
import { secureRandom } from './random.ts';
import {
  cardCryptogram, disposeSessionKeys, hostCryptogram, MAX_SEQUENCE_COUNTER, PreparedStaticKeys, prepareSessionKeys, pseudoRandomCardChallenge,
  type PreparedSessionKeys,
} from './scp03-kdf.ts';
import {
  CLA_SM, claSupported, cmacInput, commandIcv, type CommandFields, encodeInitializeUpdateResponse, I_PARAM, INS_EXTERNAL_AUTHENTICATE,
  INS_INITIALIZE_UPDATE, isSecurityLevel, LEVEL, levelSupported, responseIcv, S8, SCP03_ID, type SecurityLevel, swCarriesRmac,
} from './scp03-wire.ts';
import { invalid } from '../util/index.ts';

/** A static SCP03 key set: K-ENC, K-MAC, K-DEK (same AES length) and its key version number. */
export interface Scp03StaticKeys {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  readonly dek: Uint8Array;
  readonly kvn: number;
}

/** How the card makes its challenge (GP Amd D §6.2.2.1). */
export type CardChallengeSource =
  | { readonly mode: 'random'; readonly random?: (n: number) => Uint8Array }
  | {
    readonly mode: 'pseudo-random';
    /** The counter value the card last used and persisted (0 for a fresh key set). */
    readonly sequenceCounter: number;
    /** The invoking application's AID (the security domain answering INITIALIZE UPDATE). */
    readonly context: Uint8Array;
  };

export interface Scp03CardOptions {
  /** The static keys, raw or prepared once (a card re-uses one PreparedStaticKeys for every session on a key set). */
  readonly keys: Scp03StaticKeys | PreparedStaticKeys;
  /** Key diversification data returned in INITIALIZE UPDATE: 10 bytes (juki: the card serial). */
  readonly diversificationData: Uint8Array;
  /** The i parameter (Table 5-1). Default 70 in pseudo-random mode, 60 in random mode (R-MAC and R-ENC supported). */
  readonly i?: number;
  readonly challenge: CardChallengeSource;
}

/** A status-word-only answer. */
export interface SwOnly {
  readonly sw: number;
}

/** ISO 7816-4 / GP status words the channel answers with. */
export const SCP_SW = {
  ok: 0x9000,
  authenticationFailed: 0x6300,
  wrongLength: 0x6700,
  securityStatusNotSatisfied: 0x6982,
  conditionsNotSatisfied: 0x6985,
  incorrectSmDataObjects: 0x6988,
  incorrectP1P2: 0x6a86,
  referencedDataNotFound: 0x6a88,
  insNotSupported: 0x6d00,
  claNotSupported: 0x6e00,
} as const;

type State = 'idle' | 'initialized' | 'open';

/** SCP03 card side: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, command unwrapping, response wrapping. */
export class Scp03CardChannel {
  readonly #keys: PreparedStaticKeys;
  readonly #divData: Uint8Array;
  readonly #i: number;
  readonly #random: ((n: number) => Uint8Array) | undefined;
  readonly #context: Uint8Array | undefined;
  #sequenceCounter: number;
  #state: State = 'idle';
  #level: SecurityLevel = 0;
  #session: PreparedSessionKeys | undefined;
  #hostChallenge: Uint8Array | undefined;
  #cardChallenge: Uint8Array | undefined;
  #mcv: Uint8Array = new Uint8Array(16);
  #counter = 0;

  constructor(options: Scp03CardOptions) {
    const { keys, diversificationData, challenge } = options;
    if (diversificationData.length !== 10) throw invalid('diversificationData', `expected 10 bytes, got ${diversificationData.length}`);
    const pseudo = challenge.mode === 'pseudo-random';
    const i = options.i ?? (pseudo ? 0x70 : 0x60);
    if (!Number.isInteger(i) || i < 0 || i > 0xff) throw invalid('i', `expected a byte, got ${i}`);
    if (i & I_PARAM.s16) throw invalid('i', 'S16 mode (i b1) is not implemented; use S8');
    if (Boolean(i & I_PARAM.pseudoRandom) !== pseudo) {
      throw invalid('i', `i ${hex2(i)} ${pseudo ? 'lacks' : 'has'} b5 (pseudo-random card challenge) but the challenge mode is ${challenge.mode}`);
    }
    this.#keys = keys instanceof PreparedStaticKeys ? keys : new PreparedStaticKeys(keys);
    this.#divData = diversificationData.slice();
    this.#i = i;
    if (challenge.mode === 'pseudo-random') {
      const c = challenge.sequenceCounter;
      if (!Number.isInteger(c) || c < 0 || c > MAX_SEQUENCE_COUNTER) throw invalid('sequenceCounter', `expected 0..${MAX_SEQUENCE_COUNTER}, got ${c}`);
      if (challenge.context.length < 5 || challenge.context.length > 16) throw invalid('context', `expected an AID of 5 to 16 bytes, got ${challenge.context.length}`);
      this.#sequenceCounter = c;
      this.#context = challenge.context.slice();
      this.#random = undefined;
    } else {
      this.#sequenceCounter = 0;
      this.#context = undefined;
      this.#random = challenge.random ?? secureRandom;
    }
  }

  /** Whether EXTERNAL AUTHENTICATE succeeded and the session is open. */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** The session's security level (meaningful while open). */
  get level(): SecurityLevel {
    return this.#level;
  }

  /** The i parameter this card announces. */
  get i(): number {
    return this.#i;
  }

  /**
   * Pseudo-random mode: the sequence counter the card must persist. It advances on every
   * successful INITIALIZE UPDATE (so no challenge is ever issued twice); store it durably
   * before the response leaves the card. Always 0 in random mode.
   */
  get sequenceCounter(): number {
    return this.#sequenceCounter;
  }

  /**
   * INITIALIZE UPDATE (GP Amd D §7.1). Any open session is closed first.
   *   C: 80 50 KVN 00 08 <host challenge 8> 00
   *   R: <div data 10> KVN 03 i <card challenge 8> <card cryptogram 8> [<sequence counter 3>] 90 00
   *      | 67 00 | 6A 86 | 6A 88 (no such key version) | 69 85 (sequence counter exhausted)
   */
  initializeUpdate(cmd: CommandFields): { data: Uint8Array; sw: number } {
    this.close();
    const fail = (sw: number) => ({ data: new Uint8Array(0), sw });
    if (cmd.ins !== INS_INITIALIZE_UPDATE) return fail(SCP_SW.insNotSupported);
    if (cmd.cla & CLA_SM) return fail(SCP_SW.claNotSupported);
    if (cmd.p2 !== 0x00) return fail(SCP_SW.incorrectP1P2);
    // §7.1.1: P1 = 00 means the first available key set.
    if (cmd.p1 !== 0x00 && cmd.p1 !== this.#keys.kvn) return fail(SCP_SW.referencedDataNotFound);
    if (cmd.data.length !== S8) return fail(SCP_SW.wrongLength);

    let cardChallenge: Uint8Array;
    let sequenceCounter: number | undefined;
    if (this.#context) {
      // §6.2.2.1: the counter is incremented for each challenge; refuse once it is exhausted.
      if (this.#sequenceCounter >= MAX_SEQUENCE_COUNTER) return fail(SCP_SW.conditionsNotSatisfied);
      sequenceCounter = this.#sequenceCounter + 1;
      cardChallenge = pseudoRandomCardChallenge(this.#keys.enc, sequenceCounter, this.#context);
      this.#sequenceCounter = sequenceCounter;
    } else {
      cardChallenge = this.#random!(S8);
      if (cardChallenge.length !== S8) throw invalid('random', `expected ${S8} bytes, got ${cardChallenge.length}`);
    }
    const hostChallenge = cmd.data.slice();
    const session = prepareSessionKeys(this.#keys, hostChallenge, cardChallenge, true);
    const cryptogram = cardCryptogram(session.sMac, hostChallenge, cardChallenge);
    this.#session = session;
    this.#hostChallenge = hostChallenge;
    this.#cardChallenge = cardChallenge;
    this.#state = 'initialized';
    const data = encodeInitializeUpdateResponse({
      diversificationData: this.#divData,
      kvn: this.#keys.kvn,
      scpId: SCP03_ID,
      i: this.#i,
      cardChallenge,
      cardCryptogram: cryptogram,
      ...(sequenceCounter === undefined ? {} : { sequenceCounter }),
    });
    return { data, sw: SCP_SW.ok };
  }

  /**
   * EXTERNAL AUTHENTICATE (GP Amd D §7.2), only right after INITIALIZE UPDATE.
   *   C: 84 82 <level> 00 10 <host cryptogram 8> <C-MAC 8>
   *   R: 90 00 | 63 00 (wrong host cryptogram) | 69 82 (wrong C-MAC) | 69 85 (no INITIALIZE UPDATE)
   *      | 6A 86 (level not allowed) | 67 00
   * Every refusal closes the channel.
   */
  externalAuthenticate(cmd: CommandFields): SwOnly {
    if (this.#state !== 'initialized') {
      this.close();
      return { sw: SCP_SW.conditionsNotSatisfied };
    }
    const session = this.#session!;
    if (cmd.ins !== INS_EXTERNAL_AUTHENTICATE) return this.#refuse(SCP_SW.insNotSupported);
    // §7.2: EXTERNAL AUTHENTICATE is always C-MACed, so the SM bit must be set.
    if (!(cmd.cla & CLA_SM) || !claSupported(cmd.cla)) return this.#refuse(SCP_SW.claNotSupported);
    if (cmd.data.length !== 2 * S8) return this.#refuse(SCP_SW.wrongLength);
    const received = cmd.data.subarray(0, S8);
    // §6.2.2.3: the card checks the host cryptogram; wrong → 63 00 (GP CS §11.8.3 status words).
    const expected = hostCryptogram(session.sMac, this.#hostChallenge!, this.#cardChallenge!);
    if (!equalBytes(expected, received)) return this.#refuse(SCP_SW.authenticationFailed);
    // §6.2.3–§6.2.4: the C-MAC of EXTERNAL AUTHENTICATE chains from MCV = 16 × 00.
    const mac = session.sMac.mac(cmacInput(new Uint8Array(16), cmd.cla, cmd.ins, cmd.p1, cmd.p2, received));
    if (!equalBytes(mac.subarray(0, S8), cmd.data.subarray(S8))) return this.#refuse(SCP_SW.securityStatusNotSatisfied);
    if (cmd.p2 !== 0x00 || !isSecurityLevel(cmd.p1) || !levelSupported(this.#i, cmd.p1)) return this.#refuse(SCP_SW.incorrectP1P2);
    this.#level = cmd.p1;
    this.#mcv = mac;
    // §6.2.6: the encryption counter starts at 1 for the first command after EXTERNAL AUTHENTICATE.
    this.#counter = 0;
    this.#state = 'open';
    return { sw: SCP_SW.ok };
  }

  /**
   * Check and strip the protection of a command received in the open session: verify the
   * C-MAC (§6.2.4), decrypt the data (§6.2.6). Returns the plain command (CLA without the SM
   * bit), or a status word after closing the channel: 69 82 for a missing or wrong C-MAC
   * (or no open session), 69 88 for malformed protected data, 6E 00 for a class SCP03
   * cannot protect.
   */
  unwrapCommand(cmd: CommandFields): CommandFields | SwOnly {
    if (this.#state !== 'open') {
      this.close();
      return { sw: SCP_SW.securityStatusNotSatisfied };
    }
    const session = this.#session!;
    // §6.2.6: the counter advances for every command, with or without data.
    this.#counter++;
    if (!claSupported(cmd.cla)) return this.#refuse(SCP_SW.claNotSupported);
    if (!(this.#level & LEVEL.cMac)) {
      // Level 00: authenticated, no secure messaging; a command claiming SM is refused.
      if (cmd.cla & CLA_SM) return this.#refuse(SCP_SW.incorrectSmDataObjects);
      return { ...cmd, data: cmd.data.slice() };
    }
    // §6.2.4: at C-MAC level every command must carry the SM indication and a C-MAC.
    if (!(cmd.cla & CLA_SM)) return this.#refuse(SCP_SW.securityStatusNotSatisfied);
    if (cmd.data.length < S8) return this.#refuse(SCP_SW.incorrectSmDataObjects);
    const body = cmd.data.subarray(0, cmd.data.length - S8);
    const mac = session.sMac.mac(cmacInput(this.#mcv, cmd.cla, cmd.ins, cmd.p1, cmd.p2, body));
    if (!equalBytes(mac.subarray(0, S8), cmd.data.subarray(cmd.data.length - S8))) return this.#refuse(SCP_SW.securityStatusNotSatisfied);
    // §6.2.3: the full 16-byte C-MAC is the next MAC chaining value (and the R-MAC's).
    this.#mcv = mac;
    let data: Uint8Array = body.slice();
    if (this.#level & LEVEL.cDecryption && body.length > 0) {
      // §6.2.6: AES-CBC under S-ENC, ICV = AES(S-ENC, counter block), ISO 9797-1 method 2 padding.
      if (body.length % 16 !== 0) return this.#refuse(SCP_SW.incorrectSmDataObjects);
      const icv = commandIcv(session.sEnc, this.#counter);
      const plain = session.sEnc.cbcDecrypt(icv, body);
      const unpadded = unpadMethod2(plain);
      wipe(plain);
      if (!unpadded) return this.#refuse(SCP_SW.incorrectSmDataObjects);
      data = unpadded;
    }
    const out: CommandFields = { cla: cmd.cla & ~CLA_SM, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data };
    if (cmd.le !== undefined) out.le = cmd.le;
    return out;
  }

  /**
   * Protect a response to the last unwrapped command (§6.2.5, §6.2.7): returns the new
   * response data; the engine appends SW1 SW2. With R-ENC the data is padded and encrypted
   * (ICV from the command's counter with first byte 80); with R-MAC, AES-CMAC(S-RMAC,
   * MCV ‖ data ‖ SW)[0..8] is appended. Error status words go back bare (no data) when
   * R-MAC is on. Outside an open session the data is returned unchanged.
   */
  wrapResponse(data: Uint8Array, sw: number): Uint8Array {
    if (this.#state !== 'open' || !(this.#level & LEVEL.rMac)) return data;
    if (!swCarriesRmac(sw)) return new Uint8Array(0);
    const session = this.#session!;
    let body = data;
    if (this.#level & LEVEL.rEncryption && data.length > 0) {
      const padded = padMethod2(data);
      body = session.sEnc.cbcEncrypt(responseIcv(session.sEnc, this.#counter), padded);
      wipe(padded);
    }
    const rmac = session.sRmac.mac(this.#mcv, body, Uint8Array.of(sw >> 8, sw & 0xff));
    const out = new Uint8Array(body.length + S8);
    out.set(body);
    out.set(rmac.subarray(0, S8), body.length);
    return out;
  }

  /** Close the channel and answer `sw` (every refusal tears the session down). */
  #refuse(sw: number): SwOnly {
    this.close();
    return { sw };
  }

  /** Close the session and wipe its keys, MAC chaining value and counter (§1.10 of the reference: teardown). */
  close(): void {
    disposeSessionKeys(this.#session);
    wipe(this.#mcv, this.#hostChallenge, this.#cardChallenge);
    this.#session = undefined;
    this.#hostChallenge = undefined;
    this.#cardChallenge = undefined;
    this.#mcv = new Uint8Array(16);
    this.#counter = 0;
    this.#level = 0;
    this.#state = 'idle';
  }
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
