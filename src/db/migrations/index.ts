/**
 * Every migration, in the order they apply. Names sort in that order. Migrations use only
 * Kysely's schema builder with types both dialects share (text, integer, bigint), so one
 * set runs on SQLite and PostgreSQL. Never edit a migration that has shipped: add one.
 */
import type { Migration } from 'kysely';
import { registerMigration } from './0001-register.ts';
import { auditMigration } from './0002-audit.ts';
import { jpkiMigration } from './0003-jpki.ts';
import { netMigration } from './0004-net.ts';
import { csMigration } from './0005-cs.ts';
import { netRoutesMigration } from './0006-net-routes.ts';
import { csCardStepsMigration } from './0007-cs-card-steps.ts';
import { netOutboxClaimMigration } from './0008-net-outbox-claim.ts';

export const migrations: Record<string, Migration> = {
  '0001_register': registerMigration,
  '0002_audit': auditMigration,
  '0003_jpki': jpkiMigration,
  '0004_net': netMigration,
  '0005_cs': csMigration,
  '0006_net_routes': netRoutesMigration,
  '0007_cs_card_steps': csCardStepsMigration,
  '0008_net_outbox_claim': netOutboxClaimMigration,
};
