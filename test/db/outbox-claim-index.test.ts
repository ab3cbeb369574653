/**
 * Migration 0008_net_outbox_claim: the relay's claim reads the due rows in index order instead
 * of sorting every due row of the sender (checked on SQLite's query plan; on PostgreSQL the
 * index is there, the planner chooses by statistics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { openTestDb } from '../helpers/db.ts';

test('the outbox claim query uses net_outbox_claim and sorts nothing', async () => {
  const database = await openTestDb();
  try {
    const db = database.db as unknown as Kysely<any>;
    if (database.dialect === 'postgres') {
      const rows = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'net_outbox'`.execute(db);
      assert.ok(rows.rows.some((r) => r.indexname === 'net_outbox_claim'));
      return;
    }
    // The query SqlNetStore.claimDue compiles to.
    const q = db
      .selectFrom('net_outbox')
      .select(['id', 'envelope', 'attempts'])
      .where('sender', '=', 'municipality-131016')
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', '2025-04-01T00:00:00.000Z')
      .orderBy('next_attempt_at')
      .orderBy('created_at')
      .orderBy('seq')
      .limit(64)
      .compile();
    const plan = await db.executeQuery({ ...q, sql: `EXPLAIN QUERY PLAN ${q.sql}` } as typeof q);
    const text = (plan.rows as unknown as { detail: string }[]).map((r) => r.detail).join('\n');
    assert.match(text, /USING INDEX net_outbox_claim/, text);
    assert.doesNotMatch(text, /TEMP B-TREE/, text);
  } finally {
    await database.close();
  }
});
