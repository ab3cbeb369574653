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
import { TransactionGroup, type Database, type Schema } from '../db/index.ts';
import { parseEnvelope, type Envelope } from './envelope.ts';
import type { ClaimedMessage, InboxRecord, InboxState, NetStore, NetTx, OutboxRecord, OutboxState } from './store.ts';

type Trx = Transaction<Schema>;

export class SqlNetStore implements NetStore<Trx> {
  readonly #database: Database;
  readonly #group: TransactionGroup;

  constructor(database: Database) {
    this.#database = database;
    this.#group = new TransactionGroup(database, { maxBatch: 128 });
  }

  transaction<R>(fn: (tx: NetTx<Trx>) => Promise<R>): Promise<R> {
    return this.#group.transaction((trx) => fn(this.within(trx)));
  }

  within(trx: Trx): NetTx<Trx> {
    const pg = this.#database.dialect === 'postgres';
    return {
      trx,
      async nextSeq(sender, receiver, key) {
        // One upsert instead of insert-if-missing, select, update: on PostgreSQL the conflict
        // update locks the row until commit, as the FOR UPDATE did, so enqueuers of one key
        // still take their numbers one after the other.
        const row = await trx
          .insertInto('net_sequences')
          .values({ sender, receiver, ordering_key: key, last_seq: 1 })
          .onConflict((oc) => oc.columns(['sender', 'receiver', 'ordering_key']).doUpdateSet((eb) => ({ last_seq: eb(eb.ref('net_sequences.last_seq'), '+', 1) })))
          .returning('last_seq')
          .executeTakeFirstOrThrow();
        return Number(row.last_seq);
      },
      async insertOutbox(e, encoded, nextAttemptAt) {
        await trx
          .insertInto('net_outbox')
          .values({
            id: e.id, sender: e.from, receiver: e.to, type: e.type, ordering_key: e.key, seq: e.seq, created_at: e.createdAt,
            envelope: encoded, state: 'pending', attempts: 0, next_attempt_at: nextAttemptAt, last_error: null, delivered_at: null,
          })
          .execute();
      },
      async inboxState(id) {
        const row = await trx.selectFrom('net_inbox').select('state').where('id', '=', id).executeTakeFirst();
        return row?.state as InboxState | undefined;
      },
      async insertInbox(e, encoded, state, at) {
        await trx
          .insertInto('net_inbox')
          .values({
            id: e.id, sender: e.from, receiver: e.to, type: e.type, ordering_key: e.key, seq: e.seq, envelope: encoded,
            state, received_at: at, applied_at: state === 'applied' ? at : null,
          })
          .execute();
      },
      async markApplied(id, at) {
        await trx.updateTable('net_inbox').set({ state: 'applied', applied_at: at }).where('id', '=', id).execute();
      },
      async cursor(receiver, sender, key) {
        await trx
          .insertInto('net_cursors')
          .values({ receiver, sender, ordering_key: key, applied_seq: 0 })
          .onConflict((oc) => oc.columns(['receiver', 'sender', 'ordering_key']).doNothing())
          .execute();
        let q = trx.selectFrom('net_cursors').select('applied_seq').where('receiver', '=', receiver).where('sender', '=', sender).where('ordering_key', '=', key);
        if (pg) q = q.forUpdate();
        return Number((await q.executeTakeFirstOrThrow()).applied_seq);
      },
      async setCursor(receiver, sender, key, seq) {
        await trx.updateTable('net_cursors').set({ applied_seq: seq }).where('receiver', '=', receiver).where('sender', '=', sender).where('ordering_key', '=', key).execute();
      },
      async held(receiver, sender, key, seq) {
        const row = await trx
          .selectFrom('net_inbox')
          .select('envelope')
          .where('receiver', '=', receiver).where('sender', '=', sender).where('ordering_key', '=', key).where('seq', '=', seq).where('state', '=', 'held')
          .executeTakeFirst();
        return row ? parseEnvelope(row.envelope) : undefined;
      },
    };
  }

  claimDue(sender: string, now: string, limit: number, retryAt: (attempts: number) => string): Promise<ClaimedMessage[]> {
    const pg = this.#database.dialect === 'postgres';
    return this.#group.transaction(async (trx) => {
      let q = trx
        .selectFrom('net_outbox')
        .select(['id', 'envelope', 'attempts'])
        .where('sender', '=', sender)
        .where('state', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('created_at')
        .orderBy('seq')
        .limit(limit);
      if (pg) q = q.forUpdate().skipLocked();
      const rows = await q.execute();
      const out: ClaimedMessage[] = [];
      for (const r of rows) {
        const attempts = r.attempts + 1;
        await trx.updateTable('net_outbox').set({ attempts, next_attempt_at: retryAt(attempts) }).where('id', '=', r.id).execute();
        out.push({ envelope: parseEnvelope(r.envelope), attempts });
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
