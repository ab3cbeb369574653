/**
 * [R2.2.5] Storage: sealed image, all-or-nothing writes, anti-rollback, zeroisation on
 * tampering, and a harness that cuts power at every write point of every command sequence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASIC_AID, Card, CARD_MODULES, FileBlobStore, ISD_AID, MemoryBlobStore, SealedCardStore, cardIdOf, cardSerial, manufactureBlankCard, nextRetryCounter,
  retryCounterName, retryCounterTries, sealingNames,
} from '../../src/card/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { Host, KEYS, TestKeyStore, activeCard, ascii, blankCard, personalise, sw } from './helpers.ts';

interface World {
  blobs: MemoryBlobStore;
  ks: TestKeyStore;
  cardId: string;
}

function clone(w: World): World {
  const blobs = new MemoryBlobStore();
  blobs.bytes = w.blobs.bytes?.slice();
  const ks = new TestKeyStore();
  for (const [k, v] of w.ks.keys) ks.keys.set(k, v.slice());
  ks.destroyed = new Set(w.ks.destroyed);
  ks.counters = new Map(w.ks.counters);
  return { blobs, ks, cardId: w.cardId };
}

function cardOf(w: World, hook?: (p: string) => void): { card: Card; host: Host; store: SealedCardStore } {
  const store = new SealedCardStore({ cardId: w.cardId, keyStore: w.ks, blobs: w.blobs, ...(hook ? { onWritePoint: hook } : {}) });
  const card = new Card({ store, types: CARD_MODULES });
  card.powerOn();
  return { card, host: new Host(card), store };
}

/** What an observer sees of the card (on a copy, so observing changes nothing). */
function observe(w0: World): string {
  const w = clone(w0);
  let c;
  try {
    c = cardOf(w);
  } catch (e) {
    return `dead:${(e as { code?: string }).code}`;
  }
  const h = c.host;
  h.select(ISD_AID);
  const lc = Buffer.from(h.send(0x80, 0xca, 0x9f, 0x70, undefined, 256).data).toString('hex');
  const sel = sw(h.select(BASIC_AID).sw);
  const status = sw(h.send(0x00, 0x20, 0x00, 0x81).sw);
  let face = '-';
  if (status === '63C3' || status === '63C2') {
    h.verify('1234');
    if (h.open(KEYS.basic, 0x33) === 0x9000) face = Buffer.from(h.secure(0x00, 0xb0, 0x86, 0x00, undefined, 16).data).toString();
  }
  return `${lc} select=${sel} pin=${status} face=${face}`;
}

/** A host whose every exchange is followed by a snapshot of the world (the states a cut may legally leave). */
class RecordingHost extends Host {
  states = new Set<string>();
  constructor(card: Card, readonly world: World) {
    super(card);
  }
  override raw(bytes: Uint8Array) {
    const r = super.raw(bytes);
    this.states.add(observe(this.world));
    return r;
  }
}

function durableWorld(prepare: (host: Host) => void): World {
  const ks = new TestKeyStore();
  const m = blankCard({ durable: true, keyStore: ks });
  prepare(m.host);
  return { blobs: m.blobs!, ks, cardId: m.store.cardId };
}

const setPin = (h: Host) => {
  h.select(BASIC_AID);
  h.send(0x00, 0x24, 0x01, 0x81, ascii('1234'));
};

const SEQUENCES: { name: string; prepare: (h: Host) => void; run: (h: Host) => void; counter?: boolean }[] = [
  { name: 'personalisation', prepare: () => {}, run: (h) => personalise(h) },
  { name: 'PIN set', prepare: (h) => personalise(h), run: setPin },
  { name: 'VERIFY (wrong PIN)', prepare: (h) => (personalise(h), setPin(h)), run: (h) => (h.select(BASIC_AID), h.verify('0000')), counter: true },
  { name: 'VERIFY (right PIN after a failure)', prepare: (h) => (personalise(h), setPin(h), h.verify('0000')), run: (h) => (h.select(BASIC_AID), h.verify('1234')), counter: true },
  {
    name: 'CHANGE REFERENCE DATA (old PIN and new PIN)',
    prepare: (h) => (personalise(h), setPin(h)),
    run: (h) => (h.select(BASIC_AID), h.send(0x00, 0x24, 0x00, 0x81, ascii('12345678'))),
    counter: true,
  },
  {
    name: 'unblock',
    prepare: (h) => (personalise(h), setPin(h), ['0', '1', '2'].forEach((d) => h.verify(d.repeat(4)))),
    run: (h) => {
      h.select(BASIC_AID);
      h.open(KEYS.issuer, 0x33);
      h.secure(0x00, 0x2c, 0x03, 0x81);
    },
  },
  {
    name: 'data update (face record, issuer channel)',
    prepare: (h) => (personalise(h), setPin(h)),
    run: (h) => {
      h.select(BASIC_AID);
      h.open(KEYS.issuer, 0x33);
      h.secure(0x00, 0xd6, 0x86, 0x00, ascii('NEW-FACE-RECORD!'));
    },
  },
];

for (const s of SEQUENCES) {
  test(`[R2.2.5] power cut at every write point of ${s.name}: the card comes back in the state before or after the interrupted command${s.counter ? ', and the retry counter is never dodged' : ''}`, () => {
    const pre = durableWorld(s.prepare);
    // an uncut run: count the write points and collect every state at a command boundary
    const full = clone(pre);
    let points = 0;
    const { card } = cardOf(full, () => points++);
    const rec = new RecordingHost(card, full);
    rec.states.add(observe(full));
    s.run(rec);
    assert.ok(points >= 2, `${s.name} writes`);
    if (s.counter) {
      // A correct VERIFY commits the decrement, compares, then commits the restored counter: a cut between the
      // two writes keeps the decrement. That intermediate state is the one a wrong PIN would leave (the safe side).
      const dec = clone(pre);
      const h = cardOf(dec).host;
      h.select(BASIC_AID);
      h.verify('9999');
      rec.states.add(observe(dec));
    }
    for (let k = 0; k < points; k++) {
      const w = clone(pre);
      let seen = 0;
      const answers: string[] = [];
      const c = cardOf(w, () => {
        if (seen++ === k) throw new Error('power cut');
      });
      const h = new Host(c.card);
      const orig = h.raw.bind(h);
      h.raw = (b) => {
        const r = orig(b);
        if (b[1] === 0x20 || (b[1] === 0x24 && b[2] === 0x00)) answers.push(sw(r.sw)); // answers of commands that compare a PIN
        return r;
      };
      try {
        s.run(h);
      } catch {
        // the card lost power mid-sequence; later commands could not be sent
      }
      const after = observe(w);
      assert.ok(rec.states.has(after), `cut at write point ${k} of ${points}: state ${after} is not one the uncut run passed through:\n${[...rec.states].join('\n')}`);
      if (s.counter) {
        // no comparison result (9000 / 63Cx) may leave the card unless the decrement it follows is durable
        const before = observe(pre);
        if (after === before) assert.equal(answers.some((a) => a === '9000' || a.startsWith('63C')), false, `cut ${k}: a VERIFY result left the card but the counter is back`);
      }
    }
  });
}

test('[R2.2.5] an edited image is refused and the sealing key destroyed; so is an older copy restored over it, or another card\'s image', () => {
  // edited
  const m = activeCard({ durable: true });
  const names = sealingNames(m.store.cardId);
  m.blobs!.bytes![m.blobs!.bytes!.length - 20]! ^= 0x01;
  const c = new Card({ store: m.store, types: CARD_MODULES });
  assert.throws(() => c.powerOn(), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'));
  assert.equal(m.keyStore.hasKey(names.key), false, 'sealing key destroyed');
  m.blobs!.bytes![m.blobs!.bytes!.length - 20]! ^= 0x01;
  assert.throws(() => c.powerOn(), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'), 'even the restored original is dead now');

  // rollback: copy the image, change it (a data update writes the image), put the copy back
  const r = activeCard({ durable: true });
  const copy = r.blobs!.bytes!.slice();
  r.host.select(BASIC_AID);
  assert.equal(r.host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(r.host.secure(0x00, 0xd6, 0x86, 0x00, ascii('NEW-FACE-RECORD!')).sw), '9000');
  r.blobs!.bytes = copy;
  r.card.powerOff();
  assert.throws(() => r.card.powerOn(), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'));
  assert.equal(r.keyStore.hasKey(sealingNames(r.store.cardId).key), false);

  // swapped: card B's image under card A's id (same key store)
  const ks = new TestKeyStore();
  const a = blankCard({ durable: true, keyStore: ks });
  const b = blankCard({ durable: true, keyStore: ks });
  a.blobs!.bytes = b.blobs!.bytes!.slice();
  assert.throws(() => new Card({ store: a.store, types: CARD_MODULES }).powerOn(), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'));
});

test('[R2.2.5] the file store writes temp / fsync / rename: a cut before the rename leaves the old image, and the temp file is cleaned up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-card-'));
  const ks = new TestKeyStore();
  const serial = cardSerial(1, 2, 3);
  const path = join(dir, 'card.img');
  const mk = (hook?: (p: string) => void) => new SealedCardStore({ cardId: cardIdOf(serial), keyStore: ks, blobs: new FileBlobStore(path), ...(hook ? { onWritePoint: hook } : {}) });
  manufactureBlankCard(mk(), { serial, transportKeys: KEYS.transport });
  const points: string[] = [];
  const card = new Card({ store: mk((p) => {
    points.push(p);
    if (p === 'file:rename') throw new Error('power cut');
  }), types: CARD_MODULES });
  card.powerOn();
  const h = new Host(card);
  h.select(ISD_AID);
  assert.equal(h.open(KEYS.transport, 0x33), 0x6581, 'the pseudo-random counter write was cut');
  assert.deepEqual(points, ['file:write-temp', 'file:fsync-temp', 'file:rename']);
  assert.ok(existsSync(`${path}.tmp`));
  const again = new Card({ store: mk(), types: CARD_MODULES });
  again.powerOn();
  assert.equal(existsSync(`${path}.tmp`), false);
  const h2 = new Host(again);
  h2.select(ISD_AID);
  assert.equal(h2.open(KEYS.transport, 0x33), 0x9000);
  assert.deepEqual(readdirSync(dir), ['card.img']);
  writeFileSync(path, 'garbage');
  assert.throws(() => new Card({ store: mk(), types: CARD_MODULES }).powerOn(), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'));
});

const TAMPERED = (e: unknown) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED');

test('[R2.2.5] retry counters live in the key store, one per PIN: a VERIFY writes only its counter, no image copy gives a try back, and a counter record deleted or restored to before the image\'s last write is refused', () => {
  const w = durableWorld((h) => (personalise(h), setPin(h)));
  const names = sealingNames(w.cardId);
  const pin = retryCounterName(w.cardId, BASIC_AID, 1);
  const img0 = w.blobs.bytes!.slice();
  const gen0 = w.ks.counters.get(names.counter)!;
  const ctr0 = w.ks.counters.get(pin)!;
  assert.equal(retryCounterTries(ctr0), 3, 'the PIN set: 3 tries, in the key store');
  const points: string[] = [];
  const { host } = cardOf(w, (p) => points.push(p));
  host.select(BASIC_AID);
  assert.equal(sw(host.verify('0000').sw), '63C2');
  assert.equal(sw(host.verify('0001').sw), '63C1');
  assert.deepEqual(points, ['retry-counter:advance', 'done', 'retry-counter:advance', 'done'], 'one write per retry-counter change');
  assert.deepEqual(w.blobs.bytes, img0, 'VERIFY never writes the image');
  assert.equal(w.ks.counters.get(names.counter), gen0, 'nor the generation counter');
  assert.equal(retryCounterTries(w.ks.counters.get(pin)!), 1);
  // the image's next write (a data update) records the counter's value as its floor
  assert.equal(host.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(host.secure(0x00, 0xd6, 0x86, 0x00, ascii('NEW-FACE-RECORD!')).sw), '9000');
  assert.ok(w.ks.counters.get(names.counter)! > gen0, 'the image was written (the issuer channel\'s sequence counter, the face record)');

  // the older image restored together with its generation record: that image opens, but the tries stay spent
  const a = clone(w);
  a.blobs.bytes = img0;
  a.ks.counters.set(names.counter, gen0);
  assert.match(observe(a), / pin=63C1 /);
  // the older image alone: refused, and the card is dead
  const b = clone(w);
  b.blobs.bytes = img0;
  assert.throws(() => cardOf(b), TAMPERED);
  assert.equal(b.ks.hasKey(names.key), false);
  // the PIN's counter record restored to its value from before the image's last write: refused
  const c = clone(w);
  c.ks.counters.set(pin, ctr0);
  assert.throws(() => cardOf(c), (e) => TAMPERED(e) && /retry counter of PIN 1 .* is older than the image/.test((e as Error).message));
  assert.equal(c.ks.hasKey(names.key), false);
  // deleted: refused
  const d = clone(w);
  d.ks.counters.delete(pin);
  assert.throws(() => cardOf(d), TAMPERED);
  // the untouched world still opens, with one try left
  assert.match(observe(w), / pin=63C1 /);
});

test('[R2.2.1e] retry-counter values only go up: a decrement stays in its epoch, anything that gives tries back opens the next epoch, and the tries decode back', () => {
  let v = 0;
  const seen: number[] = [];
  const steps = [3, 2, 1, 0, 3, 2, 3, 5, 4, 0, 0, 15, 14, 0, 3];
  for (const t of steps) {
    const next = nextRetryCounter(v, t);
    assert.ok(next >= v && next >= 16, `${v} → ${next} for ${t} tries`);
    assert.equal(retryCounterTries(next), t);
    if (seen.length && t > retryCounterTries(v)) assert.equal(Math.floor(next / 16), Math.floor(v / 16) + 1, 'more tries: a new epoch');
    if (seen.length && t < retryCounterTries(v)) assert.equal(Math.floor(next / 16), Math.floor(v / 16), 'fewer tries: the same epoch');
    seen.push(next);
    v = next;
  }
  assert.equal(nextRetryCounter(v, retryCounterTries(v)), v, 'no change, no new value');
  assert.throws(() => nextRetryCounter(v, 16), RangeError);
  assert.throws(() => nextRetryCounter(v, -1), RangeError);
});
