/**
 * 0007_cs_card_steps: what the counter keeps once its card steps are real (src/cs/card-steps.ts,
 * src/cs/pin-services.ts, docs/counter.md "End to end").
 *
 * - cs_print_jobs: the face print job of each issued card (R3.1.2e "print the face"): the PDF's
 *   path and SHA-256, its form, written in the issuance's commit transaction.
 * - cs_card_jpki: cards whose JPKI area was personalised at issuance (the JPKI card serial the
 *   certificates name), so the PIN step asks for the JPKI PINs and a lost report revokes them.
 * - cs_identity_checks: the identity verification recorded at the counter before a PIN change or
 *   unblock (R3.2.2a, R3.2.2i): who checked whom, how, for which card; used once.
 * - cs_pin_notices: the voluntary agent's sealed PIN notice (R3.1.2ka): who opened it to type the
 *   PIN on the pad and when, and its destruction (who, when, witness). Never the PIN.
 */
import type { Kysely, Migration } from 'kysely';

export const csCardStepsMigration: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('cs_print_jobs')
      .addColumn('job_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('card_number', 'text', (c) => c.notNull().unique())
      .addColumn('application_id', 'text', (c) => c.notNull())
      .addColumn('form', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('sha256', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_card_jpki')
      .addColumn('card_number', 'text', (c) => c.notNull().primaryKey())
      .addColumn('jpki_serial', 'text', (c) => c.notNull())
      .addColumn('sign', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('cs_identity_checks')
      .addColumn('check_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('card_number', 'text', (c) => c.notNull())
      .addColumn('resident_code', 'text', (c) => c.notNull())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('staff_id', 'text', (c) => c.notNull())
      .addColumn('terminal_id', 'text', (c) => c.notNull())
      .addColumn('checked_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .execute();
    await db.schema
      .createTable('cs_pin_notices')
      .addColumn('notice_id', 'text', (c) => c.notNull().primaryKey())
      .addColumn('card_number', 'text', (c) => c.notNull())
      .addColumn('agent_name', 'text', (c) => c.notNull())
      .addColumn('opened_by', 'text', (c) => c.notNull())
      .addColumn('opened_at', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('destroyed_by', 'text')
      .addColumn('witnessed_by', 'text')
      .addColumn('destroyed_at', 'text')
      .execute();
  },
  async down(db: Kysely<any>): Promise<void> {
    for (const t of ['cs_pin_notices', 'cs_identity_checks', 'cs_card_jpki', 'cs_print_jobs']) await db.schema.dropTable(t).execute();
  },
};
