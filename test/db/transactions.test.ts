/** Transactions are real on both dialects: all of a transaction commits, or none of it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { isUniqueViolation, type Database } from '../../src/db/index.ts';
import { openTestDb } from '../helpers/db.ts';

/** A scratch table outside the schema, so these tests depend on no concern's tables. */
async function scratch(database: Database): Promise<Kysely<any>> {
  const db = database.db as unknown as Kysely<any>;
  await db.schema
    .createTable('scratch_items')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('label', 'text', (c) => c.notNull())
    .execute();
  return db;
}

async function labels(db: Kysely<any>): Promise<string[]> {
  const rows = await db.selectFrom('scratch_items').select('label').orderBy('id').execute();
  return rows.map((r) => r.label as string);
}

test('a transaction that throws leaves nothing written', async () => {
  const database = await openTestDb();
  try {
    const db = await scratch(database);
    await assert.rejects(
      database.transaction(async (trx) => {
        const t = trx as unknown as Kysely<any>;
        await t.insertInto('scratch_items').values({ id: 1, label: 'one' }).execute();
        await t.insertInto('scratch_items').values({ id: 2, label: 'two' }).execute();
        throw new Error('power cut');
      }),
      /power cut/,
    );
    assert.deepEqual(await labels(db), []);
  } finally {
    await database.close();
  }
});

test('a transaction that fails on a duplicate key halfway leaves nothing written, and the error is recognised as a unique violation', async () => {
  const database = await openTestDb();
  try {
    const db = await scratch(database);
    await db.insertInto('scratch_items').values({ id: 1, label: 'existing' }).execute();
    let caught: unknown;
    try {
      await database.transaction(async (trx) => {
        const t = trx as unknown as Kysely<any>;
        await t.insertInto('scratch_items').values({ id: 2, label: 'new' }).execute();
        await t.insertInto('scratch_items').values({ id: 1, label: 'duplicate' }).execute();
      });
    } catch (e) {
      caught = e;
    }
    assert.ok(isUniqueViolation(caught), `expected a unique violation, got ${String(caught)}`);
    assert.equal(isUniqueViolation(new Error('other')), false);
    assert.deepEqual(await labels(db), ['existing']);
  } finally {
    await database.close();
  }
});

test('a committed transaction is visible to later queries and returns its value', async () => {
  const database = await openTestDb();
  try {
    const db = await scratch(database);
    const result = await database.transaction(async (trx) => {
      const t = trx as unknown as Kysely<any>;
      await t.insertInto('scratch_items').values([{ id: 1, label: 'one' }, { id: 2, label: 'two' }]).execute();
      // Reads inside the transaction see its own writes.
      return (await t.selectFrom('scratch_items').select('id').execute()).length;
    });
    assert.equal(result, 2);
    assert.deepEqual(await labels(db), ['one', 'two']);
  } finally {
    await database.close();
  }
});

test('transactions that run one after another each commit on their own', async () => {
  const database = await openTestDb();
  try {
    const db = await scratch(database);
    await Promise.all(
      [1, 2, 3, 4].map((id) =>
        database.transaction(async (trx) => {
          await (trx as unknown as Kysely<any>).insertInto('scratch_items').values({ id, label: `n${id}` }).execute();
          if (id === 3) throw new Error('only this one fails');
        }).catch(() => undefined),
      ),
    );
    assert.deepEqual(await labels(db), ['n1', 'n2', 'n4']);
  } finally {
    await database.close();
  }
});
