/**
 * Per-card key diversification (R2.2.3): a card's keys are derived from a master key held
 * only in the owning system's key store and the card's serial, so no card holds a key that
 * opens another card, and the master never leaves the store's host.
 *
 * Construction (NIST SP 800-108 §5.1, KDF in counter mode, PRF = AES-CMAC under the master
 * key, r = 8, counter first):
 *
 *   K(i)  = AES-CMAC(master, [i]_8 ‖ "juki-div/v1:" ‖ domain ‖ "/" ‖ key ‖ 00 ‖ serial ‖ [L]_16)
 *   key   = leftmost L bits of K(1) ‖ K(2) …,   L = the master key's length in bits
 *
 * The label names the key family ("domain": transport, issuer, basic, jpki, ordinance:<id>…)
 * and the key (enc, mac or dek); it never contains 00, so label, separator, context and the
 * fixed-size L at the end parse one way only (SP 800-108 §7.6 on unambiguous input).
 */
import { counterKdfCmac } from './kdf.ts';
import { aesKeyBits } from './aes.ts';
import { concatBytes, uintBE } from './bytes.ts';
import type { Scp03StaticKeys } from './scp03-card.ts';
import { invalid } from '../util/index.ts';

/** Which key of an SCP03 key set. */
export type DiversifiedKey = 'enc' | 'mac' | 'dek';

/** Well-known key families; an ordinance area uses `ordinance:<service id>`. */
export const KEY_DOMAINS = {
  /** The blank card's transport keys (R2.2.2), per delivery master. */
  transport: 'transport',
  /** The issuer security domain (the issuing municipality). */
  issuer: 'issuer',
  /** The basic area's card-authentication keys (Juki-net, R2.2.3). */
  basic: 'basic',
  /** The JPKI area's security domain: the jpki role's final set (KVN 50). */
  jpki: 'jpki',
  /** The JPKI area's initial set (KVN 4F) the maker puts on a blank card, from the master the jpki side shares with it (R5.1). */
  jpkiInitial: 'jpki-initial',
} as const;

const DOMAIN = /^[a-z0-9._:-]{1,64}$/;
const PREFIX = new TextEncoder().encode('juki-div/v1:');

/** Derive one per-card key from a master key, the card serial (1–64 bytes), a key family and which key. */
export function diversifyKey(master: Uint8Array, serial: Uint8Array, domain: string, key: DiversifiedKey): Uint8Array {
  const bits = aesKeyBits(master, 'master');
  if (serial.length < 1 || serial.length > 64) throw invalid('serial', `expected 1 to 64 bytes, got ${serial.length}`);
  if (!DOMAIN.test(domain)) throw invalid('domain', `expected 1 to 64 characters from a-z 0-9 . _ : -, got ${JSON.stringify(domain.slice(0, 70))}`);
  if (key !== 'enc' && key !== 'mac' && key !== 'dek') throw invalid('key', `expected enc, mac or dek, got ${JSON.stringify(key)}`);
  const label = concatBytes(PREFIX, new TextEncoder().encode(`${domain}/${key}`));
  // SP 800-108 §5.1 with the counter before the fixed input: [i] ‖ Label ‖ 00 ‖ Context ‖ [L].
  return counterKdfCmac({ key: master, bits, before: new Uint8Array(0), after: concatBytes(label, Uint8Array.of(0), serial, uintBE(bits, 2)) });
}

/** The three master keys of a key family. */
export interface MasterKeys {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  readonly dek: Uint8Array;
}

/** Derive a card's SCP03 static key set (K-ENC, K-MAC, K-DEK) from the family's master keys and its serial. */
export function diversifyKeySet(masters: MasterKeys, serial: Uint8Array, domain: string, kvn: number): Scp03StaticKeys {
  if (!Number.isInteger(kvn) || kvn < 1 || kvn > 0xff) throw invalid('kvn', `expected a key version number 01..FF, got ${kvn}`);
  return {
    enc: diversifyKey(masters.enc, serial, domain, 'enc'),
    mac: diversifyKey(masters.mac, serial, domain, 'mac'),
    dek: diversifyKey(masters.dek, serial, domain, 'dek'),
    kvn,
  };
}
