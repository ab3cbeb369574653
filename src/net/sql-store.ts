/**
 * The outbox and inbox in the node's database (migration 0004_net), on SQLite or PostgreSQL.
 * On PostgreSQL the rows that serialise writers are locked (`FOR UPDATE`): the sequence row
 * when enqueuing, the cursor row when applying, and claimed outbox rows (`SKIP LOCKED`, so
 * two relays of one node never send the same message at the same moment). On SQLite a write
 * transaction is already exclusive.
 *
 * Writes are group-committed (TransactionGroup): concurrent inbox receipts, enqueues in a
 * transaction of their own, claims and delivery marks share one database transaction, each
 * under its own savepoint, and each caller is released only after that transaction committed.
 */
import type { Transaction } from 'kysely';
import { Statement, TransactionGroup, type Database, type Dialect, type Schema } from '../db/index.ts';
import { parseEnvelope, type Envelope } from './envelope.ts';
import type { ClaimedMessage, InboxRecord, InboxState, NetStore, NetTx, OutboxRecord, OutboxState } from './store.ts';

type Trx = Transaction<Schema>;

export class SqlNetStore implements NetStore<Trx> {
  readonly #database: Database;
  readonly #group: TransactionGroup;

  readonly #q: ReturnType<typeof statements>;

  constructor(database: Database) {
    this.#database = database;
    this.#group = new TransactionGroup(database, { maxBatch: 256 });
    this.#q = statements(database.dialect);
  }

  /** The after-commit hook of the group job now running in each open batch transaction. */
  readonly #hooks = new Map<Trx, (hook: () => void) => void>();

  transaction<R>(fn: (tx: NetTx<Trx>) => Promise<R>): Promise<R> {
    return this.#group.transaction(async (trx, onCommit) => {
      // A batch's jobs run one after the other, so the entry is this job's while it runs.
      this.#hooks.set(trx, onCommit);
      try {
        return await fn(this.within(trx));
      } finally {
        this.#hooks.delete(trx);
      }
    });
  }

  within(trx: Trx): NetTx<Trx> {
    const pg = this.#database.dialect === 'postgres';
    const q = this.#q;
    const hooks = this.#hooks;
    return {
      trx,
      afterCommit(hook) {
        const onCommit = hooks.get(trx);
        if (!onCommit) return false;
        onCommit(hook);
        return true;
      },
      async nextSeq(sender, receiver, key) {
        // One upsert instead of insert-if-missing, select, update: on PostgreSQL the conflict
        // update locks the row until commit, as the FOR UPDATE did, so enqueuers of one key
        // still take their numbers one after the other.
        const [row] = await q.nextSeq.rows(trx, [sender, receiver, key]);
        return Number(row!.last_seq);
      },
      async insertOutbox(e, encoded, nextAttemptAt, attempts = 0) {
        await q.insertOutbox.run(trx, [e.id, e.from, e.to, e.type, e.key, e.seq, e.createdAt, encoded, attempts, nextAttemptAt]);
      },
      async insertInbox(e, encoded, state, at) {
        // The id is the primary key: a message already here (held, applied) is not inserted again.
        return (await q.insertInbox.changes(trx, [e.id, e.from, e.to, e.type, e.key, e.seq, encoded, state, at, state === 'applied' ? at : null])) === 1;
      },
      async markApplied(id, at) {
        await q.markApplied.run(trx, [at, id]);
      },
      async cursor(receiver, sender, key) {
        // On PostgreSQL the cursor row is created, then locked: appliers of one key take turns.
        // On SQLite the write transaction is already exclusive; a missing row reads as 0 and is
        // created by setCursor.
        if (pg) await q.cursorCreate.run(trx, [receiver, sender, key]);
        const [row] = await q.cursor.rows(trx, [receiver, sender, key]);
        return row ? Number(row.applied_seq) : 0;
      },
      async setCursor(receiver, sender, key, seq) {
        await q.setCursor.run(trx, [receiver, sender, key, seq]);
      },
      async held(receiver, sender, key, seq) {
        const [row] = await q.held.rows(trx, [receiver, sender, key, seq]);
        return row ? parseEnvelope(row.envelope) : undefined;
      },
    };
  }

  claimDue(sender: string, now: string, limit: number, retryAt: (attempts: number) => string): Promise<ClaimedMessage[]> {
    return this.#group.transaction(async (trx) => {
      const rows = await this.#q.due.rows(trx, [sender, now, limit]);
      // One update per attempt count (nearly always one: first sends), not one per row; the
      // messages of one claim that share an attempt count share their next attempt's time.
      const byAttempts = new Map<number, string[]>();
      const out: ClaimedMessage[] = [];
      for (const r of rows) {
        const attempts = Number(r.attempts) + 1;
        const ids = byAttempts.get(attempts);
        if (ids) ids.push(r.id);
        else byAttempts.set(attempts, [r.id]);
        out.push({ envelope: parseEnvelope(r.envelope), attempts });
      }
      for (const [attempts, ids] of byAttempts) {
        for (let i = 0; i < ids.length; i += 500) {
          const chunk = ids.slice(i, i + 500);
          await trx.updateTable('net_outbox').set({ attempts, next_attempt_at: retryAt(attempts) }).where('id', 'in', chunk).execute();
        }
      }
      return out;
    });
  }

  async markDelivered(id: string, at: string): Promise<boolean> {
    const r = await this.#group.transaction((trx) => trx
      .updateTable('net_outbox')
      .set({ state: 'delivered', delivered_at: at, last_error: null })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .executeTakeFirst());
    return r.numUpdatedRows === 1n;
  }

  async markDeliveredMany(ids: readonly string[], at: string): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await this.#group.transaction((trx) => trx
      .updateTable('net_outbox')
      .set({ state: 'delivered', delivered_at: at, last_error: null })
      .where('id', 'in', [...ids])
      .where('state', '=', 'pending')
      .executeTakeFirst());
    return Number(r.numUpdatedRows);
  }

  async markFailed(id: string, error: string, dead: boolean): Promise<void> {
    await this.#group.transaction((trx) => trx
      .updateTable('net_outbox')
      .set(dead ? { state: 'dead', last_error: error } : { last_error: error })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .execute());
  }

  async nextDue(sender: string): Promise<string | undefined> {
    const row = await this.#database.db
      .selectFrom('net_outbox')
      .select((eb) => eb.fn.min('next_attempt_at').as('due'))
      .where('sender', '=', sender)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return (row?.due as string | null | undefined) ?? undefined;
  }

  async listOutbox(states: readonly OutboxState[], limit: number): Promise<OutboxRecord[]> {
    if (states.length === 0) return [];
    const rows = await this.#database.db
      .selectFrom('net_outbox')
      .selectAll()
      .where('state', 'in', [...states])
      .orderBy('created_at')
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      envelope: parseEnvelope(r.envelope),
      state: r.state as OutboxState,
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at,
      lastError: r.last_error,
      deliveredAt: r.delivered_at,
    }));
  }

  async listHeld(limit: number): Promise<InboxRecord[]> {
    const rows = await this.#database.db.selectFrom('net_inbox').selectAll().where('state', '=', 'held').orderBy('received_at').orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ envelope: parseEnvelope(r.envelope), state: 'held' as const, receivedAt: r.received_at, appliedAt: r.applied_at }));
  }
}

/** The statements run for every message (src/db/statement.ts: written once, not rebuilt per call). */
function statements(dialect: Dialect) {
  const s = <R>(text: string) => new Statement<R>(text);
  return {
    nextSeq: s<{ last_seq: number | string }>(
      'INSERT INTO net_sequences (sender, receiver, ordering_key, last_seq) VALUES (?, ?, ?, 1) ' +
      'ON CONFLICT (sender, receiver, ordering_key) DO UPDATE SET last_seq = net_sequences.last_seq + 1 RETURNING last_seq'),
    insertOutbox: s(
      'INSERT INTO net_outbox (id, sender, receiver, type, ordering_key, seq, created_at, envelope, state, attempts, next_attempt_at, last_error, delivered_at) ' +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, NULL, NULL)"),
    insertInbox: s(
      'INSERT INTO net_inbox (id, sender, receiver, type, ordering_key, seq, envelope, state, received_at, applied_at) ' +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING'),
    markApplied: s("UPDATE net_inbox SET state = 'applied', applied_at = ? WHERE id = ?"),
    cursorCreate: s('INSERT INTO net_cursors (receiver, sender, ordering_key, applied_seq) VALUES (?, ?, ?, 0) ON CONFLICT (receiver, sender, ordering_key) DO NOTHING'),
    cursor: s<{ applied_seq: number | string }>(
      `SELECT applied_seq FROM net_cursors WHERE receiver = ? AND sender = ? AND ordering_key = ?${dialect === 'postgres' ? ' FOR UPDATE' : ''}`),
    setCursor: s(
      'INSERT INTO net_cursors (receiver, sender, ordering_key, applied_seq) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (receiver, sender, ordering_key) DO UPDATE SET applied_seq = excluded.applied_seq'),
    held: s<{ envelope: string }>(
      "SELECT envelope FROM net_inbox WHERE receiver = ? AND sender = ? AND ordering_key = ? AND seq = ? AND state = 'held'"),
    // The claim's index (migration 0008) serves this scan in order.
    due: s<{ id: string; envelope: string; attempts: number }>(
      "SELECT id, envelope, attempts FROM net_outbox WHERE sender = ? AND state = 'pending' AND next_attempt_at <= ? " +
      `ORDER BY next_attempt_at, created_at, seq LIMIT ?${dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : ''}`),
  };
}
