import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASIC_AID, ISD_AID, OPERATOR_AID, BASIC_FID } from '../../src/card/index.ts';
import { activeCard, ascii, basicDgis, blankCard, hex, installAndPersonalise, installData, KEYS, keySet, putKeyData, sw, readResidentCode, type Host } from './helpers.ts';
import { concat } from '../../src/card/index.ts';

const lifecycle = (host: Host) => {
  host.select(ISD_AID);
  return Buffer.from(host.send(0x80, 0xca, 0x9f, 0x70, undefined, 256).data).toString('hex');
};

test('[R2.2.2] a blank card refuses personalisation without the transport keys', () => {
  const { host } = blankCard();
  host.select(ISD_AID);
  // plain GP commands: refused
  assert.equal(sw(host.send(0x80, 0xe6, 0x0c, 0x00, installData(BASIC_AID, BASIC_AID), 256).sw), '6982');
  assert.equal(sw(host.send(0x80, 0xe2, 0x80, 0x00, basicDgis()).sw), '6982');
  assert.equal(sw(host.send(0x80, 0xd8, 0xff, 0x81, putKeyData(KEYS.issuer, KEYS.transport.dek), 256).sw), '6982');
  assert.equal(sw(host.send(0x80, 0xf0, 0x80, 0x07).sw), '6982');
  // wrong keys (another card's, another lot's, the issuer's before they are loaded): no channel
  for (const k of [keySet(0xff, 99), KEYS.issuer, { ...KEYS.transport, kvn: 0x70 }]) {
    host.select(ISD_AID);
    assert.notEqual(host.open(k, 0x33), 0x9000);
  }
  // SM without a channel
  assert.equal(sw(host.raw(hex('84E60C0008 0000000000000000')).sw), '6982');
  // a channel at C-MAC only is not enough for STORE DATA / PUT KEY (personal data and keys go encrypted)
  host.select(ISD_AID);
  assert.equal(host.open(KEYS.transport, 0x01), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xe6, 0x0c, 0x00, installData(BASIC_AID, BASIC_AID), 256).sw), '9000');
  assert.equal(sw(host.secure(0x80, 0xe6, 0x20, 0x00, concat(hex('0000'), Uint8Array.of(10), BASIC_AID, hex('000000')), 256).sw), '9000');
  assert.equal(sw(host.secure(0x80, 0xe2, 0x80, 0x00, basicDgis()).sw), '6982');
  assert.equal(sw(host.secure(0x80, 0xd8, 0xff, 0x81, putKeyData(KEYS.issuer, KEYS.transport.dek), 256).sw), '6982');
  assert.equal(lifecycle(host), '9f700101', 'still blank');
  host.select(BASIC_AID);
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('1234')).sw), '6985', 'an installed but unpersonalised area does nothing');
});

test('[R2.2.2] personalisation replaces the transport keys; the card leaves "blank" only once they are gone', () => {
  const { host } = blankCard();
  host.select(ISD_AID);
  assert.equal(host.open(KEYS.transport, 0x33), 0x9000);
  assert.equal(installAndPersonalise(host, BASIC_AID, BASIC_AID, basicDgis()), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xf0, 0x80, 0x07).sw), '6985', 'transport keys still loaded');
  // R3.1.1a: the municipality re-keys the delivery first (FF → 70), still a transport key
  const muniTransport = keySet(0x70, 50);
  assert.equal(sw(host.secure(0x80, 0xd8, 0xff, 0x81, putKeyData(muniTransport, KEYS.transport.dek), 256).sw), '9000');
  assert.equal(sw(host.secure(0x80, 0xf0, 0x80, 0x07).sw), '6985', 'a KVN 70 set is still a transport key');
  host.select(ISD_AID);
  assert.notEqual(host.open(KEYS.transport, 0x33), 0x9000, "the maker's keys are gone");
  host.select(ISD_AID);
  assert.equal(host.open(muniTransport, 0x33), 0x9000);
  const r = host.secure(0x80, 0xd8, 0x70, 0x81, putKeyData(KEYS.issuer, muniTransport.dek), 256);
  assert.equal(sw(r.sw), '9000');
  assert.equal(r.data[0], KEYS.issuer.kvn, 'PUT KEY answers the new KVN and the key check values');
  assert.equal(r.data.length, 10);
  assert.equal(sw(host.secure(0x80, 0xd8, 0x00, 0x81, putKeyData(keySet(0x02, 51), muniTransport.dek)).sw), '9000', 'the channel still runs on the old session');
  assert.equal(sw(host.secure(0x80, 0xf0, 0x80, 0x07).sw), '9000');
  assert.equal(lifecycle(host), '9f700107');
  host.select(ISD_AID);
  assert.notEqual(host.open(muniTransport, 0x33), 0x9000, 'transport keys no longer open anything');
  host.select(ISD_AID);
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
});

test('PUT KEY refuses a wrong key check value or an unknown old KVN, changing nothing', () => {
  const { host } = blankCard();
  host.select(ISD_AID);
  host.open(KEYS.transport, 0x33);
  const bad = putKeyData(KEYS.issuer, KEYS.transport.dek);
  bad[bad.length - 1]! ^= 1;
  assert.equal(sw(host.secure(0x80, 0xd8, 0xff, 0x81, bad, 256).sw), '6A80');
  assert.equal(sw(host.secure(0x80, 0xd8, 0x05, 0x81, putKeyData(KEYS.issuer, KEYS.transport.dek), 256).sw), '6A88');
  host.select(ISD_AID);
  assert.equal(host.open(KEYS.transport, 0x33), 0x9000, 'transport keys unchanged');
});

test('[R2.2.3] keys cannot be read out: no command returns a key, and the card authenticates with them only by cryptogram', () => {
  const { host, card } = activeCard({ operator: true });
  const secrets = [KEYS.transport, KEYS.issuer, KEYS.basic, KEYS.operator].flatMap((k) => [k.enc, k.mac, k.dek]);
  const seen: Uint8Array[] = [];
  const t = (b: Uint8Array) => seen.push(card.transmit(b));
  for (const aid of [ISD_AID, BASIC_AID, OPERATOR_AID]) {
    t(Uint8Array.of(0, 0xa4, 4, 0, aid.length, ...aid, 0));
    t(Uint8Array.of(0, 0x20, 0, 0x81, 4, ...ascii('1234')));
    for (let fid = 0; fid < 0x20; fid++) {
      t(Uint8Array.of(0, 0xa4, 2, 4, 2, 0, fid, 0));
      t(hex('00B0000000'));
    }
    for (let sfi = 1; sfi <= 30; sfi++) t(Uint8Array.of(0, 0xb0, 0x80 | sfi, 0, 0));
    for (const tag of [0x0045, 0x00e0, 0x9f70, 0x0066, 0x9f7f, 0x00c1, 0x00c2, 0x00c3]) t(Uint8Array.of(0x80, 0xca, tag >> 8, tag & 0xff, 0));
    t(Uint8Array.of(0x80, 0x50, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0));
  }
  for (const r of seen) for (const k of secrets) assert.equal(Buffer.from(r).includes(Buffer.from(k)), false);
  // the operator's private key: selectable, never readable
  host.select(OPERATOR_AID);
  host.verify('1234');
  assert.equal(sw(host.send(0x00, 0xa4, 0x02, 0x0c, hex('0004')).sw), '9000');
  assert.equal(sw(host.send(0x00, 0xb0, 0x00, 0x00, undefined, 256).sw), '6981');
  void BASIC_FID;
});

test('SET STATUS terminated is irreversible: applications become unselectable and their data is zeroised', () => {
  const { host } = activeCard();
  host.select(ISD_AID);
  assert.equal(sw(host.send(0x80, 0xf0, 0x80, 0xff).sw), '6982');
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xf0, 0x80, 0x0f).sw), '6985', 'active is reached only by the holder setting the PIN');
  assert.equal(sw(host.secure(0x80, 0xf0, 0x80, 0xff).sw), '9000');
  assert.equal(lifecycle(host), '9f7001ff');
  assert.notEqual(sw(host.select(BASIC_AID).sw), '9000');
  assert.notEqual(readResidentCode(host).sw, 0x9000);
  host.select(ISD_AID);
  assert.notEqual(host.open(KEYS.issuer, 0x33), 0x9000, 'a terminated card opens no channel');
});

test('INSTALL refuses unknown modules, duplicate AIDs and a second basic area; DELETE removes an application', () => {
  const { host } = activeCard();
  host.select(ISD_AID);
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xe6, 0x0c, 0x00, installData(hex('D392F0004A554B49FFFF'), hex('D392F0004A554B49FFFF')), 256).sw), '6A88');
  assert.equal(sw(host.secure(0x80, 0xe6, 0x0c, 0x00, installData(BASIC_AID, BASIC_AID), 256).sw), '6A80');
  assert.equal(sw(host.secure(0x80, 0xe6, 0x0c, 0x00, installData(OPERATOR_AID, ISD_AID), 256).sw), '6A80');
  assert.equal(installAndPersonalise(host, OPERATOR_AID, OPERATOR_AID, concat(hex('8F0131'), Uint8Array.of(0x31), KEYS.operator.enc, KEYS.operator.mac, KEYS.operator.dek, hex('000205'), ascii('STAFF'))), 0x9000);
  const st = host.secure(0x80, 0xf2, 0x40, 0x02, hex('4F00'), 256);
  assert.equal(sw(st.sw), '9000');
  assert.ok(Buffer.from(st.data).includes(Buffer.from(OPERATOR_AID)));
  assert.equal(sw(host.secure(0x80, 0xe4, 0x00, 0x00, concat(hex('4F0A'), OPERATOR_AID), 256).sw), '9000');
  assert.equal(sw(host.secure(0x80, 0xe4, 0x00, 0x00, concat(hex('4F0A'), OPERATOR_AID), 256).sw), '6A88');
  assert.equal(sw(host.select(OPERATOR_AID).sw), '6A82');
});
