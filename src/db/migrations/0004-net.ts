/**
 * 0004_net: Juki-net's transactional outbox and idempotent inbox (src/net, docs/network.md).
 *
 * - net_sequences: the last sequence number given per (sender, receiver, ordering key), bumped
 *   in the transaction that enqueues, so a key's messages are numbered 1, 2, 3... with no gap.
 * - net_outbox: one row per message to send, written in the same transaction as the change it
 *   announces; `state` pending -> delivered (acknowledged) or dead (refused for good). A claim
 *   for sending pushes `next_attempt_at` forward first, so a lost reply or a crash is retried.
 * - net_inbox: one row per message received (primary key: message id), written in the same
 *   transaction as its effect; `state` applied, or held until the sequence gap before it fills.
 * - net_cursors: per (receiver, sender, ordering key), the last sequence number applied.
 * Times are ISO-8601 UTC text, which sorts in time order.
 */
import type { Kysely, Migration } from 'kysely';

export const netMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('net_sequences')
      .addColumn('sender', 'text', (c) => c.notNull())
      .addColumn('receiver', 'text', (c) => c.notNull())
      .addColumn('ordering_key', 'text', (c) => c.notNull())
      .addColumn('last_seq', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('net_sequences_pk', ['sender', 'receiver', 'ordering_key'])
      .execute();
    await db.schema
      .createTable('net_outbox')
      .addColumn('id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('sender', 'text', (c) => c.notNull())
      .addColumn('receiver', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('ordering_key', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('envelope', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('next_attempt_at', 'text', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('delivered_at', 'text')
      .execute();
    await db.schema.createIndex('net_outbox_due').on('net_outbox').columns(['state', 'next_attempt_at']).execute();
    await db.schema
      .createTable('net_inbox')
      .addColumn('id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('sender', 'text', (c) => c.notNull())
      .addColumn('receiver', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('ordering_key', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('envelope', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('applied_at', 'text')
      .execute();
    await db.schema.createIndex('net_inbox_order').on('net_inbox').columns(['receiver', 'sender', 'ordering_key', 'seq']).execute();
    await db.schema
      .createTable('net_cursors')
      .addColumn('receiver', 'text', (c) => c.notNull())
      .addColumn('sender', 'text', (c) => c.notNull())
      .addColumn('ordering_key', 'text', (c) => c.notNull())
      .addColumn('applied_seq', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('net_cursors_pk', ['receiver', 'sender', 'ordering_key'])
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    for (const t of ['net_cursors', 'net_inbox', 'net_outbox', 'net_sequences']) await db.schema.dropTable(t).execute();
  },
};
