/**
 * 0002_audit: the hash-chained audit log (src/audit, docs/audit.md). One chain per node: entries
 * keyed by (node, seq), and one head row per node that every append locks and advances in the
 * same transaction, so concurrent appends are serialised and never fork the chain.
 * seq is bigint: a busy node can outgrow 2^31 entries over its life.
 */
import type { Kysely, Migration } from 'kysely';

export const auditMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('audit_entries')
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_entries_pk', ['node_id', 'seq'])
      .execute();
    await db.schema
      .createTable('audit_heads')
      .addColumn('node_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('audit_heads').execute();
    await db.schema.dropTable('audit_entries').execute();
  },
};
