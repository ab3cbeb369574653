/**
 * [R2.2.2] Blank cards of a delivery lot: each carries only its own transport keys,
 * diversified from the lot's transport master with its serial; the master is on no card,
 * and a card refuses every personalisation step unless SCP03 was opened with its own keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BASIC_AID, ISD_AID, MemoryCardStore, cardSerial, transportKeysOf, type CardImage } from '../../src/card/index.ts';
import { blankCard, installData, sw } from './helpers.ts';

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
