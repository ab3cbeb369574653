/**
 * Verifying the chain: every kind of tampering is found and the first broken seq is named
 * (run on SQLite and, with JUKI_TEST_DB, on PostgreSQL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sql } from 'kysely';
import { openTestDb } from '../helpers/db.ts';
import { entryHash, verifyChain, type AuditEntry, type VerifyProgress } from '../../src/audit/index.ts';
import type { Database } from '../../src/db/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { appendSamples, testLog } from './fixtures.ts';

const NODE = 'municipality-131016';

async function withChain(n: number, fn: (database: Database) => Promise<void>): Promise<void> {
  const database = await openTestDb();
  try {
    await appendSamples(testLog(database, NODE), n);
    await fn(database);
  } finally {
    await database.close();
  }
}

async function rowsOf(database: Database): Promise<AuditEntry[]> {
  return testLog(database, NODE).list({ limit: 100000 });
}

/** Write an entry's fields (all but node and seq) into the row at `seq`. */
async function overwrite(database: Database, seq: number, e: AuditEntry): Promise<void> {
  await database.db
    .updateTable('audit_entries')
    .set({ at: e.at, event_type: e.type, actor: e.actor, subject: e.subject, outcome: e.outcome, reason: e.reason, details: e.details, prev_hash: e.prevHash, hash: e.hash })
    .where('node_id', '=', NODE)
    .where('seq', '=', seq)
    .execute();
}

test('an intact chain verifies, in batches, reporting progress after each batch', async () => {
  await withChain(10, async (database) => {
    const progress: VerifyProgress[] = [];
    const result = await verifyChain(database.db, NODE, { batchSize: 3, onProgress: (p) => progress.push(p) });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, 10);
    assert.equal(result.headSeq, 10);
    assert.deepEqual(progress.map((p) => p.verified), [3, 6, 9, 10]);
    assert.ok(progress.every((p) => p.total === 10 && p.node === NODE));
  });
});

test('an empty chain verifies', async () => {
  const database = await openTestDb();
  try {
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.ok, true);
    assert.equal(result.verified, 0);
  } finally {
    await database.close();
  }
});

test('a row edited with raw SQL is found: verify names its seq as edited', async () => {
  await withChain(8, async (database) => {
    await sql`UPDATE audit_entries SET details = ${'{"cause":"birth","municipality":"999999"}'} WHERE node_id = ${NODE} AND seq = ${5}`.execute(database.db);
    const result = await verifyChain(database.db, NODE, { batchSize: 2 });
    assert.equal(result.ok, false);
    assert.equal(result.broken?.seq, 5);
    assert.equal(result.broken?.problem, 'edited');
    assert.equal(result.verified, 4);
    assert.match(result.broken!.message, /entry 5 was edited/);
  });
});

test('a deleted row is found as a gap', async () => {
  await withChain(8, async (database) => {
    await sql`DELETE FROM audit_entries WHERE node_id = ${NODE} AND seq IN (${3}, ${4})`.execute(database.db);
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 3);
    assert.equal(result.broken?.problem, 'deleted');
    assert.match(result.broken!.message, /entries 3\.\.4 are missing/);
  });
});

test('a deleted last row is found against the head', async () => {
  await withChain(5, async (database) => {
    await sql`DELETE FROM audit_entries WHERE node_id = ${NODE} AND seq = ${5}`.execute(database.db);
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 5);
    assert.equal(result.broken?.problem, 'deleted');
  });
});

test('two rows with swapped contents are found as reordered, naming where the content came from', async () => {
  await withChain(8, async (database) => {
    const rows = await rowsOf(database);
    await overwrite(database, 3, rows[4]!);
    await overwrite(database, 5, rows[2]!);
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 3);
    assert.equal(result.broken?.problem, 'reordered');
    assert.match(result.broken!.message, /entry 3 holds the contents of entry 5/);
  });
});

test('two adjacent rows swapped are found as reordered', async () => {
  await withChain(6, async (database) => {
    const rows = await rowsOf(database);
    await overwrite(database, 2, rows[2]!);
    await overwrite(database, 3, rows[1]!);
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 2);
    assert.equal(result.broken?.problem, 'reordered');
    assert.match(result.broken!.message, /entry 2 holds the contents of entry 3/);
  });
});

test('a row edited and re-hashed breaks the link of the next one', async () => {
  await withChain(6, async (database) => {
    const rows = await rowsOf(database);
    const edited = { ...rows[2]!, actor: 'staff:S9999' };
    await overwrite(database, 3, { ...edited, hash: entryHash(edited) });
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 4);
    assert.equal(result.broken?.problem, 'bad-link');
  });
});

test('the last row edited and re-hashed is found against the head', async () => {
  await withChain(4, async (database) => {
    const rows = await rowsOf(database);
    const edited = { ...rows[3]!, actor: 'staff:S9999' };
    await overwrite(database, 4, { ...edited, hash: entryHash(edited) });
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 4);
    assert.equal(result.broken?.problem, 'head-mismatch');
  });
});

test('a row inserted past the head behind the log\'s back is found', async () => {
  await withChain(3, async (database) => {
    const [last] = (await rowsOf(database)).slice(-1);
    const forged = { ...last!, seq: 4, prevHash: last!.hash };
    await database.db.insertInto('audit_entries').values({
      node_id: NODE, seq: 4, at: forged.at, event_type: forged.type, actor: forged.actor, subject: forged.subject,
      outcome: forged.outcome, reason: forged.reason, details: forged.details, prev_hash: forged.prevHash, hash: entryHash(forged),
    }).execute();
    const result = await verifyChain(database.db, NODE);
    assert.equal(result.broken?.seq, 4);
    assert.equal(result.broken?.problem, 'head-mismatch');
  });
});

/** What an administrator with full database access can do: change entry `from` and re-hash everything after it, head included. */
async function rewriteFrom(database: Database, from: number): Promise<void> {
  const rows = await rowsOf(database);
  let prevHash = rows[from - 2]?.hash ?? rows[0]!.prevHash;
  for (const row of rows.slice(from - 1)) {
    const changed = { ...row, prevHash, actor: row.seq === from ? 'staff:S0666' : row.actor };
    const rewritten = { ...changed, hash: entryHash(changed) };
    await overwrite(database, row.seq, rewritten);
    prevHash = rewritten.hash;
  }
  await database.db.updateTable('audit_heads').set({ hash: prevHash }).where('node_id', '=', NODE).execute();
}

test('a chain rewritten consistently passes on its own but is caught by a checkpoint held outside', async () => {
  await withChain(4, async (database) => {
    const log = testLog(database, NODE);
    const early = await log.checkpoint();
    await appendSamples(log, 4, 4);
    const held = await log.checkpoint();
    assert.deepEqual([held.node, held.seq, held.headHash], [NODE, 8, (await log.head()).hash]);
    await appendSamples(log, 2, 8);
    assert.equal((await log.verify({ checkpoints: [early, held] })).ok, true);

    await rewriteFrom(database, 6);
    assert.equal((await log.verify()).ok, true, 'a consistent rewrite is invisible without checkpoints');
    const result = await log.verify({ checkpoints: [held, early] });
    assert.equal(result.ok, false);
    assert.equal(result.broken?.seq, 8);
    assert.equal(result.broken?.problem, 'checkpoint-mismatch');
    assert.match(result.broken!.message, /rewritten after seq 4/);
  });
});

test('a chain cut short with its head rewound is caught by a checkpoint past its end', async () => {
  await withChain(6, async (database) => {
    const log = testLog(database, NODE);
    const held = await log.checkpoint();
    const rows = await rowsOf(database);
    await database.db.deleteFrom('audit_entries').where('node_id', '=', NODE).where('seq', '>', 4).execute();
    await database.db.updateTable('audit_heads').set({ seq: 4, hash: rows[3]!.hash }).where('node_id', '=', NODE).execute();
    assert.equal((await log.verify()).ok, true);
    const result = await log.verify({ checkpoints: [held] });
    assert.equal(result.broken?.problem, 'deleted');
    assert.equal(result.broken?.seq, 5);
  });
});

test('checkpoints of another node or malformed ones are refused', async () => {
  await withChain(2, async (database) => {
    const cp = await testLog(database, NODE).checkpoint();
    await assert.rejects(verifyChain(database.db, NODE, { checkpoints: [{ ...cp, node: 'prefecture-13' }] }), (e) => isJukiError(e) && e.details.field === 'checkpoints[0].node');
    await assert.rejects(verifyChain(database.db, NODE, { checkpoints: [{ ...cp, headHash: 'zz' }] }), (e) => isJukiError(e) && e.details.field === 'checkpoints[0].headHash');
    await assert.rejects(verifyChain(database.db, NODE, { checkpoints: [{ ...cp, seq: -1 }] }), (e) => isJukiError(e) && e.details.field === 'checkpoints[0].seq');
  });
});

// Property: whatever single field of whatever row is changed, verification fails at that row.
const TEXT_COLUMNS = ['at', 'event_type', 'actor', 'subject', 'outcome', 'reason', 'details', 'prev_hash', 'hash'] as const;
type Mutation = { seq: number } & ({ column: (typeof TEXT_COLUMNS)[number]; value: string } | { column: 'seq'; value: number } | { column: 'node_id'; value: string });

test('any single-row mutation of any field is detected at that row (property)', async () => {
  const n = 6;
  await withChain(n, async (database) => {
    const original = await rowsOf(database);
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.record({ seq: fc.integer({ min: 1, max: n }), column: fc.constantFrom(...TEXT_COLUMNS), value: fc.string({ maxLength: 70 }) }),
      fc.record({ seq: fc.integer({ min: 1, max: n }), column: fc.constant('seq' as const), value: fc.integer({ min: n + 1, max: 1_000_000 }) }),
      fc.record({ seq: fc.integer({ min: 1, max: n }), column: fc.constant('node_id' as const), value: fc.constantFrom('prefecture-13', 'municipality-131017', 'x') }),
    );
    const columnOf = (row: AuditEntry, column: Mutation['column']): string | number =>
      ({ at: row.at, event_type: row.type, actor: row.actor, subject: row.subject, outcome: row.outcome, reason: row.reason, details: row.details, prev_hash: row.prevHash, hash: row.hash, seq: row.seq, node_id: row.node })[column];
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const row = original[m.seq - 1]!;
        fc.pre(columnOf(row, m.column) !== m.value);
        const set = (column: string, value: string | number) => sql`UPDATE audit_entries SET ${sql.ref(column)} = ${value}`;
        await sql`${set(m.column, m.value)} WHERE node_id = ${NODE} AND seq = ${m.seq}`.execute(database.db);
        try {
          const result = await verifyChain(database.db, NODE, { batchSize: 4 });
          assert.equal(result.ok, false, `undetected: ${JSON.stringify(m)}`);
          assert.equal(result.broken?.seq, m.seq, `${JSON.stringify(m)} -> ${JSON.stringify(result.broken)}`);
        } finally {
          // Put the row back exactly as it was, and prove the chain whole again.
          const node = m.column === 'node_id' ? m.value : NODE;
          const seq = m.column === 'seq' ? m.value : m.seq;
          await sql`${set(m.column, columnOf(row, m.column))} WHERE node_id = ${node} AND seq = ${seq}`.execute(database.db);
        }
        assert.equal((await verifyChain(database.db, NODE)).ok, true);
      }),
      { numRuns: 80 },
    );
  });
});
