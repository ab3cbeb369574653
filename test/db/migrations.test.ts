/** Migrations apply on both dialects, and applying them again changes nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { migrateToLatest } from '../../src/db/index.ts';
import { migrations } from '../../src/db/migrations/index.ts';
import { openTestDb } from '../helpers/db.ts';

test('a fresh database has every migration applied, in order', async () => {
  const database = await openTestDb();
  try {
    const rows = await (database.db as unknown as Kysely<any>)
      .selectFrom('kysely_migration')
      .select('name')
      .orderBy('name')
      .execute();
    assert.deepEqual(
      rows.map((r) => r.name),
      Object.keys(migrations).sort(),
    );
    assert.deepEqual(Object.keys(migrations), Object.keys(migrations).sort(), 'migration names sort in the order they are listed');
  } finally {
    await database.close();
  }
});

test('migrating an up-to-date database again applies nothing and keeps the data', async () => {
  const database = await openTestDb();
  try {
    await database.db
      .insertInto('register_residents')
      .values({
        municipality_code: '131016',
        resident_code: '12345678901',
        family_name: '山田',
        given_name: '太郎',
        family_kana: 'ヤマダ',
        given_kana: 'タロウ',
        birth_date: '1980-01-02',
        sex: 'male',
        address: '東京都千代田区千代田一丁目1番1号',
        status: 'registered',
        change_reason: 'entry',
        change_date: '2020-04-01',
        version: 1,
        updated_at: '2020-04-01T00:00:00.000Z',
      })
      .execute();
    assert.deepEqual(await migrateToLatest(database), []);
    assert.deepEqual(await migrateToLatest(database), []);
    const { n } = await database.db.selectFrom('register_residents').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n), 1);
  } finally {
    await database.close();
  }
});

test('the register tables accept the full range of Unicode names, ideographic variation sequences included', async () => {
  const database = await openTestDb();
  try {
    const name = '葛\u{E0100}𠮷髙';
    await database.db
      .insertInto('register_residents')
      .values({
        municipality_code: '131016',
        resident_code: '12345678901',
        family_name: name,
        given_name: '花子',
        family_kana: 'カサイ',
        given_kana: 'ハナコ',
        birth_date: '1980-01-02',
        sex: 'female',
        address: '東京都千代田区',
        status: 'registered',
        change_reason: 'entry',
        change_date: '2020-04-01',
        version: 1,
        updated_at: '2020-04-01T00:00:00.000Z',
      })
      .execute();
    const row = await database.db.selectFrom('register_residents').select('family_name').executeTakeFirstOrThrow();
    assert.equal(row.family_name, name);
  } finally {
    await database.close();
  }
});

test('regression: two databases on one PostgreSQL server (separate schemas) migrate side by side', async () => {
  // Kysely looked for its migration tables in every schema, found the other database's,
  // and failed with 'relation "kysely_migration_lock" does not exist'.
  const [a, b] = await Promise.all([openTestDb(), openTestDb()]);
  try {
    assert.deepEqual(await migrateToLatest(a), []);
    assert.deepEqual(await migrateToLatest(b), []);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
