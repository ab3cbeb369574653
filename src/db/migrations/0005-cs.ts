/**
 * 0005_cs: the municipality's communication server (src/cs, docs/counter.md).
 *
 * - cs_staff, cs_login_challenges, cs_sessions: counter staff (an operator card's serial and
 *   public key, never a PIN), one-time login challenges, and sessions (only a token's hash).
 * - cs_terminals: counter terminals, each with a card reader and a separate PIN pad.
 * - cs_lots, cs_stock, cs_stock_events: blank-card deliveries, one row per blank card in its
 *   current state, and the ledger of every movement (seq 1, 2, ... per card).
 * - cs_cards, cs_card_history: issued cards (this municipality's, and cards of other issuers
 *   collected here) and every status change. `live_resident` holds the resident code while a
 *   card is live (issued-awaiting-pin, active, suspended) and NULL otherwise: its unique index
 *   is what stops two live cards for one resident (NULLs never collide, on both dialects).
 * - cs_applications: applications (new, reissue, renewal) and their decision.
 * - cs_pending_issuance: an issuance between its reservation and its commit. Unique on the
 *   resident and on the blank card, so two terminals cannot both issue for one resident or
 *   use the same card; a row left by a crash is resolved on restart.
 */
import type { Kysely, Migration } from 'kysely';

export const csMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('cs_staff')
      .addColumn('staff_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('card_serial', 'text', (c) => c.notNull().unique())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_login_challenges')
      .addColumn('challenge_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('challenge', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_sessions')
      .addColumn('token_hash', 'text', (c) => c.notNull().primaryKey())
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('terminal_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_terminals')
      .addColumn('terminal_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('reader', 'text', (c) => c.notNull())
      .addColumn('pin_pad', 'text', (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_lots')
      .addColumn('lot', 'text', (c) => c.notNull().primaryKey())
      .addColumn('transport_key_ref', 'text', (c) => c.notNull())
      .addColumn('card_count', 'integer', (c) => c.notNull())
      .addColumn('received_by', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_stock')
      .addColumn('serial', 'text', (c) => c.notNull().primaryKey())
      .addColumn('lot', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('staff_id', 'text')
      .addColumn('terminal_id', 'text')
      .addColumn('witnessed_by', 'text')
      .addColumn('reason', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('cs_stock_state').on('cs_stock').columns(['state', 'serial']).execute();
    await db.schema
      .createTable('cs_stock_events')
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('from_state', 'text')
      .addColumn('to_state', 'text', (c) => c.notNull())
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('terminal_id', 'text')
      .addColumn('witnessed_by', 'text')
      .addColumn('reason', 'text')
      .addPrimaryKeyConstraint('cs_stock_events_pk', ['serial', 'seq'])
      .execute();
    await db.schema
      .createTable('cs_cards')
      .addColumn('card_number', 'text', (c) => c.notNull().primaryKey())
      .addColumn('serial', 'text')
      .addColumn('resident_code', 'text', (c) => c.notNull())
      .addColumn('municipality', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('suspended_from', 'text')
      .addColumn('live_resident', 'text')
      .addColumn('issued_at', 'text')
      .addColumn('valid_until', 'text')
      .addColumn('application_id', 'text')
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('cs_cards_live_resident').unique().on('cs_cards').column('live_resident').execute();
    await db.schema.createIndex('cs_cards_serial').unique().on('cs_cards').column('serial').execute();
    await db.schema.createIndex('cs_cards_resident').on('cs_cards').columns(['resident_code']).execute();
    await db.schema
      .createTable('cs_card_history')
      .addColumn('card_number', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('from_status', 'text')
      .addColumn('to_status', 'text', (c) => c.notNull())
      .addColumn('cause', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('cs_card_history_pk', ['card_number', 'seq'])
      .execute();
    await db.schema
      .createTable('cs_applications')
      .addColumn('application_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('resident_code', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('prior_card', 'text')
      .addColumn('prior_disposition', 'text')
      .addColumn('card_number', 'text')
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('terminal_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('cs_applications_resident').on('cs_applications').columns(['resident_code']).execute();
    await db.schema
      .createTable('cs_pending_issuance')
      .addColumn('issuance_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('application_id', 'text', (c) => c.notNull().unique())
      .addColumn('resident_code', 'text', (c) => c.notNull().unique())
      .addColumn('serial', 'text', (c) => c.notNull().unique())
      .addColumn('card_number', 'text', (c) => c.notNull())
      .addColumn('terminal_id', 'text', (c) => c.notNull())
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    for (const t of [
      'cs_pending_issuance', 'cs_applications', 'cs_card_history', 'cs_cards', 'cs_stock_events', 'cs_stock', 'cs_lots',
      'cs_terminals', 'cs_sessions', 'cs_login_challenges', 'cs_staff',
    ]) await db.schema.dropTable(t).execute();
  },
};
