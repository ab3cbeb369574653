/** Applies the migrations in `migrations/index.ts`, in order, on either dialect. */
import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import { JukiError } from '../util/index.ts';
import type { Database } from './open.ts';
import { migrations } from './migrations/index.ts';

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations;
  }
}

/** Apply every pending migration; returns the names applied (none when up to date). */
export async function migrateToLatest(database: Database): Promise<string[]> {
  // On PostgreSQL, name the schema of Kysely's bookkeeping tables: left unnamed, Kysely looks
  // for them in every schema of the server, finds another node's (or test's), and then fails
  // to use them through this connection's search_path.
  const migrationTableSchema =
    database.dialect === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db: database.db,
    provider: new StaticProvider(),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Kysely checks for its tables by introspecting every schema of the server; a schema another
  // database drops at that moment makes the catalogue query fail with "schema ... does not
  // exist" (or leaves Kysely believing its lock table exists). Nothing was applied
  // (migrations run in one locked transaction): try again.
  for (let attempt = 1; error && attempt < 5 && /(schema "[^"]+"|relation "[^"]*kysely_migration[^"]*") does not exist/.test((error as Error).message ?? ''); attempt++) {
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '?';
    throw new JukiError('JUKI_ERR_CONFLICT', `database: migration ${failed} failed: ${(error as Error).message}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
