/**
 * [R2.2.2] Blank cards of a delivery lot: each carries only its own transport keys,
 * diversified from the lot's transport master with its serial; the master is on no card,
 * and a card refuses every personalisation step unless SCP03 was opened with its own keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BASIC_AID, ISD_AID, JPKI_AID, JPKI_SD_INITIAL_KVN, MemoryCardStore, cardSerial, jpkiInitialKeysOf, transportKeysOf, type CardImage, type JpkiInitialSpec } from '../../src/card/index.ts';
import { jpkiInitialKeys, jpkiInitialMaster } from '../../src/jpki/index.ts';
import { JukiError } from '../../src/util/index.ts';
import { blankCard, installData, sw, TestKeyStore } from './helpers.ts';

const lotMaster = () => ({ enc: new Uint8Array(randomBytes(16)), mac: new Uint8Array(randomBytes(16)), dek: new Uint8Array(randomBytes(16)) });
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Every byte string in the image, in hex. */
const imageHex = (image: CardImage) => JSON.stringify(image, (_k, v: unknown) => (v instanceof Uint8Array ? hexOf(v) : v));

test('[R2.2.2] two cards of one lot have different transport keys, each diversified from the lot master and its serial; the master is on neither card', () => {
  const lot = lotMaster();
  const a = blankCard({ lot, serial: cardSerial(0x4a4b, 0x20, 1) });
  const b = blankCard({ lot, serial: cardSerial(0x4a4b, 0x20, 2) });
  const ka = transportKeysOf(lot, a.serial);
  const kb = transportKeysOf(lot, b.serial);
  for (const k of ['enc', 'mac', 'dek'] as const) assert.notEqual(hexOf(ka[k]), hexOf(kb[k]), `K-${k.toUpperCase()} differs`);
  assert.equal(ka.kvn, 0xff);
  // each card opens with its own keys only
  assert.equal(a.host.select(ISD_AID).sw, 0x9000);
  assert.equal(a.host.open(kb, 0x33), -1, "card A does not hold card B's keys");
  assert.equal(a.host.select(ISD_AID).sw, 0x9000);
  assert.equal(a.host.open(ka, 0x33), 0x9000);
  assert.equal(b.host.select(ISD_AID).sw, 0x9000);
  assert.equal(b.host.open(kb, 0x33), 0x9000);
  // the lot master is not in either image (memory store: the live image, serialised here)
  for (const m of [a, b]) {
    const image = imageHex((m.store as MemoryCardStore).load()!);
    for (const k of [lot.enc, lot.mac, lot.dek]) assert.ok(!image.includes(hexOf(k)), 'no master key bytes on the card');
  }
});

test('[R2.2.2] a card refuses personalisation with another lot\'s transport keys, and without a channel', () => {
  const lotA = lotMaster();
  const lotB = lotMaster();
  const m = blankCard({ lot: lotA });
  const host = m.host;
  assert.equal(host.select(ISD_AID).sw, 0x9000);
  // the same serial diversified from another lot's master: the card cryptogram does not match
  assert.equal(host.open(transportKeysOf(lotB, m.serial), 0x33), -1);
  // nothing works without the channel
  assert.equal(sw(host.send(0x80, 0xe6, 0x0c, 0x00, installData(BASIC_AID, BASIC_AID), 256).sw), '6982');
  assert.equal(sw(host.send(0x80, 0xf0, 0x80, 0x07).sw), '6982');
  // with its own lot's keys the card opens, and refuses to leave "blank" while they are still there
  assert.equal(host.select(ISD_AID).sw, 0x9000);
  assert.equal(host.open(transportKeysOf(lotA, m.serial), 0x33), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xf0, 0x80, 0x07).sw), '6985');
});

test('[R5.1 card] the maker\'s JPKI initial sets are per card (family jpki-initial, KVN 4F) from the initial master, which is on no card; the jpki side\'s per-card set is the same one; bad sets are refused', () => {
  const jpki = new TestKeyStore();
  const master = jpkiInitialMaster(jpki);
  const a = blankCard({ serial: cardSerial(0x4a4b, 0x21, 1), jpkiInitial: { master } });
  const b = blankCard({ serial: cardSerial(0x4a4b, 0x21, 2), jpkiInitial: { keys: jpkiInitialKeys(jpki, cardSerial(0x4a4b, 0x21, 2)) } });
  const sets = [a, b].map((m) => (m.store as MemoryCardStore).load()!.initialKeys!);
  for (const [i, m] of [a, b].entries()) {
    assert.equal(sets[i]!.length, 1);
    assert.equal(hexOf(sets[i]![0]!.module), hexOf(JPKI_AID));
    const want = jpkiInitialKeysOf(master, m.serial);
    assert.equal(want.kvn, JPKI_SD_INITIAL_KVN);
    for (const k of ['enc', 'mac', 'dek'] as const) assert.equal(hexOf(sets[i]![0]!.set[k]), hexOf(want[k]), `card ${i} K-${k}`);
    const image = imageHex((m.store as MemoryCardStore).load()!);
    for (const k of [master.enc, master.mac, master.dek]) assert.ok(!image.includes(hexOf(k)), 'no master key bytes on the card');
  }
  assert.notEqual(hexOf(sets[0]![0]!.set.enc), hexOf(sets[1]![0]!.set.enc), 'per card');
  // the ISD's key information does not show it
  a.host.select(ISD_AID);
  assert.equal(hexOf(a.host.send(0x80, 0xca, 0x00, 0xe0, undefined, 256).data).includes('4f88'), false);
  // a card made without it has none
  assert.equal(blankCard().store.load()!.initialKeys, undefined);
  // refused: wrong key sizes, mixed sizes, another KVN
  const k16 = new Uint8Array(16);
  const bad: [JpkiInitialSpec, RegExp][] = [
    [{ keys: { enc: new Uint8Array(15), mac: k16, dek: k16 } }, /jpkiInitial\.enc: expected a 16- or 32-byte AES key, got 15 bytes/],
    [{ keys: { enc: k16, mac: new Uint8Array(32), dek: k16 } }, /jpkiInitial: expected keys of one length/],
    [{ keys: { enc: k16, mac: k16, dek: k16, kvn: 0x50 } }, /jpkiInitial\.kvn: expected the JPKI initial KVN 4F, got 50/],
  ];
  for (const [spec, re] of bad) assert.throws(() => blankCard({ serial: cardSerial(0x4a4b, 0x21, 9), jpkiInitial: spec }), (e: Error) => e instanceof JukiError && e.code === 'JUKI_ERR_INVALID_INPUT' && re.test(e.message));
});
