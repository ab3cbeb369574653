import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATR, BASIC_AID, ISD_AID, JPKI_PROBE, Card, CARD_MODULES, MemoryCardStore, ResponseApdu } from './engine-imports.ts';
import { activeCard, blankCard, hex, KEYS, PERSON, sw, readResidentCode, ascii } from './helpers.ts';
import { isJukiError } from '../../src/util/index.ts';

const t = (host: { raw(b: Uint8Array): ResponseApdu }, h: string) => sw(host.raw(hex(h)).sw);

test('[R2.1] every check runs inside the card: hosts reach it only through transmit(), and the image object is not exposed', () => {
  const { card } = activeCard();
  const own = Object.getOwnPropertyNames(card).concat(Object.getOwnPropertyNames(Object.getPrototypeOf(card)));
  assert.deepEqual(own.filter((n) => /image|store|pin|key|state/i.test(n)), [], 'no public member leads to storage or security state');
  assert.deepEqual(Object.keys(card), []);
});

test('SELECT of an unknown AID answers 6A82, never 9000, and leaves the selection as it was', () => {
  const { host } = activeCard();
  for (const aid of [JPKI_PROBE, 'A000000063504B43532D3135', 'D392F0004A554B4900', 'D392F0004A554B49000100', 'A0000003974349445F0100', '']) {
    assert.equal(t(host, `00A4040C${(aid.length / 2).toString(16).padStart(2, '0')}${aid}`.replace(/^(00A4040C)00$/, '$1'), ), '6A82', aid);
  }
  assert.equal(sw(host.select(BASIC_AID).sw), '9000');
  assert.equal(t(host, '00A4040C05A000000003'), '6A82');
  assert.equal(sw(host.verify('1234').sw), '9000', 'the basic area is still selected after a failed SELECT');
});

test('ISO status words for protocol errors: 6E00 6D00 6881 6884 6882 6A86 6700 6986 6A82 6B00 6A88', () => {
  const { host } = activeCard();
  host.select(BASIC_AID);
  assert.equal(t(host, 'FFA4040C00'), '6E00', 'CLA FF');
  assert.equal(t(host, '30B0000001'), '6E00', 'CLA RFU');
  assert.equal(t(host, 'A0B0000001'), '6E00', 'CLA A0');
  assert.equal(t(host, '80B0000001'), '6E00', 'ISO INS in the proprietary class');
  assert.equal(t(host, '00E6000000'), '6E00', 'GP INS in the interindustry class');
  assert.equal(t(host, '00FE000000'), '6D00', 'unknown INS');
  assert.equal(t(host, '01B0000001'), '6881', 'logical channel 1');
  assert.equal(t(host, '40B0000001'), '6881', 'further interindustry class (channels 4-19)');
  assert.equal(t(host, '10B0000001'), '6884', 'command chaining');
  assert.equal(t(host, '0CB0000001'), '6882', 'ISO secure messaging');
  assert.equal(t(host, '00A4040E00'), '6A86', 'SELECT P2 0E');
  assert.equal(t(host, '00A4080C020001'), '6A86', 'SELECT by path');
  assert.equal(t(host, '00A4020C03000102'), '6700', 'SELECT EF with 3 bytes');
  assert.equal(t(host, '00A4020C020099'), '6A82', 'no such EF');
  assert.equal(t(host, '00B0000010'), '6986', 'READ BINARY without a current EF');
  assert.equal(t(host, '00B09F0010'), '6A82', 'READ BINARY by an unknown short EF id');
  assert.equal(t(host, '00B0E20010'), '6A86', 'short EF id with b7-b6 set');
  assert.equal(t(host, '00200082'), '6A88', 'VERIFY of an unknown PIN reference');
  assert.equal(t(host, '00200001'), '6A86', 'VERIFY P2 without b8');
  assert.equal(t(host, '00A4'), '6700', 'two bytes');
  assert.equal(t(host, '00C0000010'), '6985', 'GET RESPONSE with nothing pending');
});

test('READ BINARY at or past the end of a file answers 6B00; a short read returns what is there', () => {
  const { host } = activeCard({ operator: true });
  host.select(hex('D392F0004A554B490002'));
  const r = host.send(0x00, 0xb0, 0x82, 0x00, undefined, 256);
  assert.equal(sw(r.sw), '9000');
  assert.equal(Buffer.from(r.data).toString(), 'STAFF-0042');
  assert.equal(Buffer.from(host.send(0x00, 0xb0, 0x00, 0x06, undefined, 2).data).toString(), '00');
  assert.equal(sw(host.send(0x00, 0xb0, 0x00, 10, undefined, 1).sw), '6B00');
  assert.equal(sw(host.send(0x00, 0xb0, 0x00, 0x00).sw), '6700', 'READ BINARY without Le');
});

test('long answers: 61xx + GET RESPONSE with short Le, one piece with extended Le (ISO 7816-4 §5.3.4)', () => {
  const face = 'F'.repeat(1500);
  const { host } = activeCard({ person: { ...PERSON, face } });
  host.select(BASIC_AID);
  host.verify('1234');
  assert.equal(host.open(KEYS.basic, 0x33), 0x9000);
  // SFI 6 offsets stop at 255: select the EF and read 0..1500 by offset
  assert.equal(sw(host.secure(0x00, 0xa4, 0x02, 0x0c, hex('0006')).sw), '9000');
  const whole = host.secure(0x00, 0xb0, 0x00, 0x00, undefined, 65536); // extended Le: the whole file at once
  assert.equal(sw(whole.sw), '9000');
  assert.equal(Buffer.from(whole.data).toString(), face);
  // raw view: a short Le answer bigger than 256 bytes comes as 61xx pieces
  const card = host.card;
  const w = host.channel!.wrapCommand({ cla: 0, ins: 0xb0, p1: 0x01, p2: 0x00, data: new Uint8Array(0), le: 0 });
  const first = ResponseApdu.parse(card.transmit(Uint8Array.of(w.cla, w.ins, w.p1, w.p2, w.data.length, ...w.data, 0)));
  assert.equal(first.sw1, 0x61, `first piece ${first}`);
  assert.equal(first.data.length, 256);
  const rest = ResponseApdu.parse(card.transmit(hex('00C0000000')));
  assert.equal(sw(rest.sw), '9000');
  const all = new Uint8Array([...first.data, ...rest.data]);
  assert.equal(Buffer.from(host.channel!.unwrapResponse(all, rest.sw)).toString(), face.slice(256, 512));
});

test('power off / on / reset clear all transient state: selection, verified PIN, channel, pending GET RESPONSE', () => {
  const { host, card } = activeCard();
  for (const cycle of [() => card.reset(), () => (card.powerOff(), card.powerOn())]) {
    host.select(BASIC_AID);
    host.verify('1234');
    assert.equal(host.open(KEYS.basic, 0x33), 0x9000);
    assert.equal(sw(host.secure(0x00, 0xb0, 0x82, 0x00, undefined, 256).sw), '9000');
    const old = host.channel;
    cycle();
    // after reset the ISD is selected; re-selecting the basic area must not find the PIN verified
    assert.equal(sw(host.raw(hex('00B0820000')).sw), '6D00', 'the ISD (selected after reset) has no READ BINARY: the basic area is no longer selected');
    host.select(BASIC_AID);
    assert.equal(sw(host.raw(hex('00B0820000')).sw), '6982');
    host.channel = old;
    assert.equal(sw(host.secure(0x00, 0xb0, 0x82, 0x00, undefined, 256).sw), '6982', 'the old channel is gone');
  }
  // a pending GET RESPONSE remainder does not survive a reset
  host.select(BASIC_AID);
  host.verify('1234');
  host.open(KEYS.basic, 0x33);
  const w = host.channel!.wrapCommand({ cla: 0, ins: 0xb0, p1: 0x86, p2: 0x00, data: new Uint8Array(0), le: 0 });
  card.transmit(Uint8Array.of(w.cla, w.ins, w.p1, w.p2, w.data.length, ...w.data, 0));
  card.reset();
  assert.equal(sw(host.raw(hex('00C0000000')).sw), '6985');
  assert.deepEqual([...card.atr], [...ATR]);
  assert.equal(ATR[0], 0x3b);
  card.powerOff();
  assert.throws(() => card.transmit(hex('00A4040C00')), (e) => isJukiError(e, 'JUKI_ERR_CARD_UNPOWERED'));
});

test('GET CHALLENGE returns Le random bytes; refuses bad P1-P2 and length', () => {
  const { host } = blankCard();
  const a = host.send(0x00, 0x84, 0x00, 0x00, undefined, 8);
  const b = host.send(0x00, 0x84, 0x00, 0x00, undefined, 8);
  assert.equal(a.data.length, 8);
  assert.notDeepEqual([...a.data], [...b.data]);
  assert.equal(t(host, '0084010008'), '6A86');
  assert.equal(t(host, '00840000'), '6700');
});

test('SELECT with P2 00 returns the FCI (6F 84 AID A5 ...), with 0C nothing', () => {
  const { host } = blankCard();
  const r = host.send(0x00, 0xa4, 0x04, 0x00, ISD_AID, 256);
  assert.equal(sw(r.sw), '9000');
  assert.equal(r.data[0], 0x6f);
  assert.ok(Buffer.from(r.data).includes(Buffer.from(ISD_AID)));
  assert.equal(host.send(0x00, 0xa4, 0x04, 0x0c, ISD_AID).data.length, 0);
  const d = host.send(0x80, 0xca, 0x00, 0x45, undefined, 256);
  assert.equal(sw(d.sw), '9000');
  assert.equal(d.data.length, 12);
  assert.equal(Buffer.from(host.send(0x80, 0xca, 0x9f, 0x70, undefined, 256).data).toString('hex'), '9f700101', 'lifecycle blank');
});

test('a card whose store holds no image refuses to power on', () => {
  const card = new Card({ store: new MemoryCardStore('00'), types: CARD_MODULES });
  assert.throws(() => card.powerOn(), (e) => isJukiError(e, 'JUKI_ERR_NOT_FOUND'));
  void ascii;
  void readResidentCode;
});
