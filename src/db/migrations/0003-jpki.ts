/**
 * 0003_jpki: the JPKI certification authority's records (src/jpki, docs/jpki.md), kept only in
 * the `jpki` node's database.
 *   jpki_cas           the CA certificates (root and issuing, per kind) and the label of each key
 *                      in the CA key store (the key itself never enters the database)
 *   jpki_certificates  every end-entity certificate issued: status good/revoked, RFC 5280 reason
 *   jpki_crls          every CRL issued, numbered per CA (RFC 5280 §5.2.3: increasing)
 * crl_number is bigint: RFC 5280 allows CRL numbers up to 20 octets; 2^63 is ample here.
 */
import type { Kysely, Migration } from 'kysely';

export const jpkiMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('jpki_cas')
      .addColumn('ca_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('tier', 'text', (c) => c.notNull())
      .addColumn('key_label', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('serial', 'text', (c) => c.notNull())
      .addColumn('not_before', 'text', (c) => c.notNull())
      .addColumn('not_after', 'text', (c) => c.notNull())
      .addColumn('der', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      // Bumped by every revocation or hold release of a certificate this CA issued; a CRL built
      // from an older revision is stale.
      .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('jpki_certificates')
      .addColumn('serial', 'text', (c) => c.notNull().primaryKey())
      .addColumn('ca_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('card_serial', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('not_before', 'text', (c) => c.notNull())
      .addColumn('not_after', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .addColumn('revocation_reason', 'text')
      .addColumn('der', 'text', (c) => c.notNull())
      .addColumn('issued_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('jpki_certificates_card').on('jpki_certificates').columns(['card_serial']).execute();
    await db.schema.createIndex('jpki_certificates_ca_status').on('jpki_certificates').columns(['ca_id', 'status']).execute();
    await db.schema
      .createTable('jpki_crls')
      .addColumn('ca_id', 'text', (c) => c.notNull())
      .addColumn('crl_number', 'bigint', (c) => c.notNull())
      .addColumn('this_update', 'text', (c) => c.notNull())
      .addColumn('next_update', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('der', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('jpki_crls_pk', ['ca_id', 'crl_number'])
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('jpki_crls').execute();
    await db.schema.dropTable('jpki_certificates').execute();
    await db.schema.dropTable('jpki_cas').execute();
  },
};
