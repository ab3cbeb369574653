import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, readdirSync, statSync, chmodSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryKeyStore, SoftwareKeyStore, type KeyStore } from '../../src/crypto/index.ts';

const root = mkdtempSync(join(tmpdir(), 'juki-keystore-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const folder = () => join(root, `s${n++}`);

const stores: [string, () => { store: KeyStore; reopen: () => KeyStore }][] = [
  ['MemoryKeyStore', () => { const s = new MemoryKeyStore(); return { store: s, reopen: () => s }; }],
  ['SoftwareKeyStore', () => { const f = folder(); return { store: new SoftwareKeyStore(f), reopen: () => new SoftwareKeyStore(f) }; }],
];

for (const [label, make] of stores) {
  test(`${label}: a key is created once from the CSPRNG, then returned unchanged`, () => {
    const { store, reopen } = make();
    assert.equal(store.hasKey('card:0001:seal'), false);
    assert.throws(() => store.secretKey('card:0001:seal', false), { code: 'JUKI_ERR_KEYSTORE', message: /no key named card:0001:seal/ });
    const k = store.secretKey('card:0001:seal');
    assert.equal(k.length, 32);
    assert.ok(store.hasKey('card:0001:seal'));
    assert.deepEqual(reopen().secretKey('card:0001:seal', false), k);
    assert.notDeepEqual(store.secretKey('card:0002:seal'), k);
    k.fill(0);
    assert.notDeepEqual(store.secretKey('card:0001:seal'), k, 'the caller wiping its copy does not touch the store');
  });

  test(`[R2.2.5] ${label}: counters are monotonic, refuse to go backwards and survive reopening`, () => {
    const { store, reopen } = make();
    assert.equal(store.readCounter('card:0001:image'), 0);
    store.advanceCounter('card:0001:image', 5);
    store.advanceCounter('card:0001:image', 5);
    store.advanceCounter('card:0001:image', 2 ** 40);
    assert.throws(() => store.advanceCounter('card:0001:image', 7), { code: 'JUKI_ERR_KEYSTORE', message: /cannot go backwards: it is 1099511627776, asked for 7/ });
    assert.throws(() => store.advanceCounter('card:0001:image', -1), { code: 'JUKI_ERR_INVALID_INPUT' });
    assert.throws(() => store.advanceCounter('card:0001:image', 1.5), { code: 'JUKI_ERR_INVALID_INPUT' });
    const again = reopen();
    assert.equal(again.readCounter('card:0001:image'), 2 ** 40);
    assert.throws(() => again.advanceCounter('card:0001:image', 2 ** 40 - 1), { code: 'JUKI_ERR_KEYSTORE' });
  });

  test(`[R2.2.5] ${label}: a destroyed key stays destroyed, even after reopening and even with create`, () => {
    const { store, reopen } = make();
    store.secretKey('card:0001:seal');
    store.destroyKey('card:0001:seal');
    for (const s of [store, reopen()]) {
      assert.equal(s.hasKey('card:0001:seal'), false);
      assert.throws(() => s.secretKey('card:0001:seal'), { code: 'JUKI_ERR_KEYSTORE', message: /destroyed/ });
      assert.throws(() => s.secretKey('card:0001:seal', false), { code: 'JUKI_ERR_KEYSTORE', message: /destroyed/ });
    }
    store.destroyKey('never:created');
    assert.throws(() => reopen().secretKey('never:created'), { message: /destroyed/ });
  });

  test(`${label}: names are validated with a precise error`, () => {
    const { store } = make();
    assert.throws(() => store.secretKey('Card'), { code: 'JUKI_ERR_INVALID_INPUT', message: /key name: expected only a-z 0-9 \. _ : -, got "Card" \(character "C" at 0\)/ });
    assert.throws(() => store.secretKey('../etc/passwd'), { code: 'JUKI_ERR_INVALID_INPUT', message: /character "\/" at 2/ });
    assert.throws(() => store.readCounter(''), { message: /got an empty name/ });
    assert.throws(() => store.advanceCounter('a'.repeat(129), 1), { message: /at most 128 characters, got 129/ });
    assert.throws(() => store.destroyKey('a b'), { message: /character " " at 1/ });
    assert.throws(() => store.hasKey('naïve'), { message: /character "ï"/ });
    assert.doesNotThrow(() => store.secretKey('a'.repeat(128)));
    assert.doesNotThrow(() => store.secretKey('.._:-9'));
  });
}

test('[R2.2.5] the software key store refuses a tampered key file', () => {
  const f = folder();
  const s = new SoftwareKeyStore(f);
  s.secretKey('card:0001:seal');
  const path = join(f, 'card:0001:seal.key');
  const bytes = readFileSync(path);
  for (const at of [0, 4, 6, 20, bytes.length - 1]) {
    const t = Buffer.from(bytes);
    t[at]! ^= 0x01;
    writeFileSync(path, t);
    assert.throws(() => new SoftwareKeyStore(f).secretKey('card:0001:seal'), { code: 'JUKI_ERR_KEYSTORE_TAMPERED' }, `byte ${at}`);
  }
  writeFileSync(path, bytes.subarray(0, bytes.length - 3));
  assert.throws(() => new SoftwareKeyStore(f).secretKey('card:0001:seal'), { code: 'JUKI_ERR_KEYSTORE_TAMPERED' });
  writeFileSync(path, bytes);
  assert.equal(new SoftwareKeyStore(f).secretKey('card:0001:seal', false).length, 32);
});

test('[R2.2.5] the software key store refuses a key file moved to another name, and a tampered counter', () => {
  const f = folder();
  const s = new SoftwareKeyStore(f);
  s.secretKey('a');
  s.secretKey('b');
  s.advanceCounter('c', 10);
  renameSync(join(f, 'a.key'), join(f, 'b.key'));
  assert.throws(() => new SoftwareKeyStore(f).secretKey('b'), { code: 'JUKI_ERR_KEYSTORE_TAMPERED', message: /failed authentication/ });
  const ctr = readFileSync(join(f, 'c.ctr'));
  ctr[ctr.length - 20]! ^= 0x80;
  writeFileSync(join(f, 'c.ctr'), ctr);
  assert.throws(() => new SoftwareKeyStore(f).readCounter('c'), { code: 'JUKI_ERR_KEYSTORE_TAMPERED' });
  assert.throws(() => new SoftwareKeyStore(f).advanceCounter('c', 11), { code: 'JUKI_ERR_KEYSTORE_TAMPERED' });
});

test('the software key store refuses records sealed under another KEK', () => {
  const f1 = folder();
  const f2 = folder();
  new SoftwareKeyStore(f1).secretKey('k');
  new SoftwareKeyStore(f2);
  writeFileSync(join(f2, 'k.key'), readFileSync(join(f1, 'k.key')));
  assert.throws(() => new SoftwareKeyStore(f2).secretKey('k'), { code: 'JUKI_ERR_KEYSTORE_TAMPERED' });
});

test('the software key store keeps its folder 0700 and files 0600, leaves no temporary files, and refuses a KEK others can read', () => {
  const f = folder();
  const s = new SoftwareKeyStore(f);
  s.secretKey('k');
  s.advanceCounter('c', 3);
  s.destroyKey('k');
  assert.equal(statSync(f).mode & 0o777, 0o700);
  for (const name of readdirSync(f)) {
    assert.ok(!name.endsWith('.tmp'), `no temporary file left: ${name}`);
    assert.equal(statSync(join(f, name)).mode & 0o777, 0o600, name);
  }
  assert.deepEqual(readdirSync(f).sort(), ['c.ctr', 'k.key', 'kek']);
  chmodSync(join(f, 'kek'), 0o644);
  assert.throws(() => new SoftwareKeyStore(f), { code: 'JUKI_ERR_KEYSTORE', message: /accessible by group or others \(mode 644\)/ });
});

test('the software key store overwrites a destroyed key: the old record is gone from the folder', () => {
  const f = folder();
  const s = new SoftwareKeyStore(f);
  const key = s.secretKey('k');
  const before = readFileSync(join(f, 'k.key'));
  s.destroyKey('k');
  const afterDestroy = readFileSync(join(f, 'k.key'));
  assert.ok(afterDestroy.length < before.length, 'a tombstone carries no key');
  assert.ok(!afterDestroy.includes(before.subarray(17, 49)), 'the sealed key is not in the tombstone');
  unlinkSync(join(f, 'k.key'));
  assert.notDeepEqual(new SoftwareKeyStore(f).secretKey('k'), key, 'deleting the tombstone yields a new key, never the old one');
});

test('a closed software key store refuses every call', () => {
  const s = new SoftwareKeyStore(folder());
  s.secretKey('k');
  s.close();
  assert.throws(() => s.secretKey('k'), { code: 'JUKI_ERR_KEYSTORE', message: /closed/ });
  assert.throws(() => s.readCounter('c'), { message: /closed/ });
});

test('[R2.2.5] the software key store: a power cut at every step of a counter write leaves the old or the new value, and a failed write leaves no temporary file', () => {
  const f = folder();
  new SoftwareKeyStore(f).advanceCounter('card:0001:pin:d392f0004a554b490001:1', 28);
  const points: string[] = [];
  new SoftwareKeyStore(folder(), { onWritePoint: (p) => points.push(p) }).advanceCounter('c', 1);
  assert.deepEqual(points, ['keystore:write-temp', 'keystore:fsync-temp', 'keystore:rename', 'keystore:fsync-dir'], 'one atomic write: temp, fsync, rename, fsync of the folder');
  for (const [i, point] of points.entries()) {
    const s = new SoftwareKeyStore(f, { onWritePoint: (p) => { if (p === point) throw new Error('power cut'); } });
    const before = s.readCounter('card:0001:pin:d392f0004a554b490001:1');
    assert.throws(() => s.advanceCounter('card:0001:pin:d392f0004a554b490001:1', before + 1), { code: 'JUKI_ERR_KEYSTORE' });
    const now = new SoftwareKeyStore(f).readCounter('card:0001:pin:d392f0004a554b490001:1');
    assert.equal(now, i < 3 ? before : before + 1, `cut at ${point}: ${i < 3 ? 'the old value' : 'the new value (renamed in place)'}`);
    assert.deepEqual(readdirSync(f).filter((n) => n.endsWith('.tmp')), []);
  }
});

test('the software key store reads counters from the folder every time: another writer\'s value, a tampered record and a deleted one are seen by an open store', () => {
  const f = folder();
  const a = new SoftwareKeyStore(f);
  const b = new SoftwareKeyStore(f);
  a.advanceCounter('c', 10);
  assert.equal(a.readCounter('c'), 10);
  b.advanceCounter('c', 12);
  assert.equal(a.readCounter('c'), 12, 'the other store\'s write');
  assert.throws(() => a.advanceCounter('c', 11), { code: 'JUKI_ERR_KEYSTORE', message: /it is 12, asked for 11/ });
  const rec = readFileSync(join(f, 'c.ctr'));
  const t = Buffer.from(rec);
  t[t.length - 1]! ^= 0x01;
  writeFileSync(join(f, 'c.ctr'), t);
  assert.throws(() => a.readCounter('c'), { code: 'JUKI_ERR_KEYSTORE_TAMPERED' });
  writeFileSync(join(f, 'c.ctr'), rec);
  assert.equal(a.readCounter('c'), 12);
  unlinkSync(join(f, 'c.ctr'));
  assert.equal(a.readCounter('c'), 0, 'deleted: reads 0 (the card notices: its image records a floor)');
});
