/**
 * Where a CS flow gets a card's SCP03 keys: from a key family's master keys and the card
 * serial (crypto/diversify.ts), so each card has its own keys and the masters never leave the
 * key store's host. The families a municipality's CS holds (ARCHITECTURE.md, "Who holds which
 * keys"): its own transport keys (after re-keying a delivery, R3.1.1a) and its issuer keys.
 * The maker's transport master of a delivery lot comes with the lot. The basic area's keys
 * are not here: they come wrapped from the national center (key-service.ts).
 */
import { diversifyKeySet, KEY_DOMAINS, wipe, type KeyStore, type MasterKeys, type Scp03StaticKeys } from '../../crypto/index.ts';
import { invalid } from '../../util/index.ts';

/** One key family as seen by a flow: its KVN on the card and how to get one card's keys. */
export interface CardKeySource {
  /** The key version number the set has on the card. */
  readonly kvn: number;
  /** For messages: `maker transport`, `municipality transport`, `issuer`. */
  readonly label: string;
  /** The card's static keys, diversified with its serial. The caller wipes them (`wipeKeys`). */
  keysFor(serial: Uint8Array): Scp03StaticKeys;
}

/** A family from master keys held in memory (e.g. a delivery lot's maker transport master). */
export function diversifiedKeySource(masters: MasterKeys, domain: string, kvn: number, label: string = domain): CardKeySource {
  checkKvn(kvn);
  return { kvn, label, keysFor: (serial) => diversifyKeySet(masters, serial, domain, kvn) };
}

/** Key-store names of a family's three master keys. */
export interface MasterKeyNames {
  readonly enc: string;
  readonly mac: string;
  readonly dek: string;
}

/** A family whose masters stay in a key store: read for each derivation, wiped right after. */
export function keyStoreKeySource(store: KeyStore, names: MasterKeyNames, domain: string, kvn: number, label: string = domain): CardKeySource {
  checkKvn(kvn);
  return {
    kvn,
    label,
    keysFor(serial) {
      const masters = { enc: store.secretKey(names.enc), mac: store.secretKey(names.mac), dek: store.secretKey(names.dek) };
      try {
        return diversifyKeySet(masters, serial, domain, kvn);
      } finally {
        wipe(masters.enc);
        wipe(masters.mac);
        wipe(masters.dek);
      }
    },
  };
}

/** The municipality's master-key names in its CS key store. */
export const MUNICIPALITY_MASTER_KEYS = {
  transport: { enc: 'master:transport:enc', mac: 'master:transport:mac', dek: 'master:transport:dek' },
  issuer: { enc: 'master:issuer:enc', mac: 'master:issuer:mac', dek: 'master:issuer:dek' },
} as const;

/** The KVNs a municipality uses: its transport set (70..7F) and its issuer set (01..6F). */
export const MUNICIPALITY_TRANSPORT_KVN = 0x70;
export const ISSUER_KVN = 0x01;

/** The municipality's own families from its key store (created on first use). */
export function municipalityCardKeys(store: KeyStore, kvns: { transport?: number; issuer?: number } = {}): { transport: CardKeySource; issuer: CardKeySource } {
  const transportKvn = kvns.transport ?? MUNICIPALITY_TRANSPORT_KVN;
  const issuerKvn = kvns.issuer ?? ISSUER_KVN;
  if (transportKvn < 0x70 || transportKvn > 0x7f) throw invalid('transport KVN', `expected 70..7F, got ${transportKvn.toString(16)}`);
  if (issuerKvn < 0x01 || issuerKvn > 0x6f) throw invalid('issuer KVN', `expected 01..6F, got ${issuerKvn.toString(16)}`);
  return {
    transport: keyStoreKeySource(store, MUNICIPALITY_MASTER_KEYS.transport, KEY_DOMAINS.transport, transportKvn, 'municipality transport'),
    issuer: keyStoreKeySource(store, MUNICIPALITY_MASTER_KEYS.issuer, KEY_DOMAINS.issuer, issuerKvn, 'issuer'),
  };
}

/** Zeroise a key set. */
export function wipeKeys(k: Scp03StaticKeys): void {
  wipe(k.enc);
  wipe(k.mac);
  wipe(k.dek);
}

function checkKvn(kvn: number): void {
  if (!Number.isInteger(kvn) || kvn < 1 || kvn > 0xff) throw invalid('kvn', `expected 01..FF, got ${kvn}`);
}
