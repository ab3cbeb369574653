/**
 * 0001_register: the resident register (src/register). Text and integer columns only, so the
 * same statements run on SQLite and PostgreSQL. Residents are keyed by (municipality, resident
 * code): a resident who moves away keeps a row here (the 除票) and gets one in the new place.
 */
import type { Kysely, Migration } from 'kysely';

export const registerMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('register_residents')
      .addColumn('municipality_code', 'text', (c) => c.notNull())
      .addColumn('resident_code', 'text', (c) => c.notNull())
      .addColumn('family_name', 'text', (c) => c.notNull())
      .addColumn('given_name', 'text', (c) => c.notNull())
      .addColumn('family_kana', 'text', (c) => c.notNull())
      .addColumn('given_kana', 'text', (c) => c.notNull())
      .addColumn('birth_date', 'text', (c) => c.notNull())
      .addColumn('sex', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('change_reason', 'text', (c) => c.notNull())
      .addColumn('change_date', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('register_residents_pk', ['municipality_code', 'resident_code'])
      .execute();
    // Counter staff look residents up by reading (kana) far more often than by code.
    await db.schema
      .createIndex('register_residents_kana')
      .on('register_residents')
      .columns(['municipality_code', 'family_kana', 'given_kana'])
      .execute();
    await db.schema
      .createTable('register_history')
      .addColumn('municipality_code', 'text', (c) => c.notNull())
      .addColumn('resident_code', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('change_date', 'text', (c) => c.notNull())
      .addColumn('other_municipality', 'text')
      .addColumn('other_address', 'text')
      .addColumn('record', 'text', (c) => c.notNull())
      .addColumn('recorded_at', 'text', (c) => c.notNull())
      // No foreign key to register_residents: on PostgreSQL its per-row check against a table
      // filled in the same transaction (no statistics yet) went quadratic, 7 s for a 10,000-
      // resident seed instead of 1 s. The register writes a history row only in the
      // transaction that writes its resident, which keeps them consistent.
      .addPrimaryKeyConstraint('register_history_pk', ['municipality_code', 'resident_code', 'seq'])
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('register_history').execute();
    await db.schema.dropTable('register_residents').execute();
  },
};
