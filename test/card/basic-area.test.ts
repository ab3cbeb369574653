import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASIC_AID } from '../../src/card/index.ts';
import { activeCard, KEYS, PERSON, readResidentCode, sw } from './helpers.ts';

test('[R4.2.1 card] the resident code leaves the card only after PIN + mutual authentication + access check', () => {
  const { host } = activeCard();
  const read = () => host.secure(0x00, 0xb0, 0x82, 0x00, undefined, 256);
  // PIN only
  host.select(BASIC_AID);
  host.verify('1234');
  assert.equal(sw(host.send(0x00, 0xb0, 0x82, 0x00, undefined, 256).sw), '6982');
  // mutual authentication only
  host.select(BASIC_AID);
  assert.equal(host.open(KEYS.basic, 0x33), 0x9000);
  assert.equal(sw(read().sw), '6982');
  // PIN + mutual authentication, but a level without response encryption fails the access check
  host.select(BASIC_AID);
  host.verify('1234');
  assert.equal(host.open(KEYS.basic, 0x11), 0x9000);
  assert.equal(sw(read().sw), '6982');
  // PIN + channel with the issuer's keys: wrong party
  host.select(BASIC_AID);
  host.verify('1234');
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(read().sw), '6982');
  // all three
  const r = readResidentCode(host);
  assert.equal(sw(r.sw), '9000');
  assert.equal(Buffer.from(r.data).toString(), PERSON.residentCode);
});

test('[R4.2.1 card] the PIN verified locally after SELECT survives the opening of the channel relayed from the key holder', () => {
  const { host, card } = activeCard();
  // the terminal: SELECT + VERIFY from the PIN pad, plain
  card.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, BASIC_AID.length, ...BASIC_AID));
  card.transmit(Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34));
  // the national center: INITIALIZE UPDATE / EXTERNAL AUTHENTICATE relayed, then the read
  assert.equal(host.open(KEYS.basic, 0x33), 0x9000);
  const r = host.secure(0x00, 0xb0, 0x82, 0x00, undefined, 256);
  assert.equal(Buffer.from(r.data).toString(), PERSON.residentCode);
  // on the wire the resident code was encrypted (R-ENC)
  const w = host.channel!.wrapCommand({ cla: 0, ins: 0xb0, p1: 0x82, p2: 0, data: new Uint8Array(0), le: 0 });
  const wire = card.transmit(Uint8Array.of(w.cla, w.ins, w.p1, w.p2, w.data.length, ...w.data, 0));
  assert.equal(Buffer.from(wire).includes(Buffer.from(PERSON.residentCode)), false);
});
