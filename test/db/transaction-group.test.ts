/**
 * TransactionGroup: concurrent transactions committed together, each under its own savepoint
 * (run on SQLite and, with JUKI_TEST_DB, on PostgreSQL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransactionGroup } from '../../src/db/index.ts';
import { openTestDb } from '../helpers/db.ts';

const row = (sender: string, seq = 0) => ({ receiver: 'r', sender, ordering_key: 'k', applied_seq: seq });

test('concurrent transactions share commits; one that throws is rolled back alone and its caller alone gets the error', async () => {
  const database = await openTestDb();
  try {
    const group = new TransactionGroup(database);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => group.transaction(async (trx) => {
      await trx.insertInto('net_cursors').values(row(`s${i}`)).execute();
      if (i % 7 === 3) throw new Error(`job ${i} refuses`);
      // A job sees what the jobs before it in its batch wrote.
      return i;
    })));
    for (let i = 0; i < 20; i++) {
      if (i % 7 === 3) assert.deepEqual(results[i], { status: 'rejected', reason: new Error(`job ${i} refuses`) });
      else assert.deepEqual(results[i], { status: 'fulfilled', value: i });
    }
    const senders = (await database.db.selectFrom('net_cursors').select('sender').execute()).map((r) => r.sender).sort();
    assert.deepEqual(senders, Array.from({ length: 20 }, (_, i) => i).filter((i) => i % 7 !== 3).map((i) => `s${i}`).sort());
    assert.ok(group.stats.batches < 20, `expected fewer commits than transactions, got ${group.stats.batches}`);
  } finally {
    await database.close();
  }
});

test('a caller is released only after its batch committed: its row is visible outside the transaction', async () => {
  const database = await openTestDb();
  try {
    const group = new TransactionGroup(database);
    const seen = await Promise.all(Array.from({ length: 10 }, (_, i) => group.transaction((trx) => trx.insertInto('net_cursors').values(row(`v${i}`)).execute())
      .then(async () => (await database.db.selectFrom('net_cursors').select('sender').where('sender', '=', `v${i}`).executeTakeFirst())?.sender)));
    assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => `v${i}`));
  } finally {
    await database.close();
  }
});

test('a batch whose transaction fails fails all its callers and leaves nothing', async () => {
  const database = await openTestDb();
  try {
    const group = new TransactionGroup(database);
    await database.db.insertInto('net_cursors').values(row('taken')).execute();
    // The lone job of a batch runs without a savepoint: its failure is the transaction's.
    await assert.rejects(group.transaction(async (trx) => {
      await trx.insertInto('net_cursors').values(row('lone')).execute();
      await trx.insertInto('net_cursors').values(row('taken')).execute();
    }));
    assert.equal((await database.db.selectFrom('net_cursors').select('sender').where('sender', '=', 'lone').execute()).length, 0);
    assert.equal(group.stats.failedBatches, 1);
    // The group goes on.
    assert.equal(await group.transaction(async (trx) => (await trx.insertInto('net_cursors').values(row('after')).execute(), 'ok')), 'ok');
  } finally {
    await database.close();
  }
});

test('after-commit hooks run once the batch committed, in job order; a job rolled back to its savepoint loses its own; a failed batch runs none', async () => {
  const database = await openTestDb();
  try {
    const group = new TransactionGroup(database);
    const ran: string[] = [];
    const results = await Promise.allSettled(['a', 'b', 'c'].map((name) => group.transaction(async (trx, onCommit) => {
      await trx.insertInto('net_cursors').values(row(name)).execute();
      onCommit(() => ran.push(name));
      if (name === 'b') throw new Error('b refuses');
    })));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(ran, ['a', 'c']);
    const rows = (await database.db.selectFrom('net_cursors').select('sender').execute()).map((r) => r.sender).sort();
    assert.deepEqual(rows, ['a', 'c']);

    // The whole transaction fails (a job breaks the transaction itself: a duplicate primary key
    // alone in its batch): no hook runs.
    const lone: string[] = [];
    await assert.rejects(group.transaction(async (trx, onCommit) => {
      onCommit(() => lone.push('x'));
      await trx.insertInto('net_cursors').values(row('a')).execute();
    }));
    assert.deepEqual(lone, []);
  } finally {
    await database.close();
  }
});

test('a batch runs its jobs without savepoints first; when one throws, the batch runs again under savepoints: the others\' rows and hooks count once', async () => {
  const database = await openTestDb();
  try {
    const group = new TransactionGroup(database);
    const runs = new Map<string, number>();
    const hooks: string[] = [];
    const job = (name: string, fail = false) => group.transaction(async (trx, onCommit) => {
      runs.set(name, (runs.get(name) ?? 0) + 1);
      await trx.insertInto('net_cursors').values(row(name)).execute();
      onCommit(() => hooks.push(name));
      if (fail) throw new Error(`${name} refuses`);
      return name;
    });
    // All succeed: each job runs once.
    assert.deepEqual(await Promise.all([job('p'), job('q'), job('r')]), ['p', 'q', 'r']);
    assert.deepEqual([...runs.values()], [1, 1, 1]);
    runs.clear();
    hooks.length = 0;
    // One fails: the batch is run again; each job's effect and hook are there once, the failed one's not at all.
    const results = await Promise.allSettled([job('x'), job('y', true), job('z')]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(hooks, ['x', 'z']);
    assert.ok((runs.get('x') ?? 0) >= 1 && (runs.get('z') ?? 0) >= 1);
    const names = (await database.db.selectFrom('net_cursors').select('sender').execute()).map((r) => r.sender).sort();
    assert.deepEqual(names, ['p', 'q', 'r', 'x', 'z']);
  } finally {
    await database.close();
  }
});
