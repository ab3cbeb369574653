/** SCP03 card and host sides: status words, sequencing, refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Scp03CardChannel, Scp03HostChannel, parseInitializeUpdateResponse, deriveSessionKeys, hostCryptogram, aesCmac, concatBytes, type CommandFields, type Scp03StaticKeys, type SecurityLevel,
} from '../../src/crypto/index.ts';
import { hex } from './apdu.ts';

const keys: Scp03StaticKeys = {
  enc: hex('000102030405060708090a0b0c0d0e0f'),
  mac: hex('101112131415161718191a1b1c1d1e1f'),
  dek: hex('202122232425262728292a2b2c2d2e2f'),
  kvn: 0x30,
};
const div = hex('01020304050607080910');
const aid = hex('A0000005591010FFFFFFFF8900000100');
const newCard = (i?: number) => new Scp03CardChannel({ keys, diversificationData: div, ...(i === undefined ? {} : { i }), challenge: { mode: 'pseudo-random', sequenceCounter: 0, context: aid } });
const hc = hex('0102030405060708');
const iuCmd = (over: Partial<CommandFields> = {}): CommandFields => ({ cla: 0x80, ins: 0x50, p1: 0x30, p2: 0x00, data: hc, le: 0, ...over });

function handshake(level: SecurityLevel = 0x33) {
  const card = newCard();
  const host = new Scp03HostChannel({ keys, level, hostChallenge: hc });
  const iu = card.initializeUpdate(host.initializeUpdateCommand(0x30));
  const ea = host.onInitializeUpdateResponse(iu.data);
  return { card, host, ea };
}

test('INITIALIZE UPDATE: wrong key version 6A88, wrong length 6700, bad P2 6A86; the counter does not move on refusal', () => {
  const card = newCard();
  assert.equal(card.initializeUpdate(iuCmd({ p1: 0x31 })).sw, 0x6a88);
  assert.equal(card.initializeUpdate(iuCmd({ data: hc.subarray(0, 7) })).sw, 0x6700);
  assert.equal(card.initializeUpdate(iuCmd({ p2: 0x01 })).sw, 0x6a86);
  assert.equal(card.sequenceCounter, 0);
  const ok = card.initializeUpdate(iuCmd({ p1: 0x00 }));
  assert.equal(ok.sw, 0x9000);
  assert.equal(ok.data.length, 32);
  assert.equal(card.sequenceCounter, 1);
  const r = parseInitializeUpdateResponse(ok.data);
  assert.deepEqual([r.kvn, r.scpId, r.i, r.sequenceCounter], [0x30, 0x03, 0x70, 1]);
  assert.deepEqual(r.diversificationData, div);
});

test('EXTERNAL AUTHENTICATE without INITIALIZE UPDATE is refused with 69 85', () => {
  const { ea } = handshake();
  assert.deepEqual(newCard().externalAuthenticate(ea), { sw: 0x6985 });
});

test('[R2.2.3] EXTERNAL AUTHENTICATE with a wrong host cryptogram: 63 00 and no session', () => {
  const { card, ea } = handshake();
  const bad = { ...ea, data: ea.data.slice() };
  bad.data[0]! ^= 0x01;
  assert.deepEqual(card.externalAuthenticate(bad), { sw: 0x6300 });
  assert.ok(!card.isOpen);
  assert.deepEqual(card.externalAuthenticate(ea), { sw: 0x6985 }, 'the half-open session is gone');
});

test('[R2.2.3] EXTERNAL AUTHENTICATE with a wrong C-MAC: 69 82 and no session', () => {
  const { card, ea } = handshake();
  const bad = { ...ea, data: ea.data.slice() };
  bad.data[15]! ^= 0x80;
  assert.deepEqual(card.externalAuthenticate(bad), { sw: 0x6982 });
  assert.ok(!card.isOpen);
});

test('EXTERNAL AUTHENTICATE asking for a level the card does not offer is refused with 6A 86', () => {
  const card = newCard(0x10); // pseudo-random, no R-MAC, no R-ENC
  const iu = card.initializeUpdate(iuCmd());
  assert.throws(() => new Scp03HostChannel({ keys, level: 0x11, hostChallenge: hc }).onInitializeUpdateResponse(iu.data), { code: 'JUKI_ERR_SCP_STATE' });
  const host = new Scp03HostChannel({ keys, level: 0x11, hostChallenge: hc });
  host.initializeUpdateCommand(0);
  assert.throws(() => host.onInitializeUpdateResponse(iu.data), { code: 'JUKI_ERR_SCP_AUTHENTICATION', message: /cannot give security level 11/ });
  // A host that ignores i: a correctly MACed EXTERNAL AUTHENTICATE at level 11, built from the primitives.
  const cc = iu.data.subarray(13, 21);
  const { sMac } = deriveSessionKeys(keys.enc, keys.mac, hc, cc);
  const crypto = hostCryptogram(sMac, hc, cc);
  const mac = aesCmac(sMac, concatBytes(new Uint8Array(16), hex('8482110010'), crypto)).subarray(0, 8);
  assert.deepEqual(card.externalAuthenticate({ cla: 0x84, ins: 0x82, p1: 0x11, p2: 0, data: concatBytes(crypto, mac) }), { sw: 0x6a86 });
  assert.ok(!card.isOpen);
});

test('[R2.2.3] at C-MAC level a command without secure messaging is refused with 69 82 and closes the channel', () => {
  const { card, host, ea } = handshake(0x01);
  assert.deepEqual(card.externalAuthenticate(ea), { sw: 0x9000 });
  host.onExternalAuthenticateResponse(0x9000);
  assert.deepEqual(card.unwrapCommand({ cla: 0x80, ins: 0xca, p1: 0, p2: 0x66, data: new Uint8Array(0), le: 0 }), { sw: 0x6982 });
  assert.ok(!card.isOpen);
});

test('commands outside an open session are refused with 69 82; responses pass unchanged', () => {
  const card = newCard();
  assert.deepEqual(card.unwrapCommand({ cla: 0x84, ins: 0xca, p1: 0, p2: 0, data: new Uint8Array(8) }), { sw: 0x6982 });
  assert.deepEqual(card.wrapResponse(hex('0102'), 0x9000), hex('0102'));
});

test('malformed protected data is refused with 69 88 (too short for a C-MAC)', () => {
  const { card, ea } = handshake(0x03);
  card.externalAuthenticate(ea);
  assert.deepEqual(card.unwrapCommand({ cla: 0x84, ins: 0xca, p1: 0, p2: 0, data: new Uint8Array(7) }), { sw: 0x6988 });
  assert.ok(!card.isOpen);
});

test('a new INITIALIZE UPDATE closes the open session, and close() ends it', () => {
  const { card, host, ea } = handshake(0x13);
  card.externalAuthenticate(ea);
  assert.ok(card.isOpen);
  card.initializeUpdate(iuCmd());
  assert.ok(!card.isOpen);
  const h = handshake(0x13);
  h.card.externalAuthenticate(h.ea);
  h.card.close();
  assert.deepEqual(h.card.unwrapCommand(h.host.wrapCommand({ cla: 0x80, ins: 0xca, p1: 0, p2: 0, data: new Uint8Array(0) })), { sw: 0x6982 });
  void host;
});

test('with R-MAC on, an error status word goes back bare and the host accepts it bare only', () => {
  const { card, host, ea } = handshake(0x11);
  card.externalAuthenticate(ea);
  host.onExternalAuthenticateResponse(0x9000);
  card.unwrapCommand(host.wrapCommand({ cla: 0x80, ins: 0xca, p1: 0, p2: 0, data: new Uint8Array(0), le: 0 }));
  assert.deepEqual(card.wrapResponse(hex('0102'), 0x6a82), new Uint8Array(0));
  assert.deepEqual(host.unwrapResponse(new Uint8Array(0), 0x6a82), new Uint8Array(0));
  assert.ok(host.isOpen);
  assert.throws(() => host.unwrapResponse(hex('0102'), 0x6a82), { code: 'JUKI_ERR_SCP_INTEGRITY', message: /unprotected/ });
  assert.ok(!host.isOpen);
});

test('[R2.2.3] the host refuses a card whose cryptogram is wrong (the card does not hold the keys)', () => {
  const impostor = new Scp03CardChannel({ keys: { ...keys, mac: hex('101112131415161718191a1b1c1d1e10') }, diversificationData: div, challenge: { mode: 'pseudo-random', sequenceCounter: 0, context: aid } });
  const host = new Scp03HostChannel({ keys, level: 0x33, hostChallenge: hc });
  const iu = impostor.initializeUpdate(host.initializeUpdateCommand(0));
  assert.throws(() => host.onInitializeUpdateResponse(iu.data), { code: 'JUKI_ERR_SCP_AUTHENTICATION', message: /card cryptogram is wrong/ });
  assert.ok(!host.isOpen);
  assert.throws(() => host.wrapCommand({ cla: 0x80, ins: 0xca, p1: 0, p2: 0, data: new Uint8Array(0) }), { code: 'JUKI_ERR_SCP_STATE' });
});

test('the host checks the pseudo-random challenge when it knows the card\'s AID', () => {
  const card = newCard();
  const host = new Scp03HostChannel({ keys, level: 0x33, hostChallenge: hc, cardContext: hex('A000000151000000') });
  const iu = card.initializeUpdate(host.initializeUpdateCommand(0));
  assert.throws(() => host.onInitializeUpdateResponse(iu.data), { code: 'JUKI_ERR_SCP_AUTHENTICATION', message: /pseudo-random card challenge/ });
});

test('the host refuses malformed INITIALIZE UPDATE answers and refusals by the card', () => {
  const mk = () => {
    const h = new Scp03HostChannel({ keys, level: 0x01, hostChallenge: hc });
    h.initializeUpdateCommand(0);
    return h;
  };
  assert.throws(() => mk().onInitializeUpdateResponse(new Uint8Array(28)), { code: 'JUKI_ERR_SCP_AUTHENTICATION', message: /expected 29 or 32 bytes/ });
  assert.throws(() => mk().onInitializeUpdateResponse(new Uint8Array(0), 0x6a88), { code: 'JUKI_ERR_SCP_AUTHENTICATION', message: /6A88/ });
  const iu = newCard().initializeUpdate(iuCmd()).data;
  const wrongScp = iu.slice();
  wrongScp[11] = 0x02;
  assert.throws(() => mk().onInitializeUpdateResponse(wrongScp), { message: /SCP identifier 03/ });
  assert.throws(() => mk().onInitializeUpdateResponse(iu.subarray(0, 29)), { message: /pseudo-random/ });
  const h = mk();
  h.onInitializeUpdateResponse(iu);
  assert.throws(() => h.onExternalAuthenticateResponse(0x6300), { code: 'JUKI_ERR_SCP_AUTHENTICATION', message: /host cryptogram/ });
});

test('the host resolves per-card keys from the card\'s diversification data', () => {
  const seen: string[] = [];
  const host = new Scp03HostChannel({ keys: (d, kvn) => { seen.push(Buffer.from(d).toString('hex') + '/' + kvn); return keys; }, level: 0x33, hostChallenge: hc });
  const card = newCard();
  const ea = host.onInitializeUpdateResponse(card.initializeUpdate(host.initializeUpdateCommand(0)).data);
  assert.deepEqual(card.externalAuthenticate(ea), { sw: 0x9000 });
  assert.deepEqual(seen, ['01020304050607080910/48']);
});

test('channel options are validated with precise messages', () => {
  assert.throws(() => new Scp03CardChannel({ keys, diversificationData: new Uint8Array(9), challenge: { mode: 'random' } }), { message: /diversificationData: expected 10 bytes, got 9/ });
  assert.throws(() => new Scp03CardChannel({ keys, diversificationData: div, i: 0x70, challenge: { mode: 'random' } }), { message: /has b5/ });
  assert.throws(() => new Scp03CardChannel({ keys, diversificationData: div, i: 0x71, challenge: { mode: 'pseudo-random', sequenceCounter: 0, context: aid } }), { message: /S16/ });
  assert.throws(() => new Scp03CardChannel({ keys: { ...keys, dek: new Uint8Array(32) }, diversificationData: div, challenge: { mode: 'random' } }), { message: /same length/ });
  assert.throws(() => new Scp03HostChannel({ keys, level: 0x02 as SecurityLevel }), { message: /level: expected one of/ });
  const h = handshake(0x01);
  h.card.externalAuthenticate(h.ea);
  assert.throws(() => h.host.wrapCommand({ cla: 0x84, ins: 0, p1: 0, p2: 0, data: new Uint8Array(0) }), { message: /already indicates secure messaging/ });
  assert.throws(() => h.host.wrapCommand({ cla: 0x40, ins: 0, p1: 0, p2: 0, data: new Uint8Array(0) }), { message: /class/ });
});

test('a random-mode card draws a fresh challenge for every INITIALIZE UPDATE', () => {
  const card = new Scp03CardChannel({ keys, diversificationData: div, challenge: { mode: 'random' } });
  const a = card.initializeUpdate(iuCmd()).data.subarray(13, 21);
  const b = card.initializeUpdate(iuCmd()).data.subarray(13, 21);
  assert.notDeepEqual(a, b);
  assert.equal(card.sequenceCounter, 0);
});
