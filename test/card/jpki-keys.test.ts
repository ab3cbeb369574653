/**
 * The JPKI area's keys on the card (R5.1 card): the maker's initial set (KVN 4F) is bound to the
 * area at INSTALL, no key comes from the ISD, and only the domain's own PUT KEY, over a channel
 * opened with its current set with C-DECRYPTION and C-MAC, replaces it by the jpki role's set
 * (KVN 50). Refusals change nothing; a power cut leaves the old set or the new one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Card, CARD_MODULES, CommandApdu, ISD_AID, JPKI_AID, SealedCardStore, cardSerial, concat, keyCheckValue,
} from '../../src/card/index.ts';
import { encodeImage } from '../../src/card/image.ts';
import { jpkiInitialKeys } from '../../src/jpki/index.ts';
import { activeCard, hex, Host, installAndPersonalise, keysetDgi, KEYS, putKeyData, sw, TestKeyStore, type MadeCard } from './helpers.ts';
import { installJpki, jpkiFinalKeys, jpkiInitialFor } from './jpki-card.ts';

let seq = 1;

/** A personalised card with the JPKI area installed by the ISD (bound to the maker's initial set), not yet opened by the jpki role. */
function installed(o: { durable?: boolean } = {}) {
  const jpkiKeys = new TestKeyStore();
  const serial = cardSerial(0x4a50, 40, seq++);
  const made = activeCard({ ...o, keyStore: new TestKeyStore(), serial, jpkiInitial: jpkiInitialFor(jpkiKeys, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) } as Parameters<typeof activeCard>[0]);
  return { made, serial, jpkiKeys, initial: jpkiInitialKeys(jpkiKeys, serial), final: jpkiFinalKeys(jpkiKeys, serial) };
}

/** Which of the two sets opens the JPKI domain now (on the card as it is). */
function opens(host: Host, c: ReturnType<typeof installed>): { initial: boolean; final: boolean } {
  host.select(JPKI_AID);
  const initial = host.open(c.initial, 0x33) === 0x9000;
  host.select(JPKI_AID);
  const final = host.open(c.final, 0x33) === 0x9000;
  return { initial, final };
}

const image = (m: MadeCard) => Buffer.from(encodeImage(m.store.load()!)).toString('hex');

test('[R5.1 card] the jpki role\'s PUT KEY over the initial set\'s full channel replaces it: 50 and the KCVs come back, the initial set no longer opens, the final one does', () => {
  const c = installed();
  const { host } = c.made;
  assert.deepEqual(opens(host, c), { initial: true, final: false });
  host.select(JPKI_AID);
  assert.equal(host.open(c.initial, 0x33), 0x9000);
  const r = host.secure(0x80, 0xd8, 0x4f, 0x81, putKeyData(c.final, c.initial.dek), 256);
  assert.equal(sw(r.sw), '9000');
  assert.deepEqual(r.data, concat(Uint8Array.of(0x50), keyCheckValue(c.final.enc), keyCheckValue(c.final.mac), keyCheckValue(c.final.dek)));
  // the same channel cannot PUT KEY again: its static set is gone
  assert.equal(sw(host.secure(0x80, 0xd8, 0x50, 0x81, putKeyData({ ...c.final, kvn: 0x51 }, c.final.dek), 256).sw), '6982');
  assert.deepEqual(opens(host, c), { initial: false, final: true });
  host.select(JPKI_AID);
  assert.equal(sw(host.send(0x80, 0x50, 0x4f, 0x00, new Uint8Array(8), 256).sw), '6A88', 'no set 4F any more');
  // and what the image holds for the area is only the final set
  const app = c.made.store.load()!.apps.find((a) => Buffer.from(a.aid).equals(Buffer.from(JPKI_AID)))!;
  assert.deepEqual(app.sd.keys.map((k) => k.kvn), [0x50]);
});

test('[R5.1 card] JPKI PUT KEY is refused, changing nothing: without a channel, over a MAC-only channel, with a wrong KCV, a wrong P1, a KVN outside 50..5F, a replayed command', () => {
  const c = installed();
  const { host } = c.made;
  const before = image(c.made);
  const data = putKeyData(c.final, c.initial.dek);
  // no channel (plain), and a plain command on a secured selection
  host.select(JPKI_AID);
  assert.equal(sw(host.send(0x80, 0xd8, 0x4f, 0x81, data, 256).sw), '6982');
  // MAC-only (C-MAC, no C-DECRYPTION): the keys would travel under K-DEK alone
  host.select(JPKI_AID);
  assert.equal(host.open(c.initial, 0x01), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xd8, 0x4f, 0x81, data, 256).sw), '6982');
  // wrong KCV (last byte of the DEK's KCV)
  const bad = data.slice();
  bad[bad.length - 1]! ^= 0x01;
  host.select(JPKI_AID);
  assert.equal(host.open(c.initial, 0x33), 0x9000);
  assert.equal(sw(host.secure(0x80, 0xd8, 0x4f, 0x81, bad, 256).sw), '6A80');
  // P1 not the current KVN; new KVN 4F (itself), 30 (the basic area's), 60; P2 other than 81
  assert.equal(sw(host.secure(0x80, 0xd8, 0x50, 0x81, data, 256).sw), '6A88');
  for (const kvn of [0x4f, 0x30, 0x60, 0x01]) assert.equal(sw(host.secure(0x80, 0xd8, 0x4f, 0x81, putKeyData({ ...c.final, kvn }, c.initial.dek), 256).sw), '6A80', kvn.toString(16));
  assert.equal(sw(host.secure(0x80, 0xd8, 0x4f, 0x01, data, 256).sw), '6A86');
  // keys encrypted under another DEK fail their KCV
  assert.equal(sw(host.secure(0x80, 0xd8, 0x4f, 0x81, putKeyData(c.final, KEYS.issuer.dek), 256).sw), '6A80');
  // the issuer's channel reaches no JPKI PUT KEY (the area accepts no issuer channel)
  host.select(JPKI_AID);
  assert.notEqual(host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(host.send(0x84, 0xd8, 0x4f, 0x81, concat(data, new Uint8Array(8)), 256).sw), '6982');
  assert.equal(image(c.made), before, 'nothing changed');

  // a replayed PUT KEY: the wrapped command as a relay would record it, sent again in the same session and in a new one
  host.select(JPKI_AID);
  assert.equal(host.open(c.initial, 0x33), 0x9000);
  const w = host.channel!.wrapCommand({ cla: 0x80, ins: 0xd8, p1: 0x4f, p2: 0x81, data, le: 0 });
  const wire = CommandApdu.of({ cla: w.cla, ins: w.ins, p1: w.p1, p2: w.p2, data: w.data, ne: 256 }).encode();
  assert.equal(sw(host.raw(wire).sw), '9000');
  const after = image(c.made);
  assert.notEqual(after, before);
  assert.equal(sw(host.raw(wire).sw), '6982', 'replayed in the same session (MAC chaining)');
  host.select(JPKI_AID);
  assert.equal(host.open(c.final, 0x33), 0x9000);
  assert.equal(sw(host.raw(wire).sw), '6982', 'replayed in a new session');
  assert.equal(image(c.made), after, 'the replays changed nothing');
  assert.deepEqual(opens(host, c), { initial: false, final: true });
});

test('[R5.1 card] a power cut at any write point of the JPKI PUT KEY leaves the old set or the new one, never neither', () => {
  // count the write points of one uncut PUT KEY
  const count = (cutAt: number): { points: number; result: { initial: boolean; final: boolean } } => {
    const c = installed({ durable: true });
    const { blobs, keyStore } = c.made;
    c.made.card.powerOff();
    let armed = false;
    let seen = 0;
    const store = new SealedCardStore({
      cardId: c.made.store.cardId, keyStore, blobs: blobs!, onWritePoint: () => {
        if (!armed) return;
        if (seen++ === cutAt) throw new Error('power cut');
      },
    });
    const card = new Card({ store, types: CARD_MODULES });
    card.powerOn();
    const host = new Host(card);
    host.select(JPKI_AID);
    assert.equal(host.open(c.initial, 0x33), 0x9000);
    armed = true;
    let answer = '';
    try {
      answer = sw(host.secure(0x80, 0xd8, 0x4f, 0x81, putKeyData(c.final, c.initial.dek), 256).sw);
    } catch {
      answer = 'lost';
    }
    armed = false;
    // power comes back: a fresh chip on the same storage
    const again = new Card({ store: new SealedCardStore({ cardId: c.made.store.cardId, keyStore, blobs: blobs! }), types: CARD_MODULES });
    again.powerOn();
    const result = opens(new Host(again), c);
    if (answer === '9000') assert.deepEqual(result, { initial: false, final: true }, 'confirmed: the new set is durable');
    return { points: seen, result };
  };
  const uncut = count(-1);
  assert.ok(uncut.points >= 1, 'PUT KEY writes');
  assert.deepEqual(uncut.result, { initial: false, final: true });
  const outcomes = new Set<string>();
  for (let k = 0; k < uncut.points; k++) {
    const { result } = count(k);
    assert.ok(result.initial !== result.final, `cut at write point ${k} of ${uncut.points}: exactly one set opens, got ${JSON.stringify(result)}`);
    outcomes.add(result.initial ? 'old' : 'new');
  }
  assert.ok(outcomes.has('old'), 'a cut before the commit keeps the old set');
});

test('[R5.1 card] a card made without the JPKI initial set refuses to install the JPKI area (69 85) and is left unchanged; the ISD cannot give the area a key set', () => {
  const made = activeCard({ serial: cardSerial(0x4a50, 41, 1) });
  made.host.select(ISD_AID);
  assert.equal(made.host.open(KEYS.issuer, 0x33), 0x9000);
  const before = image(made); // after the opening (it advances the ISD's pseudo-random sequence counter)
  assert.equal(sw(installAndPersonalise(made.host, JPKI_AID, JPKI_AID, new Uint8Array(0))), '6985');
  assert.equal(image(made), before, 'unchanged');
  assert.equal(sw(made.host.select(JPKI_AID).sw), '6A82', 'no JPKI area');

  // with the initial set: a key set in the ISD's STORE DATA for the area is refused (6A 80), the area stays unpersonalised
  const jpkiKeys = new TestKeyStore();
  const serial = cardSerial(0x4a50, 41, 2);
  const other = activeCard({ serial, jpkiInitial: jpkiInitialFor(jpkiKeys, serial) } as Parameters<typeof activeCard>[0]);
  other.host.select(ISD_AID);
  assert.equal(other.host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(installAndPersonalise(other.host, JPKI_AID, JPKI_AID, keysetDgi({ ...KEYS.issuer, kvn: 0x50 }))), '6A80');
  // the ISD's key information lists its own sets only (the initial set is readable by no command)
  other.host.select(ISD_AID);
  const info = Buffer.from(other.host.send(0x80, 0xca, 0x00, 0xe0, undefined, 256).data).toString('hex');
  assert.equal(info.includes('c004014f') || info.includes('c004024f'), false, info);
  // and the area, bound to the initial set, is personalised by an empty STORE DATA
  other.host.select(ISD_AID);
  assert.equal(other.host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(other.host.secure(0x80, 0xe6, 0x20, 0x00, concat(hex('0000'), Uint8Array.of(JPKI_AID.length), JPKI_AID, hex('000000')), 256).sw, 0x9000);
  assert.equal(sw(other.host.secure(0x80, 0xe2, 0x80, 0x00).sw), '9000');
  other.host.select(JPKI_AID);
  assert.equal(other.host.open(jpkiInitialKeys(jpkiKeys, serial), 0x33), 0x9000);
});

test('[R5.1 card] terminating a card zeroises a JPKI initial set that was never bound to an area', () => {
  const jpkiKeys = new TestKeyStore();
  const serial = cardSerial(0x4a50, 41, 3);
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(jpkiKeys, serial) } as Parameters<typeof activeCard>[0]);
  assert.equal(made.store.load()!.initialKeys?.length, 1);
  assert.ok(Buffer.from(encodeImage(made.store.load()!)).toString('utf8').includes(Buffer.from(jpkiInitialKeys(jpkiKeys, serial).enc).toString('hex').toUpperCase()), 'the probe finds the key while it is there');
  made.host.select(ISD_AID);
  assert.equal(made.host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(made.host.secure(0x80, 0xf0, 0x80, 0xff).sw), '9000');
  const after = made.store.load()!;
  assert.equal(after.lifecycle, 'terminated');
  assert.deepEqual(after.initialKeys, []);
  const initial = jpkiInitialKeys(jpkiKeys, serial);
  const json = Buffer.from(encodeImage(after)).toString('utf8');
  for (const k of [initial.enc, initial.mac, initial.dek]) assert.equal(json.includes(Buffer.from(k).toString('hex').toUpperCase()), false, 'no initial key in the image');
});
