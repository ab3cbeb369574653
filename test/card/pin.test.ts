import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASIC_AID, ISD_AID, Card, CARD_MODULES, encodeImageForTest, type SealedCardStore } from './pin-imports.ts';
import { activeCard, ascii, blankCard, hex, KEYS, personalise, readResidentCode, sw, type Host } from './helpers.ts';

const lifecycle = (host: Host) => {
  host.select(ISD_AID);
  return Buffer.from(host.send(0x80, 0xca, 0x9f, 0x70, undefined, 256).data).toString('hex');
};

test('[R2.2.1a] a personalised card whose PIN is unset refuses every basic-area command except PIN setting, and is not active until it is set', () => {
  const { host } = blankCard();
  personalise(host);
  assert.equal(lifecycle(host), '9f700107', 'personalised, not active');
  host.select(BASIC_AID);
  const refused: [string, () => number][] = [
    ['VERIFY', () => host.verify('1234').sw],
    ['VERIFY status query', () => host.send(0x00, 0x20, 0x00, 0x81).sw],
    ...[2, 3, 4, 5, 6].map((sfi): [string, () => number] => [`READ BINARY SFI ${sfi}`, () => host.send(0x00, 0xb0, 0x80 | sfi, 0, undefined, 256).sw]),
    ['UPDATE BINARY', () => host.send(0x00, 0xd6, 0x86, 0, hex('00')).sw],
    ['INITIALIZE UPDATE (basic keys)', () => host.send(0x80, 0x50, KEYS.basic.kvn, 0, new Uint8Array(8), 256).sw],
    ['INITIALIZE UPDATE (issuer keys)', () => host.send(0x80, 0x50, KEYS.issuer.kvn, 0, new Uint8Array(8), 256).sw],
    ['RESET RETRY COUNTER', () => host.send(0x00, 0x2c, 0x03, 0x81).sw],
    ['CHANGE REFERENCE DATA P1=00', () => host.send(0x00, 0x24, 0x00, 0x81, ascii('12345678')).sw],
    ['INTERNAL AUTHENTICATE', () => host.send(0x00, 0x88, 0x00, 0x84, new Uint8Array(8), 256).sw],
  ];
  for (const [what, run] of refused) assert.notEqual(sw(run()), '9000', what);
  assert.equal(readResidentCode(host).sw === 0x9000, false);
  host.select(BASIC_AID);
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('12a4')).sw), '6A80', 'the PIN is 4 digits');
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('12345')).sw), '6A80', 'the PIN is 4 digits');
  assert.equal(lifecycle(host), '9f700107', 'a refused setting changes nothing');
  host.select(BASIC_AID);
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('2468')).sw), '9000');
  assert.equal(lifecycle(host), '9f70010f', 'active once the holder has set the PIN');
  assert.equal(Buffer.from(readResidentCode(host, '2468').data).toString(), '12345678901');
});

test('[R2.2.1e] VERIFY blocks the PIN after the 3rd consecutive failure, and everything that needs it is refused', () => {
  const { host } = activeCard();
  host.select(BASIC_AID);
  assert.equal(sw(host.verify('0000').sw), '63C2');
  assert.equal(sw(host.verify('1234').sw), '9000', 'a correct PIN resets the counter');
  assert.equal(sw(host.send(0x00, 0x20, 0x00, 0x81).sw), '63C3', 'status query: 3 tries, even when verified');
  assert.equal(sw(host.verify('0000').sw), '63C2');
  assert.equal(sw(host.verify('0001').sw), '63C1');
  assert.equal(sw(host.verify('0002').sw), '63C0');
  assert.equal(sw(host.verify('1234').sw), '6983', 'blocked: even the right PIN is refused');
  assert.equal(sw(host.send(0x00, 0x20, 0x00, 0x81).sw), '63C0');
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('5555')).sw), '6983', 'no PIN change while blocked');
  assert.equal(sw(host.send(0x00, 0x24, 0x00, 0x81, ascii('12345555')).sw), '6983');
  assert.notEqual(sw(readResidentCode(host).sw), '9000');
  assert.equal(sw(readResidentCode(host).sw), '6983');
});

test('[R2.2.1e] the retry counter is decremented durably before the comparison: a power cut or a killed process after a wrong VERIFY cannot undo it', () => {
  const m = activeCard({ durable: true });
  const store = m.store as SealedCardStore;
  const image = m.blobs!.bytes!.slice();
  m.host.select(BASIC_AID);
  const fresh = () => {
    const c = new Card({ store, types: CARD_MODULES });
    c.powerOn();
    c.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, BASIC_AID.length, ...BASIC_AID));
    return c;
  };
  const tries = (c: Card) => sw(Buffer.from(c.transmit(hex('00200081'))).readUInt16BE(0));
  // VERIFY's first write is the decrement, and it is its only one before the comparison
  const points: string[] = [];
  let cutAt: string | undefined = 'retry-counter:advance';
  store.onWritePoint = (p) => {
    points.push(p);
    if (p === cutAt) throw new Error('power cut');
  };
  // cut before the decrement's write: nothing landed, and no comparison ran (no 63Cx, no 9000 left the card)
  assert.equal(sw(m.host.verify('0000').sw), '6581', 'the write did not complete: memory failure, card powers down');
  assert.deepEqual(points, ['retry-counter:advance']);
  assert.equal(tries(fresh()), '63C3');
  // cut right after the decrement's write, still before the comparison: the decrement landed
  cutAt = 'done';
  points.length = 0;
  const again = fresh();
  assert.equal(sw(Buffer.from(again.transmit(Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, ...ascii('1234')))).readUInt16BE(0)), '6581', 'even the right PIN: the answer never left');
  assert.deepEqual(points, ['retry-counter:advance', 'done']);
  cutAt = undefined;
  const second = fresh();
  assert.equal(tries(second), '63C2', 'the decrement landed even though the comparison never ran');
  assert.deepEqual(m.blobs!.bytes, image, 'a VERIFY writes the key store\'s retry counter, never the image');
  // killing the process right after a wrong VERIFY answered
  second.transmit(Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, ...ascii('9999')));
  assert.equal(tries(fresh()), '63C1');
});

test('[R2.2.1i] the PIN is stored sealed: no response, image or sealed blob contains it', () => {
  const m = activeCard({ pin: '9753', durable: true });
  const responses: Uint8Array[] = [];
  const send = (h: string) => {
    const r = m.card.transmit(hex(h));
    responses.push(r);
    return r;
  };
  send('00A4040C0AD392F0004A554B490001');
  send('0020008104' + Buffer.from('9753').toString('hex'));
  send('00200081');
  send('00A4020402000100');
  for (let sfi = 1; sfi <= 30; sfi++) send(`00B0${(0x80 | sfi).toString(16)}0000`);
  send('00B0000000');
  const needle = Buffer.from('9753');
  for (const r of responses) assert.equal(Buffer.from(r).includes(needle), false);
  const image = m.store.load()!;
  const plain = encodeImageForTest(image);
  assert.equal(Buffer.from(plain).includes(needle), false, 'the decrypted image holds no PIN');
  assert.equal(Buffer.from(m.blobs!.bytes!).includes(needle), false);
  const basic = image.apps.find((a) => a.aid.length === BASIC_AID.length && a.aid.every((b, i) => b === BASIC_AID[i]))!;
  assert.equal(basic.pins[1]!.sealed!.length, 32, 'an HMAC-SHA256, not the PIN');
});

test('[R2.2.1u] PIN verification happens inside the card: the host learns only 9000 or 63Cx, never data', () => {
  const { host } = activeCard();
  host.select(BASIC_AID);
  for (const p of ['0000', '1234', '12', '123456789', '']) {
    const r = host.send(0x00, 0x20, 0x00, 0x81, p ? ascii(p) : undefined);
    assert.equal(r.data.length, 0);
    assert.match(sw(r.sw), /^(9000|63C\d)$/);
  }
});

test('[R2.2.1e] a blocked PIN is unblocked only over the issuing municipality\'s channel, then the holder sets a new PIN', () => {
  const { host } = activeCard();
  host.select(BASIC_AID);
  for (const p of ['0000', '0001', '0002']) host.verify(p);
  assert.equal(sw(host.send(0x00, 0x2c, 0x03, 0x81).sw), '6982', 'plain: refused');
  assert.equal(host.open(KEYS.basic, 0x33), 0x9000);
  assert.equal(sw(host.secure(0x00, 0x2c, 0x03, 0x81).sw), '6982', "Juki-net's own channel is not the issuing side");
  host.select(BASIC_AID);
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000, 'the issuer keys open a channel while the basic area stays selected');
  assert.equal(sw(host.secure(0x00, 0x2c, 0x02, 0x81, ascii('1111')).sw), '6A86', 'no PIN travels through the channel');
  assert.equal(sw(host.secure(0x00, 0x2c, 0x03, 0x81).sw), '9000');
  assert.equal(sw(host.send(0x00, 0x20, 0x00, 0x81).sw), '6984', 'unset now: the PIN is not usable');
  assert.equal(sw(host.secure(0x00, 0xb0, 0x86, 0x00, undefined, 256).sw), '6985', 'and nothing but setting it is allowed');
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('8642')).sw), '9000', 'the holder sets a new PIN on the pad');
  assert.equal(Buffer.from(readResidentCode(host, '8642').data).toString(), '12345678901');
});

test('CHANGE REFERENCE DATA: old‖new, or new after VERIFY; the old PIN is checked like VERIFY', () => {
  const { host } = activeCard();
  host.select(BASIC_AID);
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('5555')).sw), '6982', 'P1=01 needs VERIFY first');
  assert.equal(sw(host.send(0x00, 0x24, 0x00, 0x81, ascii('00005555')).sw), '63C2', 'wrong old PIN counts as a try');
  assert.equal(sw(host.send(0x00, 0x24, 0x00, 0x81, ascii('1234555')).sw), '6700');
  assert.equal(sw(host.send(0x00, 0x24, 0x00, 0x81, ascii('123455x5')).sw), '6A80');
  assert.equal(sw(host.send(0x00, 0x24, 0x00, 0x81, ascii('12345555')).sw), '9000');
  assert.equal(sw(host.verify('5555').sw), '9000');
  assert.equal(sw(host.send(0x00, 0x24, 0x01, 0x81, ascii('6666')).sw), '9000');
  assert.equal(sw(host.send(0x00, 0x20, 0xff, 0x81).sw), '9000', 'VERIFY P1=FF resets the verification');
  assert.equal(sw(host.verify('6666').sw), '9000');
});
