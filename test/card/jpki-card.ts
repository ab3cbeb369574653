/**
 * A card with a personalised JPKI area, made by the real flow: blank card with the maker's
 * JPKI initial key set (from the jpki side's initial master) → the CS's ISD personalisation
 * (basic area, keys replaced, status personalised) → the ISD installs the JPKI area, sending
 * no key (the card binds it to the initial set) → the jpki role, through a relay, replaces the
 * initial set by its own, generates both key pairs on the card and writes the CA-issued
 * certificates → the holder sets both PINs locally (CHANGE REFERENCE DATA P1=01).
 */
import assert from 'node:assert/strict';
import { Card, ISD_AID, JPKI_AID, cardSerial, concat } from '../../src/card/index.ts';
import { InProcessTransport, type CardTransport } from '../../src/reader/index.ts';
import { diversifyKeySet, KEY_DOMAINS, type Scp03StaticKeys } from '../../src/crypto/index.ts';
import { JPKI_CARD_KVN, jpkiInitialKeys, jpkiMasterKeys, personaliseJpkiCard, type JpkiCardResult, type SignHolder } from '../../src/jpki/index.ts';
import type { JpkiInitialSpec } from '../../src/card/index.ts';
import { openFixture, type Fixture } from '../jpki/fixtures.ts';
import { activeCard, ascii, hex, installAndPersonalise, KEYS, TestKeyStore, type Host, type MadeCard, type PersoOptions } from './helpers.ts';

export const JPKI_PINS = { auth: '4321', sign: 'JUKI2025' };

export const HOLDER: Omit<SignHolder, 'cardSerial'> = { name: '住基 花子', sex: 'female', birthDate: '1980-04-01', address: '東京都千代田区霞が関2-1-2' };

let seq = 1;

export interface JpkiMadeCard extends MadeCard {
  /** The jpki node's key store (JPKI master keys). */
  readonly jpkiKeys: TestKeyStore;
  readonly result: JpkiCardResult;
  readonly fixture: Fixture;
}

/** What the maker puts on a card meant to carry a JPKI area: its initial set, from the jpki side's initial master in `jpkiKeys`. */
export function jpkiInitialFor(jpkiKeys: TestKeyStore, serial: Uint8Array): JpkiInitialSpec {
  return { keys: jpkiInitialKeys(jpkiKeys, serial) };
}

/** Install the JPKI area through the ISD (issuer keys): no key is sent (the card binds the area to its initial set). */
export function installJpki(host: Host, extraDgis: Uint8Array = new Uint8Array(0)): number {
  assert.equal(host.select(ISD_AID).sw, 0x9000);
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
  return installAndPersonalise(host, JPKI_AID, JPKI_AID, extraDgis);
}

/** Set the holder's JPKI PINs (first setting: no channel, no old PIN). */
export function setJpkiPins(host: Host, pins = JPKI_PINS): void {
  assert.equal(host.select(JPKI_AID).sw, 0x9000);
  assert.equal(host.send(0x00, 0xa4, 0x02, 0x0c, hex('0018')).sw, 0x9000);
  assert.equal(host.send(0x00, 0x24, 0x01, 0x80, ascii(pins.auth)).sw, 0x9000);
  assert.equal(host.send(0x00, 0xa4, 0x02, 0x0c, hex('001B')).sw, 0x9000);
  assert.equal(host.send(0x00, 0x24, 0x01, 0x80, ascii(pins.sign)).sw, 0x9000);
}

/** A card with the JPKI area personalised by `personaliseJpkiCard` over `relay(transport)`. */
export async function jpkiCard(o: PersoOptions & {
  durable?: boolean;
  fixture?: Fixture;
  pins?: boolean;
  relay?: (t: CardTransport) => CardTransport;
  pinMap?: Record<string, string>;
} = {}): Promise<JpkiMadeCard> {
  const jpkiKeys = new TestKeyStore();
  const serial = cardSerial(0x4a50, 26, seq++);
  const fixture = o.fixture ?? (await openFixture());
  const made = activeCard({ ...o, serial, jpkiInitial: jpkiInitialFor(jpkiKeys, serial), pins: o.pinMap, extra: (host) => assert.equal(installJpki(host), 0x9000) } as Parameters<typeof activeCard>[0]);
  const transport = new InProcessTransport(made.card, { powerOffOnClose: false });
  const result = await personaliseJpkiCard({ transport: o.relay ? o.relay(transport) : transport, keyStore: jpkiKeys, authority: fixture.authority, holder: HOLDER });
  await transport.close();
  if (o.pins ?? true) setJpkiPins(made.host);
  return { ...made, jpkiKeys, result, fixture };
}

/** The private keys as the sealed image holds them (test-only look inside the card's storage). */
export function privateKeysInImage(made: MadeCard): Uint8Array[] {
  const image = made.store.load()!;
  const app = image.apps.find((a) => Buffer.from(a.aid).equals(Buffer.from(JPKI_AID)))!;
  return Object.values(app.keys);
}

export type { Card };

/** The JPKI domain's final set (KVN 50) as only the jpki role computes it, from the JPKI masters in its key store (for card tests that open the area directly). */
export function jpkiFinalKeys(jpkiKeys: TestKeyStore, serial: Uint8Array): Scp03StaticKeys {
  const m = jpkiMasterKeys(jpkiKeys);
  return diversifyKeySet(m, serial, KEY_DOMAINS.jpki, JPKI_CARD_KVN);
}
