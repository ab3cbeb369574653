/**
 * 0006_net_routes: what Juki-net's routes keep at each node (src/net/routes, src/agency,
 * docs/network.md "Routes").
 *
 * - net_card_status: the status of each card (and its holder's resident code, when announced) as last announced (prefecture: its
 *   municipalities' cards, R3.2.1u; national center: every card, R3.2.1e); the highest
 *   version wins, so a late or repeated announcement never moves a card back.
 * - net_identity_records: identity records (本人確認情報) as announced by the municipality
 *   that keeps each one (prefecture: its municipalities', national: all); one row per
 *   (resident code, municipality), so a move out of one and into another keeps both; the
 *   current one is the `registered` row. `name_key` (family + given) and `birth_date`,
 *   `address` answer queries by name, birth date and address.
 * - agency_notices: an agency's notice list (R3.2.1o): the latest status of each card it was
 *   told about; a card whose latest notice is suspended, abolished or collected is refused
 *   (R4.2.2).
 */
import type { Kysely, Migration } from 'kysely';

export const netRoutesMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('net_card_status')
      .addColumn('card_number', 'text', (c) => c.notNull().primaryKey())
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('resident_code', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('changed_at', 'text', (c) => c.notNull())
      .addColumn('received_from', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('net_card_status_resident').on('net_card_status').columns(['resident_code']).execute();
    await db.schema
      .createTable('net_identity_records')
      .addColumn('resident_code', 'text', (c) => c.notNull())
      .addColumn('municipality', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull())
      .addColumn('birth_date', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('net_identity_records_pk', ['resident_code', 'municipality'])
      .execute();
    await db.schema.createIndex('net_identity_records_search').on('net_identity_records').columns(['name_key', 'birth_date']).execute();
    await db.schema
      .createTable('agency_notices')
      .addColumn('card_number', 'text', (c) => c.notNull().primaryKey())
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('resident_code', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('changed_at', 'text', (c) => c.notNull())
      .addColumn('received_from', 'text', (c) => c.notNull())
      .addColumn('received_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('agency_notices_resident').on('agency_notices').columns(['resident_code']).execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('agency_notices').execute();
    await db.schema.dropTable('net_identity_records').execute();
    await db.schema.dropTable('net_card_status').execute();
  },
};
