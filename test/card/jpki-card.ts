/**
 * A card with a personalised JPKI area, made by the real flow: blank card → the CS's ISD
 * personalisation (basic area, keys replaced, status personalised) → the ISD installs the
 * JPKI area with the JPKI domain's per-card key set → the jpki role, through a relay,
 * generates both key pairs on the card and writes the CA-issued certificates → the holder
 * sets both PINs locally (CHANGE REFERENCE DATA P1=01).
 */
import assert from 'node:assert/strict';
import { Card, ISD_AID, JPKI_AID, cardSerial, concat } from '../../src/card/index.ts';
import { InProcessTransport, type CardTransport } from '../../src/reader/index.ts';
import { jpkiDomainKeys, personaliseJpkiCard, type JpkiCardResult, type SignHolder } from '../../src/jpki/index.ts';
import { openFixture, type Fixture } from '../jpki/fixtures.ts';
import { activeCard, ascii, hex, installAndPersonalise, keysetDgi, KEYS, TestKeyStore, type Host, type MadeCard, type PersoOptions } from './helpers.ts';

export const JPKI_PINS = { auth: '4321', sign: 'JUKI2025' };

export const HOLDER: Omit<SignHolder, 'cardSerial'> = { name: '住基 花子', sex: 'female', birthDate: '1980-04-01', address: '東京都千代田区霞が関2-1-2' };

let seq = 1;

export interface JpkiMadeCard extends MadeCard {
  /** The jpki node's key store (JPKI master keys). */
  readonly jpkiKeys: TestKeyStore;
  readonly result: JpkiCardResult;
  readonly fixture: Fixture;
}

/** Install the JPKI area through the ISD (issuer keys) with the per-card JPKI domain key set. */
export function installJpki(host: Host, jpkiKeys: TestKeyStore, serial: Uint8Array, extraDgis: Uint8Array = new Uint8Array(0)): number {
  assert.equal(host.select(ISD_AID).sw, 0x9000);
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
  return installAndPersonalise(host, JPKI_AID, JPKI_AID, concat(keysetDgi(jpkiDomainKeys(jpkiKeys, serial)), extraDgis));
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
  const made = activeCard({ ...o, serial, pins: o.pinMap, extra: (host) => assert.equal(installJpki(host, jpkiKeys, serial), 0x9000) } as Parameters<typeof activeCard>[0]);
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
