/**
 * A fresh, migrated database for one test. SQLite in memory by default; when JUKI_TEST_DB
 * holds a postgres:// URL, a new PostgreSQL schema on that server (dropped on close).
 * Test files that call openTestDb() are the storage-facing suites that CI runs on both.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/index.ts';

export const testDialect = process.env.JUKI_TEST_DB?.startsWith('postgres') ? 'postgres' : 'sqlite';

/**
 * Where another process can open a database from openTestDb({ shared: true }) (`juki serve
 * --db`): the SQLite file, or the PostgreSQL URL with the test schema as its search_path.
 */
export const sharedLocation = new WeakMap<Database, string>();

export async function openTestDb(options: { shared?: boolean } = {}): Promise<Database> {
  const url = process.env.JUKI_TEST_DB;
  if (!url || !url.startsWith('postgres')) {
    if (!options.shared) return openDatabase(':memory:');
    const path = tempSqlitePath('shared');
    const database = await openDatabase(path);
    sharedLocation.set(database, path);
    return database;
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const database = await openDatabase(url, { pgSchema: schema });
  const close = database.close;
  const shared: Database = {
    ...database,
    close: async () => {
      await close();
      // CI's PostgreSQL is thrown away after the run: leave the schema, since dropping it races
      // other files' migrations, which introspect every schema of the server.
      if (process.env.CI === 'true') return;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
  if (options.shared) sharedLocation.set(shared, `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`);
  return shared;
}

/** A path for a SQLite file that a test may create, under the OS temp folder. */
export function tempSqlitePath(tag = 'db'): string {
  return `${process.env.TMPDIR ?? '/tmp'}/juki-test-${tag}-${randomBytes(6).toString('hex')}.sqlite`;
}
