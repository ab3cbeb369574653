/** Where a database lives: SQLite paths and postgres:// URLs, and precise refusals of anything else. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { openDatabase, parseLocation } from '../../src/db/index.ts';
import { isJukiError } from '../../src/util/index.ts';

function refusal(location: string, message: RegExp): void {
  assert.throws(
    () => parseLocation(location),
    (e: unknown) => {
      assert.ok(isJukiError(e, 'JUKI_ERR_INVALID_DB_URL'), String(e));
      assert.match(e.message, message);
      assert.equal(e.details.field, 'db');
      return true;
    },
  );
}

test('parseLocation tells SQLite paths from PostgreSQL URLs', () => {
  assert.deepEqual(parseLocation('data/m.sqlite'), { dialect: 'sqlite', target: 'data/m.sqlite' });
  assert.deepEqual(parseLocation(':memory:'), { dialect: 'sqlite', target: ':memory:' });
  assert.deepEqual(parseLocation('sqlite:/tmp/x.sqlite'), { dialect: 'sqlite', target: '/tmp/x.sqlite' });
  assert.equal(parseLocation('postgres://u@db.example:5432/juki').dialect, 'postgres');
  assert.equal(parseLocation('postgresql://u:secret@db.example/juki').dialect, 'postgres');
});

test('parseLocation refuses an empty location', () => {
  refusal('', /^database: expected a SQLite file path or a postgres:\/\/ URL, got an empty string$/);
  refusal('   ', /got an empty string/);
});

test('parseLocation refuses schemes other than postgres://, naming the scheme', () => {
  refusal('mysql://u@h/db', /^database: unsupported scheme 'mysql:\/\/': expected a SQLite file path or a postgres:\/\/ URL$/);
  refusal('http://example.com/db', /unsupported scheme 'http:\/\/'/);
});

test('parseLocation refuses a PostgreSQL URL without a host, a database or a valid port', () => {
  refusal('postgres:///juki', /PostgreSQL URL names no host/);
  refusal('postgres://db.example', /PostgreSQL URL names no database/);
  refusal('postgres://db.example/', /PostgreSQL URL names no database/);
  refusal('postgres://db.example:99999/juki', /^database: PostgreSQL port: expected a number from 1 to 65535, got "99999"$/);
  refusal('postgres://db.example:abc/juki', /PostgreSQL port: expected a number from 1 to 65535, got "abc"/);
});

test('a refused PostgreSQL URL never shows its password', () => {
  assert.throws(
    () => parseLocation('postgres://user:hunter2@db.example'),
    (e: unknown) => isJukiError(e) && !e.message.includes('hunter2') && e.message.includes('***'),
  );
});

test('opening a SQLite file creates its folder', async () => {
  const dir = join(tmpdir(), `juki-db-${randomBytes(6).toString('hex')}`);
  const file = join(dir, 'nested', 'node.sqlite');
  try {
    const database = await openDatabase(file);
    try {
      assert.equal(database.dialect, 'sqlite');
      assert.equal(database.location, file);
    } finally {
      await database.close();
    }
    assert.ok(existsSync(file));
    // Reopening finds the migrations applied and the file intact.
    const again = await openDatabase(file);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SQLite location whose folder cannot be created is refused as a file error', async () => {
  const blocker = join(tmpdir(), `juki-db-${randomBytes(6).toString('hex')}`);
  writeFileSync(blocker, 'a file, not a folder');
  try {
    await assert.rejects(openDatabase(join(blocker, 'node.sqlite')), (e: unknown) => {
      assert.ok(isJukiError(e, 'JUKI_ERR_FILE'), String(e));
      assert.match(e.message, /^database: cannot create the folder of SQLite file /);
      return true;
    });
    assert.ok(existsSync(dirname(blocker)));
  } finally {
    rmSync(blocker, { force: true });
  }
});

test('a PostgreSQL server that cannot be reached is refused with the URL, password removed', async () => {
  await assert.rejects(openDatabase('postgres://u:secret@127.0.0.1:1/juki'), (e: unknown) => {
    assert.ok(isJukiError(e, 'JUKI_ERR_INVALID_DB_URL'), String(e));
    assert.match(e.message, /^database: cannot connect to postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/juki: /);
    assert.ok(!e.message.includes('secret'));
    return true;
  });
});
