/**
 * The relay sends the envelopes it claimed for one receiver in batches when the transport can
 * (`Transport.sendBatch`), in claim order, and still settles each envelope on its own:
 * delivered, retried (transient) or dead (permanent), exactly as with single sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from '../helpers/db.ts';
import {
  MemoryNetStore, Outbox, Relay, SqlNetStore, permanentFailure, transientFailure, type DeliveryResult, type Draft, type Envelope, type Transport,
} from '../../src/net/index.ts';

const status = (card: string, to = 'prefecture-13'): Draft<'card.status'> => ({
  type: 'card.status', from: 'municipality-131016', to,
  body: { cardNumber: card, status: 'suspended', issuer: '131016', version: 1, changedAt: '2025-04-01T00:00:00.000Z' },
});

/** A transport that records each exchange and answers by card number. */
class BatchingTransport implements Transport {
  readonly exchanges: string[][] = [];
  constructor(readonly answer: (e: Envelope) => DeliveryResult) {}
  async send(e: Envelope) {
    this.exchanges.push([cardOf(e)]);
    const r = this.answer(e);
    if (!r.ok) throw r.error;
    return r.ack;
  }
  async sendBatch(es: readonly Envelope[]) {
    assert.ok(es.every((e) => e.to === es[0]!.to), 'one receiver per batch');
    this.exchanges.push(es.map(cardOf));
    return es.map((e) => this.answer(e));
  }
  async close() {}
}
const cardOf = (e: Envelope) => (e.body as { cardNumber: string }).cardNumber;

test('claimed envelopes go in one exchange per receiver (chunked by maxBatch); each is settled on its own', async () => {
  const outbox = new Outbox(new MemoryNetStore(), 'municipality-131016');
  const transport = new BatchingTransport((e) => {
    const card = cardOf(e);
    if (card === 'A2') return { ok: false, error: permanentFailure('JUKI_ERR_NET_DENIED', 'refused') };
    if (card === 'A3') return { ok: false, error: transientFailure('busy') };
    return { ok: true, ack: 'applied' };
  });
  const relay = new Relay(outbox, transport, { maxBatch: 3 });
  for (const card of ['A1', 'A2', 'A3', 'A4', 'A5']) await outbox.send(status(card));
  await outbox.send(status('N1', 'prefecture-27'));
  assert.equal(await relay.tick(), 6);
  await relay.settle();
  assert.deepEqual(transport.exchanges, [['A1', 'A2', 'A3'], ['A4', 'A5'], ['N1']]);
  const { undelivered, dead } = await outbox.pending();
  assert.deepEqual(dead.map((r) => cardOf(r.envelope)), ['A2'], 'refused for good: dead, alone');
  assert.deepEqual(undelivered.map((r) => cardOf(r.envelope)), ['A3'], 'a transient failure: pending, alone');
});

test('maxBatch 1, or a transport without sendBatch, sends each envelope alone', async () => {
  const outbox = new Outbox(new MemoryNetStore(), 'municipality-131016');
  const transport = new BatchingTransport(() => ({ ok: true, ack: 'applied' }));
  const relay = new Relay(outbox, transport, { maxBatch: 1 });
  for (const card of ['B1', 'B2']) await outbox.send(status(card));
  await relay.tick();
  await relay.settle();
  assert.deepEqual(transport.exchanges, [['B1'], ['B2']]);
  assert.deepEqual((await outbox.pending()).undelivered, []);
});

test('on the SQL store a batch\'s acknowledged messages are marked delivered together; a refused one is dead, alone', async () => {
  const database = await openTestDb();
  try {
    const store = new SqlNetStore(database);
    const outbox = new Outbox(store, 'municipality-131016');
    const transport = new BatchingTransport((e) => (cardOf(e) === 'S2'
      ? { ok: false, error: permanentFailure('JUKI_ERR_NET_DENIED', 'refused') }
      : { ok: true, ack: 'applied' }));
    const relay = new Relay(outbox, transport);
    for (const card of ['S1', 'S2', 'S3', 'S4']) await outbox.send(status(card));
    assert.equal(await relay.tick(), 4);
    await relay.settle();
    assert.deepEqual(transport.exchanges, [['S1', 'S2', 'S3', 'S4']]);
    const rows = (await store.listOutbox(['pending', 'delivered', 'dead'], 10)).sort((x, y) => cardOf(x.envelope).localeCompare(cardOf(y.envelope)));
    assert.deepEqual(rows.map((r) => [cardOf(r.envelope), r.state, r.deliveredAt !== null]), [
      ['S1', 'delivered', true], ['S2', 'dead', false], ['S3', 'delivered', true], ['S4', 'delivered', true],
    ]);
    assert.equal(await store.markDeliveredMany([rows[0]!.envelope.id, rows[1]!.envelope.id], new Date().toISOString()), 0, 'only pending rows are marked');
  } finally {
    await database.close();
  }
});

test('with its exchanges to a receiver all in flight, a started relay keeps what comes meanwhile for the next exchange: batches grow under load, a lone message still goes at once', async () => {
  const outbox = new Outbox(new MemoryNetStore(), 'municipality-131016');
  const exchanges: string[][] = [];
  const answers: (() => void)[] = [];
  // Each exchange is answered only when the test says so.
  const transport: Transport = {
    async send(e) {
      exchanges.push([cardOf(e)]);
      await new Promise<void>((resolve) => answers.push(resolve));
      return 'applied';
    },
    async sendBatch(es) {
      exchanges.push(es.map(cardOf));
      await new Promise<void>((resolve) => answers.push(resolve));
      return es.map(() => ({ ok: true, ack: 'applied' as const }));
    },
    async close() {},
  };
  const relay = new Relay(outbox, transport, { maxExchanges: 1, idleMs: 3_600_000 });
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(cond());
  };
  relay.start();
  try {
    await outbox.send(status('L1'));
    await until(() => exchanges.length === 1);
    assert.deepEqual(exchanges, [['L1']], 'a lone message goes at once');
    for (const card of ['L2', 'L3', 'L4']) await outbox.send(status(card));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(exchanges.length, 1, 'the one exchange allowed is in flight: the others wait');
    answers.shift()!();
    await until(() => exchanges.length === 2);
    assert.deepEqual(exchanges[1], ['L2', 'L3', 'L4'], 'what waited goes in one exchange');
    // Another receiver is not held up by this one.
    await outbox.send(status('P1', 'prefecture-27'));
    await until(() => exchanges.length === 3);
    assert.deepEqual(exchanges[2], ['P1']);
    while (answers.length > 0) answers.shift()!();
    await relay.settle();
    assert.deepEqual((await outbox.pending()).undelivered, []);
  } finally {
    while (answers.length > 0) answers.shift()!();
    await relay.stop();
  }
});
