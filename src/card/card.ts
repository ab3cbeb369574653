/**
 * The card: an ISO/IEC 7816-4 APDU engine over the sealed image (R2.1). Every check (PIN,
 * access conditions, mutual authentication, isolation) happens here or in the handlers it
 * calls; hosts only ever exchange bytes through CardDevice.
 *
 * One command's path: parse (§5.1) → class checks (§5.4.1) → GET RESPONSE / SCP03 unwrap →
 * SELECT by AID, GET CHALLENGE, or the selected application (ISD or an area) → SCP03 wrap →
 * 61xx chaining (§5.3.4). Any unexpected fault answers 6F00 and drops transient state.
 */
import type { SecurityView } from './access.ts';
import { CommandApdu } from './apdu.ts';
import { freshSelection, type AppContext, type ApplicationType, type Reply, type SelectionState } from './application.ts';
import { COMMON_COMMANDS } from './commands.ts';
import type { CardDevice } from './device.ts';
import type { AppRecord, CardImage, KeySetRecord } from './image.ts';
import { findApp, ISD_AID, isdOffers, processIsd, type PersoSession } from './issuer-domain.ts';
import { closeChannel, externalAuthenticate, initializeUpdate, type KeySetOffer } from './security-domain.ts';
import type { CardStore } from './storage.ts';
import { IsoError, SW, isSuccessOrWarning } from './sw.ts';
import { tlv, concat } from './tlv.ts';
import { PreparedStaticKeys, secureRandom } from '../crypto/index.ts';
import { JukiError, toHex } from '../util/index.ts';

/**
 * ATR (ISO 7816-3 §8.2): 3B (direct convention), T0 = 87 (TD1 follows, 7 historical bytes),
 * TD1 = 01 (T=1 only: vpcd reports T=1, reference/secure-channel.md §4.3), historical bytes
 * 80 (compact-TLV follows) 65 "JUKI1" (tag 6 pre-issuing data, 5 bytes), TCK.
 */
export const ATR: Uint8Array = (() => {
  const body = [0x87, 0x01, 0x80, 0x65, 0x4a, 0x55, 0x4b, 0x49, 0x31];
  return Uint8Array.of(0x3b, ...body, body.reduce((a, b) => a ^ b, 0));
})();

export interface CardOptions {
  readonly store: CardStore;
  /** The application modules this card carries (its "ROM"). */
  readonly types: readonly ApplicationType[];
  /** Random source (GET CHALLENGE, card challenges, generated keys). */
  readonly random?: (n: number) => Uint8Array;
}

type Selected = { readonly kind: 'isd' } | { readonly kind: 'app'; readonly record: AppRecord; readonly type: ApplicationType };

/** ISO INS that need the interindustry class; GP INS that need the proprietary class (GP 2.3 §11.1.4). */
const ISO_INS = new Set([0xa4, 0xb0, 0xd6, 0x20, 0x24, 0x2c, 0x84, 0xc0]);
const GP_INS = new Set([0x50, 0x82, 0xe6, 0xe2, 0xe4, 0xd8, 0xf0, 0xf2]);

/** A software chip implementing CardDevice. Build with `new Card({ store, types })`, then powerOn(). */
export class Card implements CardDevice {
  readonly #store: CardStore;
  readonly #types: ReadonlyMap<string, ApplicationType>;
  readonly #random: (n: number) => Uint8Array;
  #image: CardImage | undefined;
  #powered = false;
  // transient state (RAM): cleared on power off / on / reset
  #sel: Selected = { kind: 'isd' };
  #state: SelectionState = freshSelection();
  #pending: Uint8Array | null = null;
  #perso: PersoSession | null = null;
  /**
   * Key sets prepared for INITIALIZE UPDATE (their CMAC contexts), by record: RAM only, like
   * a chip's key-schedule cache. Dropped (and wiped) at power off and whenever the issuer
   * domain may have changed keys; a record's key bytes are never changed in place while it
   * is on offer (PUT KEY and personalisation put new records, DELETE removes them).
   */
  readonly #prepared = new Map<KeySetRecord, PreparedStaticKeys>();

  constructor(o: CardOptions) {
    this.#store = o.store;
    this.#types = new Map(o.types.map((t) => [toHex(t.module), t]));
    this.#random = o.random ?? secureRandom;
  }

  get atr(): Uint8Array {
    return ATR.slice();
  }
  get powered(): boolean {
    return this.#powered;
  }
  /** The card id (serial hex), for hosts that manage many cards. */
  get cardId(): string {
    return this.#store.cardId;
  }

  /** Apply power: reload the image from storage (verifying its seal and generation) and clear RAM. */
  powerOn(): Uint8Array {
    this.#clearTransient();
    this.#image = undefined;
    this.#powered = false;
    const image = this.#store.load(); // throws JUKI_ERR_CARD_TAMPERED on a bad image
    if (!image) throw new JukiError('JUKI_ERR_NOT_FOUND', `card ${this.#store.cardId}: no card image in storage`);
    this.#image = image;
    this.#powered = true;
    return this.atr;
  }

  powerOff(): void {
    this.#clearTransient();
    this.#powered = false;
  }

  reset(): Uint8Array {
    this.powerOff();
    return this.powerOn();
  }

  #clearTransient(): void {
    closeChannel(this.#state);
    this.#forgetKeys();
    this.#sel = { kind: 'isd' }; // GP 2.3 §6.6.1: the ISD is implicitly selected after reset
    this.#state = freshSelection();
    this.#pending = null;
    this.#perso = null;
  }

  /** One C-APDU in, one R-APDU out. Never throws for bad bytes; throws JUKI_ERR_CARD_UNPOWERED when unpowered. */
  transmit(command: Uint8Array): Uint8Array {
    if (!this.#powered || !this.#image) throw new JukiError('JUKI_ERR_CARD_UNPOWERED', 'the card is not powered');
    let reply: Reply;
    let limit = 256;
    try {
      const r = this.#process(command);
      reply = r.reply;
      limit = r.limit;
    } catch (e) {
      reply = { sw: e instanceof IsoError ? e.sw : this.#fault(e) };
    }
    return this.#respond(reply, limit);
  }

  /** An unexpected fault: forget RAM state; if storage failed, power down (the next power-on reloads the last committed image). */
  #fault(e: unknown): number {
    this.#clearTransient();
    if (e instanceof StorageFault) {
      this.#powered = false;
      this.#image = undefined;
      return SW.MEMORY_FAILURE;
    }
    if (this.#store.durable) {
      // RAM may hold a half-made change; the store holds the last committed state.
      try {
        this.#image = this.#store.load();
      } catch {
        this.#powered = false;
        this.#image = undefined;
      }
    }
    return SW.UNKNOWN;
  }

  #prepare = (set: KeySetRecord): PreparedStaticKeys => {
    let p = this.#prepared.get(set);
    if (!p) {
      p = new PreparedStaticKeys(set);
      this.#prepared.set(set, p);
    }
    return p;
  };

  #forgetKeys(): void {
    for (const p of this.#prepared.values()) p.dispose();
    this.#prepared.clear();
  }

  #persist = (): void => {
    try {
      this.#store.save(this.#image!);
    } catch (e) {
      throw new StorageFault(e);
    }
  };

  /** One PIN's retry counter, alone: one atomic write where the store keeps counters apart (R2.2.1e). */
  #persistPin = (record: AppRecord, ref: number): void => {
    const store = this.#store;
    try {
      if (store.saveRetryCounter) store.saveRetryCounter(this.#image!, record, ref);
      else store.save(this.#image!);
    } catch (e) {
      throw new StorageFault(e);
    }
  };

  #respond(reply: Reply, limit: number): Uint8Array {
    let data = isSuccessOrWarning(reply.sw) ? (reply.data ?? EMPTY) : EMPTY;
    let sw = reply.sw;
    if (data.length > limit) {
      // ISO 7816-4 §5.3.4: more than Ne bytes: send Ne, announce the rest with 61xx, keep it for GET RESPONSE.
      this.#pending = data.subarray(limit);
      data = data.subarray(0, limit);
      sw = 0x6100 | (this.#pending.length > 255 ? 0 : this.#pending.length);
    }
    const out = new Uint8Array(data.length + 2);
    out.set(data);
    out[data.length] = sw >> 8;
    out[data.length + 1] = sw & 0xff;
    return out;
  }

  #process(bytes: Uint8Array): { reply: Reply; limit: number } {
    let cmd = CommandApdu.parse(bytes);
    const cla = cmd.cla;
    // ISO 7816-4 §5.4.1 class byte: 0x0X first interindustry, 0x4X-0x7X further (channels 4-19), 0x8X proprietary with the same coding (GP)
    if (cla === 0xff || (cla >= 0x20 && cla < 0x40) || cla >= 0x90) return { reply: { sw: SW.CLA_NOT_SUPPORTED }, limit: 0 };
    if (cla >= 0x40 && cla < 0x80) return { reply: { sw: SW.CHANNEL_NOT_SUPPORTED }, limit: 0 };
    if (cla & 0x10) return { reply: { sw: SW.CHAINING_NOT_SUPPORTED }, limit: 0 };
    if (cla & 0x03) return { reply: { sw: SW.CHANNEL_NOT_SUPPORTED }, limit: 0 };
    if ((cla & 0x0c) === 0x08 || (cla & 0x0c) === 0x0c) return { reply: { sw: SW.SM_NOT_SUPPORTED }, limit: 0 }; // ISO SM formats: this card speaks GP SCP03 (b3)
    const proprietary = (cla & 0x80) !== 0;
    if ((proprietary && ISO_INS.has(cmd.ins)) || (!proprietary && GP_INS.has(cmd.ins))) return { reply: { sw: SW.CLA_NOT_SUPPORTED }, limit: 0 };

    if (cmd.ins === 0xc0) return this.#getResponse(cmd);
    this.#pending = null;

    const sm = (cla & 0x04) !== 0;
    let secured = false;
    const channel = this.#state.channel;
    if (sm && cmd.ins !== 0x82) {
      if (!channel || !channel.isOpen) {
        closeChannel(this.#state);
        return { reply: { sw: SW.SECURITY_NOT_SATISFIED }, limit: 0 };
      }
      const u = channel.unwrapCommand(cmd.ne === undefined ? { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: cmd.data } : { cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: cmd.data, le: cmd.ne });
      if ('sw' in u) {
        closeChannel(this.#state); // reference/secure-channel.md §1.10: a MAC failure tears the channel down
        return { reply: { sw: u.sw }, limit: 0 };
      }
      cmd = CommandApdu.of({ cla: u.cla, ins: u.ins, p1: u.p1, p2: u.p2, data: u.data, ...(u.le === undefined ? {} : { ne: u.le === 0 ? 256 : u.le }) });
      secured = true;
    }
    const limit = Math.max(cmd.ne ?? (cmd.extended ? 65536 : 256), sm ? 256 : 0);
    let reply: Reply;
    try {
      reply = this.#dispatch(cmd, secured);
    } catch (e) {
      if (!(e instanceof IsoError)) throw e;
      reply = { sw: e.sw };
    }
    if (secured && channel && channel === this.#state.channel && channel.isOpen) {
      // GP Amd D §6.2.5/§6.2.7: R-ENC then R-MAC over the response to a secured command
      const data = isSuccessOrWarning(reply.sw) ? (reply.data ?? EMPTY) : EMPTY;
      reply = { data: channel.wrapResponse(data, reply.sw), sw: reply.sw };
    }
    return { reply, limit };
  }

  /** GET RESPONSE (ISO 7816-4 §11.4.1): 00 C0 00 00 Le → the next part of a long answer, 61xx if more remains. */
  #getResponse(cmd: CommandApdu): { reply: Reply; limit: number } {
    const pending = this.#pending;
    this.#pending = null;
    if (cmd.cla & 0x0c) return { reply: { sw: SW.SM_NOT_SUPPORTED }, limit: 0 };
    if (cmd.p1 !== 0 || cmd.p2 !== 0) return { reply: { sw: SW.INCORRECT_P1P2 }, limit: 0 };
    if (!pending) return { reply: { sw: SW.CONDITIONS_NOT_SATISFIED }, limit: 0 };
    if (cmd.data.length) return { reply: { sw: SW.WRONG_LENGTH }, limit: 0 };
    return { reply: { data: pending, sw: SW.OK }, limit: cmd.ne ?? 256 };
  }

  #view(secured: boolean): SecurityView {
    const s = this.#state;
    return { verified: s.verified, owner: s.owner, secured, level: s.channel?.isOpen ? s.channel.level : 0 };
  }

  #dispatch(cmd: CommandApdu, secured: boolean): Reply {
    if (cmd.ins === 0xa4 && cmd.p1 === 0x04) return this.#selectApplication(cmd);
    if (cmd.ins === 0x84) return this.#getChallenge(cmd);
    const sel = this.#sel;
    const image = this.#image!;
    if (sel.kind === 'isd') {
      const self = this;
      const ctx = {
        image,
        state: this.#state,
        view: this.#view(secured),
        types: this.#types,
        get perso() {
          return self.#perso;
        },
        set perso(p: PersoSession | null) {
          self.#perso = p;
        },
        persist: this.#persist,
        prepared: this.#prepare,
      };
      // Content and key management may replace or wipe key sets: forget the prepared ones.
      if (cmd.ins !== 0x50 && cmd.ins !== 0x82 && cmd.ins !== 0xca && cmd.ins !== 0xf2) this.#forgetKeys();
      return processIsd(cmd, ctx, image.serial, this.#random);
    }
    return this.#processApp(cmd, sel.record, sel.type, secured);
  }

  #processApp(cmd: CommandApdu, record: AppRecord, type: ApplicationType, secured: boolean): Reply {
    const image = this.#image!;
    const state = this.#state;
    // The card and the application must be in use (GP lifecycle): nothing but SELECT works before personalisation.
    if (image.lifecycle === 'blank' || record.lifecycle !== 'personalised') return { sw: SW.CONDITIONS_NOT_SATISFIED };
    // R2.2.1a: while a required PIN is unset, only setting it (and selecting EFs, which reveals nothing) is allowed.
    for (const ref of type.pinsRequiredFirst) {
      if (record.pins[ref]?.sealed != null) continue;
      const settingIt = cmd.ins === 0x24 && cmd.p1 === 0x01 && ((cmd.p2 & 0x1f) === ref || (cmd.p2 === 0x80 && state.currentEf?.kind === 'pin' && state.currentEf.policy.ref === ref));
      if (!settingIt && cmd.ins !== 0xa4 && cmd.ins !== 0x20) return { sw: SW.CONDITIONS_NOT_SATISFIED };
    }
    if (cmd.ins === 0x50) return initializeUpdate(cmd, this.#offers(record, type), image.serial, state, this.#persist, this.#prepare);
    if (cmd.ins === 0x82) return { sw: externalAuthenticate(cmd, state) };
    const handler = type.commands?.get(cmd.ins) ?? COMMON_COMMANDS.get(cmd.ins);
    if (!handler) return { sw: SW.INS_NOT_SUPPORTED };
    // A domain's own PUT KEY (the JPKI area's) replaces a key set: forget the prepared ones, as for the ISD's.
    if (cmd.ins === 0xd8) this.#forgetKeys();
    return handler(cmd, new AppCtx(record, type, image, state, this.#view(secured), this.#persist, this.#persistPin, this.#random));
  }

  /** The key sets INITIALIZE UPDATE may use while this application is selected: its own, then (if it accepts them) the issuer's. */
  #offers(record: AppRecord, type: ApplicationType): KeySetOffer[] {
    const own = record.sd.keys.map((set) => ({ set, owner: 'app' as const, pseudoRandom: false, sdAid: record.aid }));
    return type.acceptsIssuerChannel ? [...own, ...isdOffers(this.#image!)] : own;
  }

  /**
   * SELECT by DF name (ISO 7816-4 §11.1.1, P1 = 04), exact AID match only.
   *   C: 00 A4 04 0C 0A D3 92 F0 00 4A 55 4B 49 00 01   R: 90 00 | 6A 82 (no such application: never 90 00)
   *   C: 00 A4 04 00 08 A0 00 00 01 51 00 00 00 00      R: 6F { 84 <AID> A5 { 9F65 01 FF } } 90 00
   * A successful SELECT clears the previous application's security state (R2.2.6); a failed one changes nothing.
   */
  #selectApplication(cmd: CommandApdu): Reply {
    if (cmd.p2 !== 0x00 && cmd.p2 !== 0x04 && cmd.p2 !== 0x0c) throw new IsoError(SW.INCORRECT_P1P2);
    const image = this.#image!;
    const aid = cmd.data;
    let next: Selected;
    if (aid.length === ISD_AID.length && aid.every((b, i) => b === ISD_AID[i])) next = { kind: 'isd' };
    else {
      const record = aid.length >= 5 ? findApp(image, aid) : undefined;
      const type = record && this.#types.get(toHex(record.module));
      if (!record || !type) throw new IsoError(SW.FILE_NOT_FOUND);
      if (image.lifecycle === 'terminated') throw new IsoError(SW.FUNCTION_NOT_SUPPORTED);
      next = { kind: 'app', record, type };
    }
    closeChannel(this.#state);
    this.#state = freshSelection();
    this.#perso = null;
    this.#sel = next;
    if (cmd.p2 === 0x0c) return { sw: SW.OK };
    const selAid = next.kind === 'isd' ? ISD_AID : next.record.aid;
    // FCI (ISO 7816-4 §5.3.3 / GP 2.3 §11.9.3.1): DF name and the maximum command data length.
    return { data: tlv(0x6f, concat(tlv(0x84, selAid), tlv(0xa5, tlv(0x9f65, Uint8Array.of(0xff))))), sw: SW.OK };
  }

  /** GET CHALLENGE (ISO 7816-4 §11.5.3): 00 84 00 00 08 → 8 random bytes 90 00. */
  #getChallenge(cmd: CommandApdu): Reply {
    if (cmd.p1 !== 0 || cmd.p2 !== 0) throw new IsoError(SW.INCORRECT_P1P2);
    if (cmd.data.length || cmd.ne === undefined || cmd.ne > 256) throw new IsoError(SW.WRONG_LENGTH);
    return { data: this.#random(cmd.ne), sw: SW.OK };
  }
}

const EMPTY = new Uint8Array(0);

/** What a handler sees (a class, not a literal with closures: one is made per command). */
class AppCtx implements AppContext {
  readonly serial: Uint8Array;
  readonly cardLifecycle: CardImage['lifecycle'];
  readonly pinKey: Uint8Array;
  readonly #image: CardImage; // private: a handler reaches its own record only (R2.2.6)
  readonly #persistPin: (record: AppRecord, ref: number) => void;
  constructor(
    readonly record: AppRecord,
    readonly type: ApplicationType,
    image: CardImage,
    readonly state: SelectionState,
    readonly view: SecurityView,
    readonly persist: () => void,
    persistPin: (record: AppRecord, ref: number) => void,
    readonly random: (n: number) => Uint8Array,
  ) {
    this.#persistPin = persistPin;
    this.#image = image;
    this.serial = image.serial;
    this.cardLifecycle = image.lifecycle;
    this.pinKey = image.pinKey;
  }
  persistPin(ref: number): void {
    this.#persistPin(this.record, ref);
  }
  cardActivated(): void {
    if (this.type.activatesCard && this.#image.lifecycle === 'personalised') this.#image.lifecycle = 'active';
  }
}

/** A persistent write that did not complete (power cut, disk error). */
export class StorageFault extends Error {
  override readonly name = 'StorageFault';
  constructor(override readonly cause: unknown) {
    super('card storage write failed');
  }
}
