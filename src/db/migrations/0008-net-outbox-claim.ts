/**
 * 0008_net_outbox_claim: an index matching the relay's claim exactly (SqlNetStore.claimDue:
 * `WHERE sender = ? AND state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at,
 * created_at, seq LIMIT n`), so a claim reads the first n due rows in index order instead of
 * sorting every due row of the sender (docs/benchmarks.md, Juki-net). It also serves
 * `nextDue` (the minimum next_attempt_at of a sender's pending rows).
 */
import type { Kysely, Migration } from 'kysely';

export const netOutboxClaimMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createIndex('net_outbox_claim')
      .on('net_outbox')
      .columns(['sender', 'state', 'next_attempt_at', 'created_at', 'seq'])
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropIndex('net_outbox_claim').execute();
  },
};
