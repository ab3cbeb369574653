/**
 * The card's persistent state (EEPROM, in chip terms): everything that survives power off.
 * Plain data only: definitions (file tables, access conditions) are code and never stored,
 * so no edit of an image can change what a file demands (R2.2.4). The image is sealed at
 * rest by storage.ts; here it is only modelled and (de)serialised.
 */
import { toHex, fromHex } from '../util/index.ts';
import type { PinState } from './pin.ts';

/**
 * Card lifecycle (GP 2.3 §5.1.1, mapped): blank = OP_READY (transport keys only),
 * personalised = INITIALIZED (issuer keys, basic area written, PIN unset: R2.2.1a),
 * active = SECURED (the holder has set the PIN), terminated = TERMINATED (irreversible).
 */
export type CardLifecycle = 'blank' | 'personalised' | 'active' | 'terminated';

/** An SCP03 static key set (GP Amd D §6.1): K-ENC, K-MAC, K-DEK and its version number. */
export interface KeySetRecord {
  kvn: number;
  enc: Uint8Array;
  mac: Uint8Array;
  dek: Uint8Array;
  /** Pseudo-random card-challenge sequence counter for this key set (GP Amd D §6.2.2.1). */
  sequence: number;
}

/** A security domain's persistent part: its key sets. */
export interface SdRecord {
  keys: KeySetRecord[];
}

/** Application lifecycle (GP 2.3 §5.3.1, reduced): installed (selectable, not personalised), personalised, locked. */
export type AppLifecycle = 'installed' | 'personalised' | 'locked';

export interface AppRecord {
  /** Instance AID. */
  aid: Uint8Array;
  /** Module (executable module) AID: which application type this is. */
  module: Uint8Array;
  lifecycle: AppLifecycle;
  /** The application's own security domain (GP 2.3 §7.2: each area's keys only its owner holds). */
  sd: SdRecord;
  /** Transparent EF contents by FID. */
  files: Record<number, Uint8Array>;
  /** PINs by reference number. */
  pins: Record<number, PinState>;
  /** Private keys by reference (PKCS#8 DER); never output (R2.2.3). */
  keys: Record<number, Uint8Array>;
}

export interface CardImage {
  format: 1;
  /** 10-byte card serial: the SCP03 key-diversification data and the card's identity. */
  serial: Uint8Array;
  lifecycle: CardLifecycle;
  /** Per-card secret under which PINs are sealed (pin.ts). */
  pinKey: Uint8Array;
  /** The issuer security domain (the issuing municipality; transport keys while blank). */
  isd: SdRecord;
  apps: AppRecord[];
  /**
   * Initial key sets the maker put on the card for a module's future security domain (the JPKI
   * area's, R5.1), per card, diversified from a master the maker shares with the area's owner.
   * No command reads them; INSTALL of that module binds its domain to the set and removes it here.
   */
  initialKeys?: InitialKeySet[];
}

/** A key set waiting for its module's instance: the module it is bound to, and the set. */
export interface InitialKeySet {
  module: Uint8Array;
  set: KeySetRecord;
}

const B = '$b';

/** Serialise an image to JSON bytes (Uint8Array fields as `{"$b": "hex"}`). */
export function encodeImage(image: CardImage): Uint8Array {
  const json = JSON.stringify(image, (_k, v: unknown) => (v instanceof Uint8Array ? { [B]: toHex(v) } : v));
  return new Uint8Array(Buffer.from(json, 'utf8'));
}

/** Parse JSON bytes written by encodeImage. Throws on anything malformed (the caller treats it as tampering). */
export function decodeImage(bytes: Uint8Array): CardImage {
  const image = JSON.parse(Buffer.from(bytes).toString('utf8'), (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && B in v) return fromHex(String((v as Record<string, unknown>)[B]));
    return v;
  }) as CardImage;
  if (image?.format !== 1 || !(image.serial instanceof Uint8Array) || !Array.isArray(image.apps)) throw new Error('not a card image');
  return image;
}

/** The card id used to name the card's keys and files: the serial in hex. */
export function cardIdOf(serial: Uint8Array): string {
  return toHex(serial);
}
