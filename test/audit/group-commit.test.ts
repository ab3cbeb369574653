/**
 * Group commit of `AuditLog.record`: concurrent records share transactions, keep their order and
 * the hash chain, resolve only once committed, and a batch that fails fails every caller of that
 * batch and leaves nothing behind (run on SQLite and, with JUKI_TEST_DB, on PostgreSQL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openTestDb } from '../helpers/db.ts';
import { AuditLog, GENESIS_HASH, type AuditEntry } from '../../src/audit/index.ts';
import { GroupCommit } from '../../src/db/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { sampleEvent, testLog } from './fixtures.ts';

test('concurrent records are committed in fewer transactions, in call order, and the chain verifies', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const n = 300;
    const entries = await Promise.all(Array.from({ length: n }, (_, i) => log.record(sampleEvent(i))));
    // Each caller got its own entry, numbered in the order the records were made.
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));
    assert.deepEqual(entries.map((e) => e.subject), Array.from({ length: n }, (_, i) => `resident:${[10000000000, 20000000000, 30000000000][i % 3]! + i}`));
    const stats = log.groupCommitStats;
    assert.equal(stats.items, n);
    assert.ok(stats.batches < n, `expected batching, got ${stats.batches} transactions for ${n} records`);
    assert.ok(stats.largest <= 256, `a batch is at most maxBatch: ${stats.largest}`);
    assert.deepEqual(await log.list({ limit: n }), entries);
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, n);
    assert.deepEqual(await log.head(), { seq: n, hash: entries[n - 1]!.hash });
  } finally {
    await database.close();
  }
});

test('a record resolves only after its entry is committed: what it returns is already stored', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const stored = await Promise.all(Array.from({ length: 40 }, (_, i) => log.record(sampleEvent(i)).then(async (e) => {
      // Read from outside the writing transaction, as soon as this caller is released.
      const head = await log.head();
      return { e, headSeq: head.seq };
    })));
    for (const { e, headSeq } of stored) assert.ok(headSeq >= e.seq, `entry ${e.seq} was released before the head reached it (${headSeq})`);
  } finally {
    await database.close();
  }
});

test('records and appends inside other transactions interleave on one chain that verifies', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      work.push(i % 4 === 0 ? database.transaction((trx) => log.append(trx, sampleEvent(i))) : log.record(sampleEvent(i)));
    }
    await Promise.all(work);
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, 60);
  } finally {
    await database.close();
  }
});

test('a failed batch fails every caller of that batch, keeps nothing of it, and the chain goes on intact', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const first = await log.record(sampleEvent(0));
    // Make the next transaction fail at its insert: a stray row where entry 3 would go (what a
    // disk error or a crash in the middle of the batch amounts to: the transaction rolls back).
    const stray = { ...first, seq: 3, hash: 'f'.repeat(64) };
    await database.db.insertInto('audit_entries').values({
      node_id: stray.node, seq: stray.seq, at: stray.at, event_type: stray.type, actor: stray.actor, subject: stray.subject,
      outcome: stray.outcome, reason: stray.reason, details: stray.details, prev_hash: stray.prevHash, hash: stray.hash,
    }).execute();
    // Three records made in the same turn form one batch (entries 2, 3, 4): all three fail.
    const results = await Promise.allSettled([log.record(sampleEvent(1)), log.record(sampleEvent(2)), log.record(sampleEvent(3))]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    const errors = results.map((r) => (r as PromiseRejectedResult).reason);
    assert.ok(errors.every((e) => e === errors[0]), 'every caller of the batch gets the batch\'s error');
    assert.equal(log.groupCommitStats.failedBatches, 1);
    await database.db.deleteFrom('audit_entries').where('node_id', '=', stray.node).where('seq', '=', 3).execute();
    // Nothing of the failed batch remains: the head is still entry 1, and the chain verifies.
    assert.deepEqual(await log.head(), { seq: 1, hash: first.hash });
    assert.deepEqual((await log.list({ limit: 10 })).map((e) => e.seq), [1]);
    const next = await log.record(sampleEvent(4));
    assert.equal(next.seq, 2);
    assert.equal(next.prevHash, first.hash);
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, 2);
  } finally {
    await database.close();
  }
});

test('an invalid event is refused on its own: the batch it was made with commits without it', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const results = await Promise.allSettled([
      log.record(sampleEvent(0)),
      log.record({ ...sampleEvent(1), details: { undeclared: 1 } } as never),
      log.record(sampleEvent(2)),
    ]);
    assert.equal(results[0]!.status, 'fulfilled');
    assert.equal(results[1]!.status, 'rejected');
    const reason = (results[1] as PromiseRejectedResult).reason;
    assert.equal(isJukiError(reason, 'JUKI_ERR_INVALID_INPUT') && reason.details.field, 'details.undeclared');
    assert.equal(results[2]!.status, 'fulfilled');
    assert.deepEqual((await log.list({ limit: 10 })).map((e) => e.seq), [1, 2]);
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
  } finally {
    await database.close();
  }
});

test('maxBatch 1 commits each record on its own (group commit off), the chain the same', async () => {
  const database = await openTestDb();
  try {
    const log = new AuditLog(database, 'national', { maxBatch: 1 });
    const entries: AuditEntry[] = await Promise.all(Array.from({ length: 12 }, (_, i) => log.record(sampleEvent(i))));
    assert.equal(log.groupCommitStats.batches, 12);
    assert.equal(entries[0]!.prevHash, GENESIS_HASH);
    assert.equal((await log.verify()).ok, true);
  } finally {
    await database.close();
  }
});

test('GroupCommit: any pattern of submissions and failing batches settles each caller exactly as its batch did', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 5 }),
      async (waves, maxBatch) => {
        const committed: number[] = [];
        const failing = new Set<number>();
        const batchOf = new Map<number, number[]>();
        let batchNo = 0;
        const group = new GroupCommit<number, number>(async (items) => {
          const b = batchNo++;
          for (const i of items) batchOf.set(i, [...items]);
          await new Promise((r) => setImmediate(r));
          if (items.some((i) => failing.has(i))) throw new Error(`batch ${b} failed`);
          committed.push(...items);
          return items.map((i) => i * 10);
        }, { maxBatch });
        let next = 0;
        const all: Promise<PromiseSettledResult<number>[]>[] = [];
        for (const [count, poison] of waves) {
          const wave: Promise<number>[] = [];
          for (let k = 0; k < count; k++) {
            const item = next++;
            if (poison && k === 0) failing.add(item);
            wave.push(group.submit(item));
          }
          all.push(Promise.allSettled(wave));
          await new Promise((r) => setImmediate(r));
        }
        const settled = (await Promise.all(all)).flat();
        for (let i = 0; i < settled.length; i++) {
          const r = settled[i]!;
          const batch = batchOf.get(i)!;
          assert.ok(batch.length <= maxBatch);
          const batchFailed = batch.some((x) => failing.has(x));
          if (batchFailed) assert.equal(r.status, 'rejected', `item ${i} in failed batch ${batch}`);
          else assert.deepEqual(r, { status: 'fulfilled', value: i * 10 });
        }
        // Committed in submission order, and nothing of a failed batch.
        assert.deepEqual(committed, [...committed].sort((a, b) => a - b));
        assert.equal(committed.length, settled.filter((r) => r.status === 'fulfilled').length);
      },
    ),
    { numRuns: 100 },
  );
});
