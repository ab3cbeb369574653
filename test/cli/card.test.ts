/** `juki card new|info|apdu` as a user runs them: child processes over a card file and a key store folder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { juki } from '../helpers/cli.ts';

function sandbox(): { dir: string; ks: string; card: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'juki-card-cli-'));
  return { dir, ks: join(dir, 'keystore'), card: join(dir, 'card.img'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const SELECT_ISD = '00A4040C08A000000151000000';
const SELECT_BASIC = '00A4040C0AD392F0004A554B490001';

test('[R2.2.2] juki card new writes a blank card locked by its lot: the lot master is created in the key store, the card answers blank', () => {
  const s = sandbox();
  try {
    const r = juki(['card', 'new', '--lot', 'L2025-04', '--out', s.card, '--serial', '4A4B00000007000000AA', '--keystore', s.ks]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `blank card 4A4B00000007000000AA of lot L2025-04 written to ${s.card} (transport keys KVN FF from the lot's master; JPKI initial keys KVN 4F; key store ${s.ks})\n`);
    assert.ok(existsSync(join(s.ks, 'master:jpki-initial:enc.key')), 'the JPKI initial master the maker shares with the jpki side');
    assert.ok(existsSync(join(s.ks, 'lot:l2025-04:transport-master.key')), 'the lot master is kept in the key store');
    assert.ok(existsSync(join(s.ks, 'card:4a4b00000007000000aa:image-seal.key')));
    // personalisation needs the transport channel: without it the card refuses
    const a = juki(['card', 'apdu', '--card', s.card, '--keystore', s.ks, SELECT_ISD, '80F0800700', '80CA9F7000']);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.stdout, '9000\n6982\n9F700101  9000\n');
  } finally {
    s.done();
  }
});

test('juki card new: --json, a random serial, refuses to overwrite without --force, and never makes two cards with one serial', () => {
  const s = sandbox();
  try {
    const r = juki(['card', 'new', '--lot', 'lot-7', '--out', s.card, '--json'], { JUKI_KEYSTORE: s.ks });
    assert.equal(r.status, 0, r.stderr);
    const made = JSON.parse(r.stdout);
    assert.match(made.serial, /^[0-9A-F]{20}$/);
    assert.deepEqual({ ...made, serial: 'X' }, { card: s.card, serial: 'X', lot: 'lot-7', lifecycle: 'blank', transportKvn: 0xff, jpkiInitialKvn: 0x4f, keystore: s.ks });
    const before = readFileSync(s.card);
    const again = juki(['card', 'new', '--lot', 'lot-7', '--out', s.card], { JUKI_KEYSTORE: s.ks });
    assert.equal(again.status, 1);
    assert.equal(again.stderr, `juki: --out: ${s.card} already exists; use --force to replace it\n`);
    assert.deepEqual(readFileSync(s.card), before, 'untouched');
    const dup = juki(['card', 'new', '--lot', 'lot-7', '--out', join(s.dir, 'other.img'), '--serial', made.serial], { JUKI_KEYSTORE: s.ks });
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, new RegExp(`^juki: --serial: a card with serial ${made.serial} was already made with this key store`));
    assert.equal(existsSync(join(s.dir, 'other.img')), false);
    const forced = juki(['card', 'new', '--lot', 'lot-7', '--out', s.card, '--force', '--json'], { JUKI_KEYSTORE: s.ks });
    assert.equal(forced.status, 0, forced.stderr);
    assert.notEqual(JSON.parse(forced.stdout).serial, made.serial);
    for (const [args, err] of [
      [['--out', s.card], /^juki: --lot: required/],
      [['--lot', 'x y', '--out', s.card], /^juki: --lot: expected 1 to 64 of A-Z a-z 0-9 \. _ -, got "x y"/],
      [['--lot', 'a', '--out', s.card, '--serial', '12'], /^juki: --serial: expected 10 bytes as 20 hex digits, got "12"/],
      [['--lot', 'a', '--out', join(s.dir, 'no', 'such', 'x.img')], /^juki: --out: no such folder/],
    ] as const) {
      const bad = juki(['card', 'new', ...args], { JUKI_KEYSTORE: s.ks });
      assert.equal(bad.status === 1 || bad.status === 2, true, bad.stderr);
      assert.match(bad.stderr, err);
      assert.equal(bad.stderr.split('\n').length, 2, 'one line');
    }
  } finally {
    s.done();
  }
});

test('the key store defaults to $JUKI_KEYSTORE, else <data dir>/keystore', () => {
  const s = sandbox();
  try {
    const r = juki(['card', 'new', '--lot', 'a', '--out', s.card], { JUKI_KEYSTORE: '', JUKI_DATA_DIR: join(s.dir, 'data') });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`key store ${join(s.dir, 'data', 'keystore').replace(/[.]/g, '\\.')}\\)\n$`), 'an empty $JUKI_KEYSTORE counts as unset');
    assert.ok(existsSync(join(s.dir, 'data', 'keystore', 'kek')));
    const viaEnv = juki(['card', 'info', '--card', s.card, '--json'], { JUKI_KEYSTORE: join(s.dir, 'data', 'keystore') });
    assert.equal(viaEnv.status, 0, viaEnv.stderr);
    const viaFlag = juki(['card', 'info', '--card', s.card, '--json', '--keystore', join(s.dir, 'data', 'keystore')], { JUKI_KEYSTORE: join(s.dir, 'elsewhere') });
    assert.equal(viaFlag.status, 0, viaFlag.stderr);
    const wrong = juki(['card', 'info', '--card', s.card], { JUKI_KEYSTORE: join(s.dir, 'elsewhere') });
    assert.equal(wrong.status, 1, 'another key store has no key for this card');
  } finally {
    s.done();
  }
});

test('juki card info prints serial, lifecycle, key versions and applications, nothing secret', () => {
  const s = sandbox();
  try {
    assert.equal(juki(['card', 'new', '--lot', 'a', '--out', s.card, '--serial', '00112233445566778899'], { JUKI_KEYSTORE: s.ks }).status, 0);
    const r = juki(['card', 'info', '--card', s.card], { JUKI_KEYSTORE: s.ks });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'serial       00112233445566778899\nlifecycle    blank\nissuer keys  KVN FF (transport)\napplications none\n');
    const j = juki(['card', 'info', '--card', s.card, '--json'], { JUKI_KEYSTORE: s.ks });
    assert.deepEqual(JSON.parse(j.stdout), { card: s.card, serial: '00112233445566778899', lifecycle: 'blank', issuerKeyVersions: ['FF'], applications: [], keystore: s.ks });
    // nothing the key store holds appears in the output
    for (const f of readdirSync(s.ks)) {
      const bytes = readFileSync(join(s.ks, f)).toString('hex').toUpperCase();
      if (f === 'kek') assert.ok(!r.stdout.includes(bytes.slice(0, 16)) && !j.stdout.includes(bytes.slice(0, 16)));
    }
  } finally {
    s.done();
  }
});

test('juki card apdu: one line per APDU (data, two spaces, SW), --json, and the card persists its own state between sessions', () => {
  const s = sandbox();
  try {
    assert.equal(juki(['card', 'new', '--lot', 'a', '--out', s.card, '--serial', '4A4B0000000700000042'], { JUKI_KEYSTORE: s.ks }).status, 0);
    const r = juki(['card', 'apdu', '--card', s.card, SELECT_ISD, '80CA004500', '00840000', SELECT_BASIC, '00 A4 04 00 08 A0 00 00 01 51 00 00 00 00'], { JUKI_KEYSTORE: s.ks });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '9000\n450A4A4B0000000700000042  9000\n6700\n6A82\n6F108408A000000151000000A5049F6501FF  9000\n');
    const j = juki(['card', 'apdu', '--card', s.card, '--json', '80CA004500'], { JUKI_KEYSTORE: s.ks });
    assert.deepEqual(JSON.parse(j.stdout), { card: s.card, responses: [{ command: '80CA004500', data: '450A4A4B0000000700000042', sw: '9000' }] });
    // INITIALIZE UPDATE on the ISD advances the pseudo-random sequence counter, persisted by the card: the next session continues it
    const iu = '8050FF0008000000000000000000';
    const seq = (out: string) => out.trim().split('  ')[0]!.slice(-6);
    const one = juki(['card', 'apdu', '--card', s.card, iu], { JUKI_KEYSTORE: s.ks });
    const two = juki(['card', 'apdu', '--card', s.card, iu], { JUKI_KEYSTORE: s.ks });
    assert.equal(seq(one.stdout), '000001');
    assert.equal(seq(two.stdout), '000002');
  } finally {
    s.done();
  }
});

test('juki card apdu: one-line errors for bad hex (naming the argument), a missing file, and a tampered image (whose sealing key is destroyed)', () => {
  const s = sandbox();
  try {
    assert.equal(juki(['card', 'new', '--lot', 'a', '--out', s.card, '--serial', '4A4B0000000700000043'], { JUKI_KEYSTORE: s.ks }).status, 0);
    const bad = juki(['card', 'apdu', '--card', s.card, '00A4040C', '00B0Z0', '00'], { JUKI_KEYSTORE: s.ks });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, 'juki: APDU argument 2: expected hex bytes (pairs of 0-9 A-F), got "00B0Z0"\n');
    assert.equal(bad.stdout, '', 'nothing was sent');
    const odd = juki(['card', 'apdu', '--card', s.card, '00A40'], { JUKI_KEYSTORE: s.ks });
    assert.equal(odd.stderr, 'juki: APDU argument 1: expected hex bytes (pairs of 0-9 A-F), got an odd number of hex digits (5)\n');
    const none = juki(['card', 'apdu', '--card', join(s.dir, 'missing.img'), '00A4040C'], { JUKI_KEYSTORE: s.ks });
    assert.equal(none.status, 1);
    assert.equal(none.stderr, `juki: --card: no such file: ${join(s.dir, 'missing.img')}\n`);
    const usage = juki(['card', 'apdu', '--card', s.card], { JUKI_KEYSTORE: s.ks });
    assert.equal(usage.status, 2);
    writeFileSync(join(s.dir, 'junk.img'), 'not a card');
    const junk = juki(['card', 'info', '--card', join(s.dir, 'junk.img')], { JUKI_KEYSTORE: s.ks });
    assert.equal(junk.stderr, `juki: --card: ${join(s.dir, 'junk.img')} was refused: it is not a sealed card image (no card header)\n`);
    // flip one byte of the sealed body
    const bytes = readFileSync(s.card);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(s.card, bytes);
    const t = juki(['card', 'apdu', '--card', s.card, '80CA004500'], { JUKI_KEYSTORE: s.ks });
    assert.equal(t.status, 1);
    assert.equal(t.stderr, `juki: --card: ${s.card} was refused: card 4A4B0000000700000043: the image fails authentication; the card's sealing key is destroyed\n`);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(s.card, bytes);
    const dead = juki(['card', 'info', '--card', s.card], { JUKI_KEYSTORE: s.ks });
    assert.equal(dead.status, 1);
    assert.match(dead.stderr, /was refused: .*no live sealing key; the card's sealing key is destroyed\n$/, 'the original bytes are no use once the key is gone');
  } finally {
    s.done();
  }
});
