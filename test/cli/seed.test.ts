/** `juki seed` as a user runs it: a child process writing a SQLite file under a data dir. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { juki } from '../helpers/cli.ts';

function dataDir(): string {
  return mkdtempSync(join(tmpdir(), 'juki-seed-'));
}

function rows(file: string): unknown[] {
  const db = new SQLite(file, { readonly: true });
  try {
    return db.prepare('select resident_code, family_name, given_name, family_kana, given_kana, birth_date, sex, address, change_reason, change_date from register_residents order by resident_code').all();
  } finally {
    db.close();
  }
}

test('juki seed writes the residents to <data dir>/municipality-CODE.sqlite and prints a one-line summary', () => {
  const dir = dataDir();
  try {
    const r = juki(['seed', '--municipality', '131016', '--residents', '25', '--seed', '42'], { JUKI_DATA_DIR: dir });
    assert.equal(r.status, 0, r.stderr);
    const file = join(dir, 'municipality-131016.sqlite');
    assert.match(r.stdout, new RegExp(`^seeded 25 residents of 東京都千代田区 \\(131016\\) with seed 42 into ${file.replace(/[.]/g, '\\.')} in \\d+\\.\\d s\\n$`));
    assert.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
    const stored = rows(file);
    assert.equal(stored.length, 25);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('juki seed is deterministic: the same arguments give the same residents in two databases', () => {
  const dir = dataDir();
  try {
    const a = join(dir, 'a.sqlite');
    const b = join(dir, 'b.sqlite');
    for (const db of [a, b]) {
      const r = juki(['seed', '--municipality', '011011', '--residents', '40', '--seed', '7', '--db', db, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const summary = JSON.parse(r.stdout);
      assert.deepEqual({ ...summary, elapsedMs: 0 }, {
        municipality: '011011',
        name: '北海道札幌市中央区',
        residents: 40,
        seed: 7,
        asOf: '2025-04-01',
        db,
        dialect: 'sqlite',
        elapsedMs: 0,
      });
    }
    assert.deepEqual(rows(a), rows(b));
    const c = join(dir, 'c.sqlite');
    assert.equal(juki(['seed', '--municipality', '011011', '--residents', '40', '--seed', '8', '--db', c]).status, 0);
    assert.notDeepEqual(rows(a), rows(c));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('juki seed --progress draws the progress bar on stderr', () => {
  const dir = dataDir();
  try {
    const r = juki(['seed', '--municipality', '131016', '--residents', '1200', '--db', join(dir, 'p.sqlite'), '--progress']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stderr.trim().split('\n').map((l) => l.replace(/\[.*\]/, '[]')), [
      'seeding [] 500/1200 41%',
      'seeding [] 1000/1200 83%',
      'seeding [] 1200/1200 100%',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('juki seed refuses bad arguments with a precise message and a non-zero exit, writing nothing', () => {
  const dir = dataDir();
  try {
    const cases: [string[], number, string][] = [
      [[], 2, "juki: --municipality: required: the 6-digit local-government code to seed, e.g. 131016 (see 'juki seed --help')"],
      [['--municipality', '13101'], 1, 'juki: --municipality: expected 6 digits, got 5'],
      [['--municipality', '131017'], 1, 'juki: --municipality: check digit of 131017 should be 6, got 7'],
      [['--municipality', '999997'], 1, 'juki: --municipality: 999997 is not in the municipality list'],
      [['--municipality', '131016', '--residents', '0'], 1, 'juki: --residents: expected a whole number from 1 to 4000000, got "0"'],
      [['--municipality', '131016', '--residents', '10k'], 1, 'juki: --residents: expected a whole number from 1 to 4000000, got "10k"'],
      [['--municipality', '131016', '--seed=-1'], 1, 'juki: --seed: expected a whole number from 0 to 4294967295, got "-1"'],
      [['--municipality', '131016', '--seed', '4294967296'], 1, 'juki: --seed: expected a whole number from 0 to 4294967295, got "4294967296"'],
      [['--municipality', '131016', '--as-of', '2025-02-30'], 1, 'juki: --as-of: 2025-02-30 is not a calendar date'],
      [['--municipality', '131016', '--db', 'mysql://u@h/juki'], 1, "juki: database: unsupported scheme 'mysql://': expected a SQLite file path or a postgres:// URL"],
      [['--municipality', '131016', '--db', 'postgres://db.example'], 1, 'juki: database: PostgreSQL URL names no database: "postgres://db.example"'],
      [['--municipality', '131016', 'extra'], 2, "juki: unexpected argument 'extra': usage: juki seed --municipality CODE [--residents N] [--seed N] [--as-of YYYY-MM-DD] [--db LOCATION] [--progress] [--json]"],
      [['--municipality', '131016', '--count', '5'], 2, "juki: Unknown option '--count'"],
    ];
    for (const [args, status, message] of cases) {
      const r = juki(['seed', ...args], { JUKI_DATA_DIR: dir });
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(message), `${args.join(' ')}:\n  got      ${r.stderr}  expected ${message}`);
      assert.equal(r.stdout, '');
      assert.deepEqual(readdirSync(dir), [], `${args.join(' ')} wrote nothing`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('juki seed refuses a register that already holds the municipality\'s residents, leaving it as it was', () => {
  const dir = dataDir();
  try {
    const db = join(dir, 'twice.sqlite');
    assert.equal(juki(['seed', '--municipality', '131016', '--residents', '10', '--db', db]).status, 0);
    const before = rows(db);
    const r = juki(['seed', '--municipality', '131016', '--residents', '10', '--seed', '2', '--db', db]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `juki: --db: the register of 131016 in ${db} already holds 10 residents; seed into an empty one\n`);
    assert.deepEqual(rows(db), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('juki seed reports a PostgreSQL server it cannot reach, without its password', () => {
  const r = juki(['seed', '--municipality', '131016', '--residents', '5', '--db', 'postgres://juki:s3cret@127.0.0.1:1/juki']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^juki: database: cannot connect to postgres:\/\/juki:\*\*\*@127\.0\.0\.1:1\/juki: /);
  assert.ok(!r.stderr.includes('s3cret'));
});
