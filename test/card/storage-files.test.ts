/**
 * [R2.2.5] Storage on real files: the card image through FileBlobStore, its sealing key,
 * generation and retry counters in a SoftwareKeyStore folder. Power is cut at every step of
 * every file write (the image's temp / fsync / rename / fsync-dir, and each key-store record's
 * temp / fsync / rename / fsync-dir), and the card must come back in the old or the new state
 * with the retry counter never dodged. Also: images of the version-2 layout (made before retry
 * counters moved to the key store, e.g. by `juki card new`) still open and are migrated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASIC_AID, Card, CARD_MODULES, FileBlobStore, ISD_AID, SealedCardStore, cardIdOf, cardSerial, manufactureBlankCard, retryCounterName, retryCounterTries,
  sealedImageVersion, sealingNames,
} from '../../src/card/index.ts';
import { SoftwareKeyStore } from '../../src/crypto/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { Host, KEYS, ascii, personalise, sw } from './helpers.ts';

const temps: string[] = [];
process.on('exit', () => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'juki-card-files-'));
  temps.push(d);
  return d;
}

/** A card on disk: `<root>/card.img` and `<root>/keystore/`. */
interface World {
  root: string;
  cardId: string;
}

function copyWorld(w: World): World {
  const root = tempDir();
  cpSync(w.root, root, { recursive: true });
  return { root, cardId: w.cardId };
}

function open(w: World, hook?: (p: string) => void): { card: Card; ks: SoftwareKeyStore; store: SealedCardStore } {
  const ks = new SoftwareKeyStore(join(w.root, 'keystore'), hook ? { onWritePoint: hook } : {});
  const store = new SealedCardStore({ cardId: w.cardId, keyStore: ks, blobs: new FileBlobStore(join(w.root, 'card.img')), ...(hook ? { onWritePoint: hook } : {}) });
  const card = new Card({ store, types: CARD_MODULES });
  try {
    card.powerOn();
  } catch (e) {
    ks.close();
    throw e;
  }
  return { card, ks, store };
}

/** What an observer sees of the card, on a copy (observing writes: a VERIFY, a channel). */
function observe(w0: World): string {
  const w = copyWorld(w0);
  let o;
  try {
    o = open(w);
  } catch (e) {
    return `dead:${(e as { code?: string }).code}`;
  }
  try {
    const h = new Host(o.card);
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
  } finally {
    o.ks.close();
    rmSync(w.root, { recursive: true, force: true });
  }
}

/** An active card (PIN 1234) made on files. */
function activeWorld(): World {
  const root = tempDir();
  const serial = cardSerial(0x4a4b, 9, 1);
  const w = { root, cardId: cardIdOf(serial) };
  const ks = new SoftwareKeyStore(join(root, 'keystore'));
  const store = new SealedCardStore({ cardId: w.cardId, keyStore: ks, blobs: new FileBlobStore(join(root, 'card.img')) });
  manufactureBlankCard(store, { serial, transportKeys: KEYS.transport });
  const card = new Card({ store, types: CARD_MODULES });
  card.powerOn();
  const h = new Host(card);
  personalise(h);
  h.select(BASIC_AID);
  assert.equal(h.send(0x00, 0x24, 0x01, 0x81, ascii('1234')).sw, 0x9000);
  ks.close();
  return w;
}

/** The version-2 fixture (test/card/fixtures/v2-active-card.json) written out as files, modes as the key store demands. */
function v2World(): World & { fixture: { cardId: string; pin: string; triesLeft: number }; files: Record<string, string> } {
  const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'v2-active-card.json'), 'utf8')) as { cardId: string; pin: string; triesLeft: number; files: Record<string, string> };
  const root = tempDir();
  mkdirSync(join(root, 'keystore'), { mode: 0o700 });
  chmodSync(join(root, 'keystore'), 0o700);
  for (const [name, b64] of Object.entries(fixture.files)) {
    writeFileSync(join(root, name), Buffer.from(b64, 'base64'), { mode: 0o600 });
    chmodSync(join(root, name), 0o600);
  }
  return { root, cardId: fixture.cardId, fixture, files: fixture.files };
}

function withPrep(w0: World, prep: (h: Host) => void): World {
  const w = copyWorld(w0);
  const o = open(w);
  prep(new Host(o.card));
  o.ks.close();
  return w;
}

const wrong = (h: Host) => (h.select(BASIC_AID), h.verify('0000'));
const right = (h: Host) => (h.select(BASIC_AID), h.verify('1234'));

/**
 * Cut power at every write step of `run` on a copy of `pre`; each time the card must come
 * back in a state the uncut run passed through (`extra`: the decremented state a correct
 * VERIFY leaves when cut between its two writes), and no PIN comparison's answer may have
 * left the card unless its decrement is on disk.
 */
function cutEverywhere(pre: World, run: (h: Host) => void, opts: { counter?: boolean; extra?: World[] } = {}): number {
  const states = new Set<string>([observe(pre), ...(opts.extra ?? []).map(observe)]);
  const full = copyWorld(pre);
  const points: string[] = [];
  const o = open(full, (p) => points.push(p));
  const h = new Host(o.card);
  const raw = h.raw.bind(h);
  h.raw = (b) => {
    const r = raw(b);
    states.add(observe(full));
    return r;
  };
  run(h);
  o.ks.close();
  assert.ok(points.some((p) => p.startsWith('keystore:')) && points.length >= 6, `write points: ${points.join(' ')}`);
  const before = observe(pre);
  for (let k = 0; k < points.length; k++) {
    const w = copyWorld(pre);
    let seen = 0;
    const c = open(w, () => {
      if (seen++ === k) throw new Error('power cut');
    });
    const answers: string[] = [];
    const hk = new Host(c.card);
    const rawk = hk.raw.bind(hk);
    hk.raw = (b) => {
      const r = rawk(b);
      if (b[1] === 0x20) answers.push(sw(r.sw));
      return r;
    };
    try {
      run(hk);
    } catch {
      // the card lost power mid-sequence
    }
    c.ks.close();
    const after = observe(w);
    assert.ok(states.has(after), `cut at ${points[k]} (${k + 1} of ${points.length}): state ${after} is not one the uncut run passed through:\n${[...states].join('\n')}`);
    if (opts.counter && after === before) assert.equal(answers.some((a) => a === '9000' || a.startsWith('63C')), false, `cut at ${points[k]}: a VERIFY result left the card but the counter is back`);
    rmSync(w.root, { recursive: true, force: true });
  }
  return points.length;
}

test('[R2.2.5] power cut at every file write step (image and key-store records) of a wrong VERIFY, a correct VERIFY, a data update and an unblock: old or new state, the retry counter never dodged', () => {
  const base = activeWorld();
  const failed = withPrep(base, wrong);
  const n1 = cutEverywhere(base, wrong, { counter: true });
  assert.equal(n1, 6, 'a wrong VERIFY: one key-store record write (4 steps) between the store\'s 2 points');
  const n2 = cutEverywhere(failed, right, { counter: true, extra: [withPrep(failed, wrong)] });
  assert.equal(n2, 12, 'a correct VERIFY: two key-store record writes');
  cutEverywhere(base, (h) => {
    h.select(BASIC_AID);
    h.open(KEYS.issuer, 0x33);
    h.secure(0x00, 0xd6, 0x86, 0x00, ascii('NEW-FACE-RECORD!'));
  });
  const blocked = withPrep(base, (h) => ['0', '1', '2'].forEach((d) => (h.select(BASIC_AID), h.verify(d.repeat(4)))));
  cutEverywhere(blocked, (h) => {
    h.select(BASIC_AID);
    h.open(KEYS.issuer, 0x33);
    h.secure(0x00, 0x2c, 0x03, 0x81);
  });
});

test('[R2.2.5] on files, restoring an older image copy or an older copy of the PIN\'s key-store record gives no try back', () => {
  const w = activeWorld();
  const ksDir = join(w.root, 'keystore');
  const pinFile = join(ksDir, `${retryCounterName(w.cardId, BASIC_AID, 1)}.ctr`);
  const genFile = join(ksDir, `${sealingNames(w.cardId).counter}.ctr`);
  const img0 = readFileSync(join(w.root, 'card.img'));
  const gen0 = readFileSync(genFile);
  const pin0 = readFileSync(pinFile);
  // two wrong tries, then a data update writes the image
  const o = open(w);
  const h = new Host(o.card);
  assert.equal(sw(wrong(h).sw), '63C2');
  assert.equal(sw(wrong(h).sw), '63C1');
  assert.deepEqual(readFileSync(join(w.root, 'card.img')), img0, 'VERIFY leaves the image file as it was');
  assert.deepEqual(readFileSync(genFile), gen0, 'and the generation record');
  assert.equal(retryCounterTries(o.ks.readCounter(retryCounterName(w.cardId, BASIC_AID, 1))), 1);
  h.select(BASIC_AID);
  assert.equal(h.open(KEYS.issuer, 0x33), 0x9000);
  assert.equal(sw(h.secure(0x00, 0xd6, 0x86, 0x00, ascii('NEW-FACE-RECORD!')).sw), '9000');
  o.ks.close();
  assert.match(observe(w), / pin=63C1 /);

  // the old image file with its generation record: opens (a key-store file restored), tries still spent
  const a = copyWorld(w);
  writeFileSync(join(a.root, 'card.img'), img0);
  writeFileSync(join(a.root, 'keystore', `${sealingNames(w.cardId).counter}.ctr`), gen0);
  assert.match(observe(a), / pin=63C1 /);
  // the old image file alone: refused, and the sealing key destroyed
  const b = copyWorld(w);
  writeFileSync(join(b.root, 'card.img'), img0);
  assert.throws(() => open(b), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'));
  assert.equal(readdirSync(join(b.root, 'keystore')).some((f) => f.endsWith('image-seal.key')), true, 'a tombstone record is left');
  assert.throws(() => open(b), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED') && /no live sealing key/.test((e as Error).message));
  // the PIN's record restored to its copy from before the image's last write: refused
  const c = copyWorld(w);
  writeFileSync(join(c.root, 'keystore', `${retryCounterName(w.cardId, BASIC_AID, 1)}.ctr`), pin0);
  assert.throws(() => open(c), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED') && /retry counter of PIN 1 .* older than the image/.test((e as Error).message));
  // deleted: refused
  const d = copyWorld(w);
  rmSync(join(d.root, 'keystore', `${retryCounterName(w.cardId, BASIC_AID, 1)}.ctr`));
  assert.throws(() => open(d), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED'));
  // another PIN's record copied over it (another card's, same key store): refused by the key store (the name is sealed in)
  const e2 = copyWorld(w);
  writeFileSync(join(e2.root, 'keystore', `${retryCounterName(w.cardId, BASIC_AID, 1)}.ctr`), readFileSync(genFile));
  assert.throws(() => open(e2), (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE_TAMPERED'));
});

test('[R2.2.5] a card image of the version-2 layout (retry counters inside the image) still opens with its tries, is rewritten as version 3 by its first change, and the version-2 copy is refused after that, even with its generation record', () => {
  const v2 = v2World();
  const img = join(v2.root, 'card.img');
  const old = readFileSync(img);
  assert.equal(sealedImageVersion(old), 2);
  assert.match(observe(v2), new RegExp(` pin=63C${v2.fixture.triesLeft} `), 'the tries the version-2 image holds');
  // a status query changes nothing: still version 2
  const w = copyWorld(v2);
  let o = open(w);
  const h = new Host(o.card);
  h.select(BASIC_AID);
  assert.equal(sw(h.send(0x00, 0x20, 0x00, 0x81).sw), '63C2');
  assert.equal(sealedImageVersion(readFileSync(join(w.root, 'card.img'))), 2);
  // the first change (the decrement of a VERIFY) rewrites the image as version 3 with the PIN counters in the key store
  assert.equal(sw(h.verify('0000').sw), '63C1');
  assert.equal(sealedImageVersion(readFileSync(join(w.root, 'card.img'))), 3);
  assert.equal(retryCounterTries(o.ks.readCounter(retryCounterName(w.cardId, BASIC_AID, 1))), 1);
  assert.equal(sw(h.verify(v2.fixture.pin).sw), '9000');
  o.ks.close();
  assert.match(observe(w), / pin=63C3 face=/);
  // the version-2 copy put back: an older generation, refused
  const back = copyWorld(w);
  writeFileSync(join(back.root, 'card.img'), old);
  assert.throws(() => open(back), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED') && /older image/.test((e as Error).message));
  // and with its generation record put back too (a key-store file restored): its tries would be the image's own, so it is refused
  const both = copyWorld(w);
  writeFileSync(join(both.root, 'card.img'), old);
  writeFileSync(join(both.root, 'keystore', `${sealingNames(w.cardId).counter}.ctr`), Buffer.from(v2.files[`keystore/${sealingNames(w.cardId).counter}.ctr`]!, 'base64'));
  assert.throws(() => open(both), (e) => isJukiError(e, 'JUKI_ERR_CARD_TAMPERED') && /version-2 image was put back/.test((e as Error).message));
  o = open(w);
  o.ks.close();
});

test('[R2.2.5] power cut at every write step of the migration of a version-2 image (the first VERIFY after loading it): old or new state, the retry counter never dodged', () => {
  const v2 = v2World();
  const n = cutEverywhere(v2, right, { counter: true, extra: [withPrep(v2, wrong)] });
  assert.ok(n > 12, `the migration writes the image, the PIN counter and the generation, then the restore: ${n} points`);
});
