/**
 * Messages enqueued in the net store's own transactions are handed to a started relay right
 * after their commit, written already claimed (attempt 1, next attempt after the backoff), so no
 * claim has to find them; acknowledged messages are marked delivered in batches. What must hold
 * whatever happens: nothing is sent for a rolled-back change, and a hand-over lost in a crash is
 * only late (the message falls due and a claim sends it). Real SQL store (SQLite, and PostgreSQL
 * with JUKI_TEST_DB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from '../helpers/db.ts';
import { Outbox, Relay, SqlNetStore, type Draft, type Envelope, type RelayOptions, type Transport } from '../../src/net/index.ts';
import type { Database } from '../../src/db/index.ts';

const status = (card: string): Draft<'card.status'> => ({
  type: 'card.status', from: 'municipality-131016', to: 'prefecture-13',
  body: { cardNumber: card, status: 'suspended', issuer: '131016', version: 1, changedAt: '2025-04-01T00:00:00.000Z' },
});
const cardOf = (e: Envelope) => (e.body as { cardNumber: string }).cardNumber;

/** Records every envelope sent and acknowledges it as applied. */
class RecordingTransport implements Transport {
  readonly sent: Envelope[] = [];
  async send(e: Envelope) {
    this.sent.push(e);
    return 'applied' as const;
  }
  async close() {}
}

async function outboxRow(database: Database, id: string) {
  return database.db.selectFrom('net_outbox').select(['state', 'attempts', 'next_attempt_at']).where('id', '=', id).executeTakeFirstOrThrow();
}

/** Counts the store's claims. */
function countClaims(store: SqlNetStore): { count: number } {
  const counter = { count: 0 };
  const claimDue = store.claimDue.bind(store);
  store.claimDue = (...args) => {
    counter.count++;
    return claimDue(...args);
  };
  return counter;
}

/** Wait (up to 10 s, polling) until `cond` holds: the relay's rounds run on real timers. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

/** A municipality's outbox on a fresh database, with a recording transport, counted claims and marks, and a relay (not started). */
async function sender(options: { now?: () => number; relay?: RelayOptions } = {}) {
  const database = await openTestDb();
  const store = new SqlNetStore(database);
  const outbox = new Outbox(store, 'municipality-131016', options.now ? { now: options.now } : {});
  const transport = new RecordingTransport();
  const claims = countClaims(store);
  const marks = { count: 0 };
  const deliveredMany = outbox.deliveredMany.bind(outbox);
  outbox.deliveredMany = (ids) => {
    marks.count++;
    return deliveredMany(ids);
  };
  const relay = new Relay(outbox, transport, { idleMs: 3_600_000, ...options.relay });
  return { database, store, outbox, transport, claims, marks, relay };
}

test('a message sent in the store\'s own transaction is written claimed and handed to the started relay after commit: no claim, marked delivered', async () => {
  const { database, outbox, transport, claims, relay } = await sender();
  try {
    relay.start();
    await until(() => claims.count >= 1, 'the first round\'s claim');
    claims.count = 0;
    const before = Date.now();
    const sent = await Promise.all(['C1', 'C2', 'C3'].map((c) => outbox.send(status(c))));
    // Already claimed in the enqueuing transaction: first attempt counted, next one after the backoff.
    for (const e of sent) {
      const row = await outboxRow(database, e.id);
      if (row.state === 'pending') {
        assert.equal(row.attempts, 1);
        assert.ok(Date.parse(row.next_attempt_at) >= before + 500, `next attempt ${row.next_attempt_at} is after the backoff`);
      }
    }
    await until(() => transport.sent.length === 3, 'three sends');
    await relay.settle();
    assert.deepEqual(transport.sent.map(cardOf).sort(), ['C1', 'C2', 'C3']);
    assert.equal(claims.count, 0, 'no claim was needed');
    for (const e of sent) assert.equal((await outboxRow(database, e.id)).state, 'delivered');
  } finally {
    await relay.stop();
    await database.close();
  }
});

test('a transaction that enqueues and then fails sends nothing and leaves nothing, alone or in a group batch with others that commit', async () => {
  const { database, store, outbox, transport, relay } = await sender();
  try {
    relay.start();
    // Three transactions in one turn: one group batch, each under its own savepoint.
    const results = await Promise.allSettled(['K1', 'K2', 'K3'].map((c) => store.transaction(async (tx) => {
      await outbox.enqueue(tx.trx, status(c));
      if (c === 'K2') throw new Error('the change failed');
    })));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    await assert.rejects(store.transaction(async (tx) => {
      await outbox.enqueue(tx.trx, status('K4'));
      throw new Error('alone, failed');
    }));
    await until(() => transport.sent.length >= 2, 'two sends');
    // Give a wrongly handed-over message the time to show up too.
    await new Promise((r) => setTimeout(r, 50));
    await relay.settle();
    assert.deepEqual(transport.sent.map(cardOf).sort(), ['K1', 'K3']);
    const cards = (await database.db.selectFrom('net_outbox').select('ordering_key').execute()).map((r) => r.ordering_key).sort();
    assert.deepEqual(cards, ['K1', 'K3']);
  } finally {
    await relay.stop();
    await database.close();
  }
});

test('a hand-over lost in a crash (committed, never sent) is only late: the message falls due after its backoff and a claim sends it', async () => {
  const database = await openTestDb();
  const store = new SqlNetStore(database);
  let now = Date.parse('2026-01-01T00:00:00.000Z');
  const outbox = new Outbox(store, 'municipality-131016', { now: () => now });
  // The process that enqueued dies between the commit and the send: its dispatcher drops it.
  const lost: Envelope[] = [];
  outbox.attachDispatcher({ canTake: () => true, dispatch: (e) => void lost.push(e) });
  const e = await outbox.send(status('L1'));
  assert.deepEqual(lost.map((x) => x.id), [e.id]);
  assert.equal((await outboxRow(database, e.id)).attempts, 1);
  outbox.attachDispatcher(undefined);

  // After a restart: not due before its backoff has passed, then claimed and sent.
  const transport = new RecordingTransport();
  const relay = new Relay(outbox, transport);
  assert.equal(await relay.tick(), 0, 'not due yet');
  assert.deepEqual((await outbox.pending()).undelivered.map((r) => r.envelope.id), [e.id], 'still pending, visible');
  now += 1_001;
  assert.equal(await relay.tick(), 1);
  await relay.settle();
  assert.deepEqual(transport.sent.map((x) => x.id), [e.id]);
  const row = await outboxRow(database, e.id);
  assert.equal(row.state, 'delivered');
  assert.equal(row.attempts, 2);
  await database.close();
});

test('a message enqueued in a transaction the caller opened itself is written due and found by a claim', async () => {
  const { database, outbox, transport, claims, relay } = await sender();
  try {
    relay.start();
    await until(() => claims.count >= 1, 'the first round\'s claim');
    claims.count = 0;
    const e = await database.transaction((trx) => outbox.enqueue(trx, status('B1')));
    await until(() => transport.sent.length === 1, 'the send');
    await relay.settle();
    assert.deepEqual(transport.sent.map((x) => x.id), [e.id]);
    assert.ok(claims.count >= 1, 'found by a claim');
    assert.equal((await outboxRow(database, e.id)).state, 'delivered');
  } finally {
    await relay.stop();
    await database.close();
  }
});

test('acknowledged messages are marked delivered together after markDelayMs; a mark lost in a crash costs only a resend', async () => {
  let now = Date.now();
  const { database, outbox, transport, marks, relay } = await sender({ now: () => now, relay: { markDelayMs: 60_000 } });
  try {
    relay.start();
    const sent = await Promise.all(Array.from({ length: 6 }, (_, i) => outbox.send(status(`M${i}`))));
    // Sent and acknowledged, the marks not yet written.
    await until(() => transport.sent.length === 6, 'six sends');
    assert.equal(marks.count, 0);
    assert.equal((await outbox.pending()).undelivered.length, 6, 'acknowledged but not marked: still pending');

    // The process dies before the marks are written; after a restart the messages fall due
    // and go again (the receiver's inbox acknowledges them as duplicates).
    now += 1_001;
    const again = new RecordingTransport();
    const restarted = new Relay(outbox, again);
    assert.equal(await restarted.tick(), 6);
    await restarted.settle();
    assert.deepEqual(again.sent.map((e) => e.id).sort(), sent.map((e) => e.id).sort());
    for (const e of sent) assert.equal((await outboxRow(database, e.id)).state, 'delivered');
    const afterRestart = marks.count;
    // The first relay's marks, written at its stop, find nothing left pending and change nothing.
    await relay.stop();
    assert.equal(marks.count, afterRestart + 1);
    for (const e of sent) assert.equal((await outboxRow(database, e.id)).attempts, 2);
  } finally {
    await relay.stop();
    await database.close();
  }
});

test('marks of messages acknowledged within markDelayMs are one statement', async () => {
  const { database, outbox, transport, marks, relay } = await sender({ relay: { markDelayMs: 60_000 } });
  try {
    relay.start();
    const sent = [];
    // Six sends in six separate rounds.
    for (let i = 0; i < 6; i++) {
      sent.push(await outbox.send(status(`S${i}`)));
      await until(() => transport.sent.length > i, `send ${i + 1}`);
    }
    assert.equal(transport.sent.length, 6);
    assert.equal(marks.count, 0);
    await relay.settle();
    assert.equal(marks.count, 1);
    for (const e of sent) assert.equal((await outboxRow(database, e.id)).state, 'delivered');
  } finally {
    await relay.stop();
    await database.close();
  }
});
