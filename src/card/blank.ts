/**
 * Blank cards (R2.2.2): what the card maker delivers. A blank card's issuer security domain
 * holds only transport keys (KVN FF), per card, diversified from the delivery lot's
 * transport master with the card serial (diversifyKeySet(master, serial, 'transport', kvn),
 * src/crypto/diversify.ts); the master itself is never on a card. Nothing can be installed
 * or personalised without opening SCP03 with the card's transport keys, and SET STATUS
 * refuses to leave "blank" until they are replaced (PUT KEY).
 *
 * A card meant to carry a JPKI area also gets, the same way, a per-card JPKI *initial* key set
 * (KVN 4F, family `jpki-initial`) from the JPKI initial master that the jpki side shares with the
 * maker for the lot (R5.1, docs/jpki.md "Who holds the JPKI area's keys"). No command reads it;
 * INSTALL of the JPKI AP binds the area's security domain to it, and the jpki role replaces it
 * with its own set (KVN 50) before anything else, so neither the maker nor the counter can open it after.
 */
import { randomBytes } from 'node:crypto';
import { diversifyKeySet, KEY_DOMAINS, type MasterKeys, type Scp03StaticKeys } from '../crypto/index.ts';
import { JukiError, invalid } from '../util/index.ts';
import type { CardImage } from './image.ts';
import { MAKER_TRANSPORT_KVN } from './issuer-domain.ts';
import type { CardStore } from './storage.ts';
import { basicArea } from './apps/basic.ts';
import { operatorCard } from './apps/operator.ts';
import { ordinanceArea } from './apps/ordinance.ts';
import { jpkiArea, JPKI_SD_INITIAL_KVN } from './apps/jpki.ts';
import type { ApplicationType } from './application.ts';

/** The modules every juki card carries (its ROM): basic area, operator card, ordinance area, JPKI area. */
export const CARD_MODULES: readonly ApplicationType[] = [basicArea, operatorCard, ordinanceArea, jpkiArea];

export interface TransportKeys {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  readonly dek: Uint8Array;
  /** Default FF (the maker's set); 70..7F for a set re-keyed by the municipality. */
  readonly kvn?: number;
}

/**
 * The JPKI initial key set a card able to carry a JPKI area gets from its maker (R5.1): either
 * the JPKI initial master the jpki side shared for the lot (the card gets
 * diversifyKeySet(master, serial, 'jpki-initial', 4F), never the master), or this card's set
 * already diversified (e.g. by `jpkiInitialKeys` on the jpki side). Without one the card
 * refuses to install a JPKI area (INSTALL answers 69 85).
 */
export type JpkiInitialSpec = { readonly master: MasterKeys } | { readonly keys: TransportKeys };

/** A blank card: its serial and either the lot's transport master (the maker's way) or transport keys already diversified for it. */
export type BlankCardSpec = (
  | {
    /** 10-byte card serial (SCP03 diversification data): maker 2 ‖ lot 4 ‖ sequence 4, say. */
    readonly serial: Uint8Array;
    /** The delivery lot's transport master keys: the card gets keys diversified from them with its serial, never the master. */
    readonly transportMaster: MasterKeys;
    /** KVN of the transport key set (default FF, the maker's). */
    readonly kvn?: number;
  }
  | {
    readonly serial: Uint8Array;
    /** This card's transport keys, already diversified by the caller (e.g. diversifyKeySet with the lot master). */
    readonly transportKeys: TransportKeys;
  }
) & {
  /** The JPKI area's initial key set (KVN 4F); absent: the card can carry no JPKI area. */
  readonly jpkiInitial?: JpkiInitialSpec;
};

/** A card's JPKI initial key set as the maker (and the jpki side) computes it: diversifyKeySet(master, serial, 'jpki-initial', 4F). */
export function jpkiInitialKeysOf(master: MasterKeys, serial: Uint8Array): Scp03StaticKeys {
  return diversifyKeySet(master, serial, KEY_DOMAINS.jpkiInitial, JPKI_SD_INITIAL_KVN);
}

/**
 * A card's transport key set as its lot's holder computes it to open SCP03 with the blank card:
 * diversifyKeySet(master, serial, 'transport', kvn). Per card: two cards of a lot never share keys.
 */
export function transportKeysOf(master: MasterKeys, serial: Uint8Array, kvn = MAKER_TRANSPORT_KVN): Scp03StaticKeys {
  return diversifyKeySet(master, serial, KEY_DOMAINS.transport, kvn);
}

/** Build a card serial from a maker code, lot number and sequence: 2 ‖ 4 ‖ 4 bytes, big-endian. */
export function cardSerial(maker: number, lot: number, sequence: number): Uint8Array {
  const b = Buffer.alloc(10);
  b.writeUInt16BE(maker, 0);
  b.writeUInt32BE(lot, 2);
  b.writeUInt32BE(sequence, 6);
  return new Uint8Array(b);
}

/** The image of a blank card: lifecycle blank, transport keys only, no applications, a fresh PIN-sealing secret. */
export function blankCardImage(spec: BlankCardSpec, random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): CardImage {
  const { serial } = spec;
  if (serial.length !== 10) throw invalid('serial', `expected 10 bytes, got ${serial.length}`);
  const t: TransportKeys = 'transportMaster' in spec ? transportKeysOf(spec.transportMaster, serial, spec.kvn ?? MAKER_TRANSPORT_KVN) : spec.transportKeys;
  for (const k of ['enc', 'mac', 'dek'] as const) {
    const n = t[k].length;
    if (n !== 16 && n !== 32) throw invalid(`transportKeys.${k}`, `expected a 16- or 32-byte AES key, got ${n} bytes`);
  }
  if (t.enc.length !== t.mac.length || t.enc.length !== t.dek.length) throw invalid('transportKeys', 'expected keys of one length');
  const kvn = t.kvn ?? MAKER_TRANSPORT_KVN;
  if (kvn < 0x70 || kvn > 0xff) throw invalid('transportKeys.kvn', `expected a transport KVN 70..FF, got ${kvn}`);
  const image: CardImage = {
    format: 1,
    serial: serial.slice(),
    lifecycle: 'blank',
    pinKey: random(32),
    isd: { keys: [{ kvn, enc: t.enc.slice(), mac: t.mac.slice(), dek: t.dek.slice(), sequence: 0 }] },
    apps: [],
  };
  if (spec.jpkiInitial) {
    const j: TransportKeys = 'master' in spec.jpkiInitial ? jpkiInitialKeysOf(spec.jpkiInitial.master, serial) : spec.jpkiInitial.keys;
    for (const k of ['enc', 'mac', 'dek'] as const) {
      const n = j[k].length;
      if (n !== 16 && n !== 32) throw invalid(`jpkiInitial.${k}`, `expected a 16- or 32-byte AES key, got ${n} bytes`);
    }
    if (j.enc.length !== j.mac.length || j.enc.length !== j.dek.length) throw invalid('jpkiInitial', 'expected keys of one length');
    if ((j.kvn ?? JPKI_SD_INITIAL_KVN) !== JPKI_SD_INITIAL_KVN) throw invalid('jpkiInitial.kvn', `expected the JPKI initial KVN 4F, got ${j.kvn!.toString(16).toUpperCase()}`);
    image.initialKeys = [{ module: jpkiArea.module.slice(), set: { kvn: JPKI_SD_INITIAL_KVN, enc: j.enc.slice(), mac: j.mac.slice(), dek: j.dek.slice(), sequence: 0 } }];
  }
  return image;
}

/** Write a blank card into an empty store (the maker's step). Refuses a store that already holds a card. */
export function manufactureBlankCard(store: CardStore, spec: BlankCardSpec, random?: (n: number) => Uint8Array): void {
  if (store.load()) throw new JukiError('JUKI_ERR_CONFLICT', `card ${store.cardId} already exists`);
  store.save(blankCardImage(spec, random));
}
