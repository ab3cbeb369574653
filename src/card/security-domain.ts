/**
 * Security domains (GP 2.3 §7): the holders of SCP03 key sets. Each application is
 * associated with its own security domain; while it is selected, INITIALIZE UPDATE and
 * EXTERNAL AUTHENTICATE go to that domain (GP §10.2, the application's secure-channel
 * interface), so the application's selection, and a PIN verified after it, survive the
 * opening of a channel relayed from the remote key holder (ARCHITECTURE.md, "The PIN path").
 */
import { Scp03CardChannel, type PreparedStaticKeys } from '../crypto/index.ts';
import type { ChannelOwner } from './access.ts';
import type { CommandApdu } from './apdu.ts';
import type { KeySetRecord } from './image.ts';
import { IsoError, SW } from './sw.ts';

/** A key set a domain can answer INITIALIZE UPDATE with, and whose keys a channel on it would be. */
export interface KeySetOffer {
  readonly set: KeySetRecord;
  readonly owner: Exclude<ChannelOwner, 'none'>;
  /** Pseudo-random card challenge (GP Amd D §6.2.2.1, for pre-computed scripts) or random. */
  readonly pseudoRandom: boolean;
  /** The invoking security domain's AID (the pseudo-random challenge's context). */
  readonly sdAid: Uint8Array;
}

/** The transient secure-channel state of the selected application. */
export interface ChannelState {
  channel: Scp03CardChannel | null;
  owner: ChannelOwner;
  /** The key set the channel was opened with (PUT KEY decrypts with its DEK). */
  keyset: KeySetRecord | null;
}

/** A closed channel state. */
export function noChannel(): ChannelState {
  return { channel: null, owner: 'none', keyset: null };
}

/** Tear down (wipe session keys, MCV, counter: reference/secure-channel.md §1.10). */
export function closeChannel(s: ChannelState): void {
  s.channel?.close();
  s.channel = null;
  s.owner = 'none';
  s.keyset = null;
}

function toFields(cmd: CommandApdu) {
  return cmd.ne === undefined
    ? { cla: cmd.cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: cmd.data }
    : { cla: cmd.cla, ins: cmd.ins, p1: cmd.p1, p2: cmd.p2, data: cmd.data, le: cmd.ne };
}

/**
 * INITIALIZE UPDATE (GP Amd D §7.1), answered by the selected application's domain.
 *   C: 80 50 KVN 00 08 <host challenge 8> [00]
 *   R: <serial 10> KVN 03 i <card challenge 8> <card cryptogram 8> [<sequence 3>] 90 00
 *      | 6A 88 (no key set with this KVN here) | 67 00 | 6A 86
 * P1 = 00 takes the first offered set (the application's own). In pseudo-random mode the
 * advanced sequence counter is persisted before the answer leaves (GP Amd D §6.2.2.1).
 */
export function initializeUpdate(
  cmd: CommandApdu,
  offers: readonly KeySetOffer[],
  serial: Uint8Array,
  state: ChannelState,
  persist: () => void,
  prepared?: (set: KeySetRecord) => PreparedStaticKeys,
): { data: Uint8Array; sw: number } {
  closeChannel(state);
  if (cmd.cla & 0x04) throw new IsoError(SW.CLA_NOT_SUPPORTED);
  if (cmd.p2 !== 0) throw new IsoError(SW.INCORRECT_P1P2);
  const offer = cmd.p1 === 0 ? offers[0] : offers.find((o) => o.set.kvn === cmd.p1);
  if (!offer) throw new IsoError(SW.REF_DATA_NOT_FOUND);
  const { set } = offer;
  const channel = new Scp03CardChannel({
    keys: prepared ? prepared(set) : { enc: set.enc, mac: set.mac, dek: set.dek, kvn: set.kvn },
    diversificationData: serial,
    challenge: offer.pseudoRandom ? { mode: 'pseudo-random', sequenceCounter: set.sequence, context: offer.sdAid } : { mode: 'random' },
  });
  const r = channel.initializeUpdate(toFields(cmd));
  if (r.sw !== SW.OK) return r;
  if (offer.pseudoRandom) {
    set.sequence = channel.sequenceCounter;
    persist();
  }
  state.channel = channel;
  state.owner = offer.owner;
  state.keyset = set;
  return r;
}

/**
 * EXTERNAL AUTHENTICATE (GP Amd D §7.2), right after INITIALIZE UPDATE on the same selection.
 *   C: 84 82 <level> 00 10 <host cryptogram 8> <C-MAC 8>   R: 90 00 | 63 00 | 69 82 | 69 85
 * Any refusal tears the channel down.
 */
export function externalAuthenticate(cmd: CommandApdu, state: ChannelState): number {
  if (!state.channel) throw new IsoError(SW.CONDITIONS_NOT_SATISFIED);
  const r = state.channel.externalAuthenticate(toFields(cmd));
  if (r.sw !== SW.OK) closeChannel(state);
  return r.sw;
}
