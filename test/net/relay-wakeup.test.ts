/**
 * The relay wakes up on an enqueue instead of waiting for its idle round: proven on virtual
 * timers (no sleeps, no timings): with an idle interval of an hour, a message enqueued at
 * virtual time 0 reaches the receiver's inbox while the virtual clock still reads 0. Real
 * parts throughout: outbox and inbox over the memory store, the Gate, the in-process transport
 * with node certificates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Gate, Inbox, InProcessNetwork, MemoryNetStore, Outbox, Relay, createNetworkCa, issueNodeCertificate, type Draft, type Envelope, type MemoryTx,
} from '../../src/net/index.ts';
import type { RelayTimers } from '../../src/net/relay.ts';

const HOUR = 3_600_000;

/** One-shot timers on a virtual clock that moves only when the test moves it. */
class VirtualTimers implements RelayTimers {
  now = 0;
  #tasks: { at: number; fn: () => void }[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const task = { at: this.now + ms, fn };
    this.#tasks.push(task);
    return task;
  }

  clearTimeout(handle: unknown): void {
    this.#tasks = this.#tasks.filter((t) => t !== handle);
  }

  /** Due times of the timers set, ascending. */
  get pending(): number[] {
    return this.#tasks.map((t) => t.at).sort((a, b) => a - b);
  }

  /** Run every timer due at the current virtual time (and those they set for it), letting promises settle in between. */
  async runDue(): Promise<number> {
    let ran = 0;
    for (;;) {
      await settle();
      const due = this.#tasks.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (!due) return ran;
      this.#tasks = this.#tasks.filter((t) => t !== due);
      due.fn();
      ran++;
    }
  }
}

/** Let every pending promise chain run (the memory store and in-process transport never touch real I/O). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

const status = (card: string): Draft<'card.status'> => ({
  type: 'card.status', from: 'municipality-131016', to: 'prefecture-13',
  body: { cardNumber: card, status: 'suspended', issuer: '131016', version: 1, changedAt: '2025-04-01T00:00:00.000Z' },
});

async function twoNodes() {
  const ca = await createNetworkCa();
  const sender = await issueNodeCertificate(ca, { role: 'municipality', code: '131016' });
  const network = new InProcessNetwork(ca.certPem);
  const received: Envelope[] = [];
  const inbox = new Inbox(new MemoryNetStore(), 'prefecture-13', async (_trx: MemoryTx, e) => {
    received.push(e);
  });
  network.attach(new Gate({ self: { role: 'prefecture', code: '13' }, inbox }));
  const outbox = new Outbox(new MemoryNetStore(), 'municipality-131016');
  const timers = new VirtualTimers();
  const relay = new Relay(outbox, network.connect(sender.certPem), { idleMs: HOUR, timers });
  return { outbox, relay, timers, received };
}

test('a started relay sends an enqueued message at once, not at its idle round (virtual clock still at 0)', async () => {
  const { outbox, relay, timers, received } = await twoNodes();
  relay.start();
  await timers.runDue();
  // Nothing to send: the relay sleeps until its idle round, an hour away.
  assert.deepEqual(timers.pending, [HOUR]);
  await outbox.send(status('C0001'));
  // The enqueue woke it: a round is set for now, replacing the idle one.
  assert.deepEqual(timers.pending, [0]);
  await timers.runDue();
  await relay.settle();
  assert.equal(timers.now, 0);
  assert.deepEqual(received.map((e) => e.body), [status('C0001').body]);
  assert.deepEqual((await outbox.pending()).undelivered, []);
  await relay.stop();
});

test('enqueues before the round starts are one wake-up and go out in one round', async () => {
  const { outbox, relay, timers, received } = await twoNodes();
  relay.start();
  await timers.runDue();
  const ids = [];
  for (let i = 1; i <= 5; i++) ids.push((await outbox.send(status(`C000${i}`))).id);
  assert.deepEqual(timers.pending, [0], 'one wake-up for five enqueues');
  // One timer: one round, which claims all five.
  assert.equal(await timers.runDue(), 2, 'the wake-up round, then the round a settled send asked for');
  await relay.settle();
  await timers.runDue();
  assert.deepEqual(received.map((e) => e.id).sort(), [...ids].sort());
  assert.equal(timers.now, 0);
  await relay.stop();
});

test('a message enqueued in a transaction with its change wakes the relay too, and a stopped relay no longer listens', async () => {
  const { outbox, relay, timers, received } = await twoNodes();
  relay.start();
  await timers.runDue();
  await outbox.store.transaction(async (tx) => {
    await outbox.enqueue(tx.trx, status('C0100'));
  });
  await timers.runDue();
  await relay.settle();
  assert.deepEqual(received.map((e) => (e.body as { cardNumber: string }).cardNumber), ['C0100']);
  await relay.stop();
  assert.deepEqual(timers.pending, []);
  await outbox.send(status('C0101'));
  assert.deepEqual(timers.pending, [], 'a stopped relay sets no timer');
  assert.equal(received.length, 1);
});

test('without start() the relay does not wake up (the simulation drives rounds itself)', async () => {
  const { outbox, relay, timers, received } = await twoNodes();
  await outbox.send(status('C0200'));
  assert.deepEqual(timers.pending, []);
  assert.equal(await relay.tick(), 1);
  await relay.settle();
  assert.equal(received.length, 1);
});
