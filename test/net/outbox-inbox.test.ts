/**
 * The outbox and inbox logic on both stores: the SQL one (node database: SQLite, or PostgreSQL
 * with JUKI_TEST_DB) and the memory one the simulation uses. Same tests, same expectations.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Transaction } from 'kysely';
import { openTestDb } from '../helpers/db.ts';
import type { Schema } from '../../src/db/index.ts';
import {
  Inbox, MemoryNetStore, MemoryTx, Outbox, SqlNetStore, backoffDelay, type Draft, type Envelope, type NetStore,
} from '../../src/net/index.ts';

interface Harness<T> {
  store: NetStore<T>;
  /** The effect under test: record the message id (inside the inbox transaction). */
  effect(trx: T, e: Envelope): Promise<void>;
  effects(): Promise<string[]>;
  /** A caller's change in its own transaction, with the given messages enqueued. */
  change(outbox: Outbox<T>, drafts: Draft[], fail?: boolean): Promise<Envelope[]>;
  close(): Promise<void>;
}

async function sqlHarness(): Promise<Harness<Transaction<Schema>>> {
  const database = await openTestDb();
  await sql`create table t_effects (n integer primary key, message_id text not null)`.execute(database.db);
  let n = 0;
  return {
    store: new SqlNetStore(database),
    effect: async (trx, e) => void (await sql`insert into t_effects (n, message_id) values (${++n}, ${e.id})`.execute(trx)),
    effects: async () => (await sql<{ message_id: string }>`select message_id from t_effects order by n`.execute(database.db)).rows.map((r) => r.message_id),
    change: (outbox, drafts, fail) =>
      database.transaction(async (trx) => {
        const out = [];
        for (const d of drafts) out.push(await outbox.enqueue(trx, d));
        if (fail) throw new Error('the change failed');
        return out;
      }),
    close: () => database.close(),
  };
}

async function memoryHarness(): Promise<Harness<MemoryTx>> {
  const store = new MemoryNetStore();
  const effects: string[] = [];
  return {
    store,
    effect: async (trx, e) => {
      effects.push(e.id);
      trx.onRollback(() => effects.pop());
    },
    effects: async () => [...effects],
    change: (outbox, drafts, fail) =>
      store.transaction(async (tx) => {
        const out = [];
        for (const d of drafts) out.push(await outbox.enqueue(tx.trx, d));
        if (fail) throw new Error('the change failed');
        return out;
      }),
    close: async () => {},
  };
}

const status = (card: string, version: number): Draft<'card.status'> => ({
  type: 'card.status', from: 'municipality-131016', to: 'prefecture-13',
  body: { cardNumber: card, status: version % 2 ? 'active' : 'suspended', issuer: '131016', version, changedAt: '2025-04-01T00:00:00.000Z' },
});

function clock(start = Date.parse('2025-04-01T00:00:00.000Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

for (const [name, make] of [['SQL store', sqlHarness], ['memory store', memoryHarness]] as const) {
  describe(`outbox and inbox (${name})`, () => {
    test('enqueue numbers messages 1, 2, 3 per (sender, receiver, card) inside the caller\'s transaction', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const c = clock();
        const outbox = new Outbox(h.store, 'municipality-131016', { now: c.now });
        const [a1, a2, b1] = await h.change(outbox, [status('A', 1), status('A', 2), status('B', 1)]);
        assert.deepEqual([a1!.seq, a2!.seq, b1!.seq], [1, 2, 1]);
        assert.equal(a1!.key, 'A');
        const [a3] = await h.change(outbox, [status('A', 3)]);
        assert.equal(a3!.seq, 3);
        const pending = await outbox.pending();
        assert.deepEqual(pending.undelivered.map((r) => `${r.envelope.key}#${r.envelope.seq}`).sort(), ['A#1', 'A#2', 'A#3', 'B#1']);
      } finally {
        await h.close();
      }
    });

    test('a change that rolls back leaves no message and uses no sequence number', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const outbox = new Outbox(h.store, 'municipality-131016');
        await assert.rejects(h.change(outbox, [status('A', 1)], true), /the change failed/);
        assert.equal((await outbox.pending()).undelivered.length, 0);
        const [a] = await h.change(outbox, [status('A', 1)]);
        assert.equal(a!.seq, 1);
      } finally {
        await h.close();
      }
    });

    test('a claimed message is due again after its backoff unless acknowledged; a refusal makes it dead and visible', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const c = clock();
        const outbox = new Outbox(h.store, 'municipality-131016', { now: c.now, random: () => 0, backoff: { baseMs: 1000, maxMs: 8000 } });
        const [a, b] = await h.change(outbox, [status('A', 1), status('B', 1)]);
        assert.deepEqual((await outbox.claimDue()).map((e) => e.id).sort(), [a!.id, b!.id].sort());
        assert.deepEqual(await outbox.claimDue(), [], 'claimed messages wait for their retry time');
        assert.equal(await outbox.nextDueIn(), 500, 'random 0: half the 1 s base');
        await outbox.delivered(a!.id);
        c.advance(500);
        assert.deepEqual((await outbox.claimDue()).map((e) => e.id), [b!.id], 'unacknowledged: sent again');
        assert.equal(await outbox.nextDueIn(), 1000, 'second attempt: half of 2 s');
        await outbox.failed(b!.id, new (await import('../../src/util/index.ts')).JukiError('JUKI_ERR_NET_DENIED', 'no', { permanent: true }));
        const p = await outbox.pending();
        assert.deepEqual(p.undelivered, []);
        assert.deepEqual(p.dead.map((r) => [r.envelope.id, r.attempts, r.lastError]), [[b!.id, 2, 'JUKI_ERR_NET_DENIED: no']]);
        c.advance(60_000);
        assert.deepEqual(await outbox.claimDue(), [], 'dead and delivered messages are never sent again');
      } finally {
        await h.close();
      }
    });

    test('a transient failure keeps the message pending with its error', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const c = clock();
        const outbox = new Outbox(h.store, 'municipality-131016', { now: c.now });
        const [a] = await h.change(outbox, [status('A', 1)]);
        await outbox.claimDue();
        await outbox.failed(a!.id, new Error('connection refused'));
        const p = await outbox.pending();
        assert.deepEqual(p.undelivered.map((r) => [r.attempts, r.lastError]), [[1, 'connection refused']]);
      } finally {
        await h.close();
      }
    });

    test('the inbox applies a message once however often it arrives', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const outbox = new Outbox(h.store, 'municipality-131016');
        const inbox = new Inbox(h.store, 'prefecture-13', h.effect);
        const [a] = await h.change(outbox, [status('A', 1)]);
        assert.equal(await inbox.receive(a!), 'applied');
        assert.equal(await inbox.receive(a!), 'duplicate');
        assert.equal(await inbox.receive({ ...a!, id: 'other-id' }), 'duplicate', 'an old seq under a new id is not applied again');
        assert.deepEqual(await h.effects(), [a!.id]);
      } finally {
        await h.close();
      }
    });

    test('the inbox holds later sequence numbers until the gap fills, then applies in order', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const outbox = new Outbox(h.store, 'municipality-131016');
        const inbox = new Inbox(h.store, 'prefecture-13', h.effect);
        const [a1, a2, a3, b1] = await h.change(outbox, [status('A', 1), status('A', 2), status('A', 3), status('B', 1)]);
        assert.equal(await inbox.receive(a3!), 'held');
        assert.equal(await inbox.receive(a3!), 'duplicate');
        assert.equal(await inbox.receive(b1!), 'applied', 'another card is not held up');
        assert.equal(await inbox.receive(a2!), 'held');
        assert.deepEqual((await outbox.pending()).held.map((r) => r.envelope.seq), [3, 2]);
        assert.equal(await inbox.receive(a1!), 'applied');
        assert.deepEqual(await h.effects(), [b1!.id, a1!.id, a2!.id, a3!.id]);
        assert.deepEqual((await outbox.pending()).held, []);
        assert.equal(await inbox.receive(a2!), 'duplicate');
      } finally {
        await h.close();
      }
    });

    test('an effect that fails leaves no trace, so the redelivered message is applied', async () => {
      const h = await (make as () => Promise<Harness<unknown>>)();
      try {
        const outbox = new Outbox(h.store, 'municipality-131016');
        let fail = true;
        const inbox = new Inbox(h.store, 'prefecture-13', async (trx, e) => {
          await h.effect(trx, e);
          if (fail) throw new Error('disk full');
        });
        const [a] = await h.change(outbox, [status('A', 1)]);
        await assert.rejects(inbox.receive(a!), /disk full/);
        assert.deepEqual(await h.effects(), []);
        fail = false;
        assert.equal(await inbox.receive(a!), 'applied');
        assert.deepEqual(await h.effects(), [a!.id]);
      } finally {
        await h.close();
      }
    });
  });
}

test('backoff doubles per attempt, is capped, and jitters within [delay/2, delay]', () => {
  const b = { baseMs: 100, maxMs: 1000 };
  assert.deepEqual([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, () => 0, b)), [50, 100, 200, 400, 500, 500]);
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, () => 0.999999, b)), [99, 199, 399, 799, 999]);
});
