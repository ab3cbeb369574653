/**
 * Opening a node's database: a SQLite file (the embedded default, better-sqlite3) or a
 * PostgreSQL server (pg), chosen by the location string. Both get the same migrations.
 *
 *   openDatabase('data/municipality-131016.sqlite')   SQLite file (created if missing)
 *   openDatabase(':memory:')                          SQLite in memory (tests, benchmarks)
 *   openDatabase('postgres://user@host:5432/juki')    PostgreSQL
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { JukiError } from '../util/index.ts';
import type { Schema } from './schema.ts';
import { migrateToLatest } from './migrate.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface Database {
  readonly dialect: Dialect;
  /** Where it lives, with any password removed: safe to print. */
  readonly location: string;
  readonly db: Kysely<Schema>;
  /** Run `fn` in one transaction: all of it commits, or none of it. */
  transaction<T>(fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  readonly migrate?: boolean;
  /** PostgreSQL only: use this schema (created if missing) instead of `public`. */
  readonly pgSchema?: string;
}

/** Tell a PostgreSQL URL from a SQLite path, refusing anything else with a precise error. */
export function parseLocation(location: string): { dialect: Dialect; target: string } {
  if (typeof location !== 'string' || location.trim() === '') {
    throw new JukiError('JUKI_ERR_INVALID_DB_URL', 'database: expected a SQLite file path or a postgres:// URL, got an empty string', { field: 'db' });
  }
  if (/^postgres(ql)?:\/\//i.test(location)) {
    // The authority is `[user[:password]@]host[:port]`; check the port here, since URL's own
    // refusal would only say "invalid URL".
    const authority = location.replace(/^[a-z]+:\/\//i, '').split(/[/?#]/)[0]!.replace(/^.*@/, '');
    const port = authority.match(/:([^:\]]*)$/)?.[1];
    if (port !== undefined && port !== '' && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
      throw new JukiError('JUKI_ERR_INVALID_DB_URL', `database: PostgreSQL port: expected a number from 1 to 65535, got ${JSON.stringify(port)}`, { field: 'db' });
    }
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new JukiError('JUKI_ERR_INVALID_DB_URL', `database: malformed PostgreSQL URL ${JSON.stringify(redact(location))}`, { field: 'db' });
    }
    if (!url.hostname && !url.searchParams.get('host')) {
      throw new JukiError('JUKI_ERR_INVALID_DB_URL', `database: PostgreSQL URL names no host: ${JSON.stringify(redact(location))}`, { field: 'db' });
    }
    if (url.pathname.replace(/^\//, '') === '') {
      throw new JukiError('JUKI_ERR_INVALID_DB_URL', `database: PostgreSQL URL names no database: ${JSON.stringify(redact(location))}`, { field: 'db' });
    }
    return { dialect: 'postgres', target: location };
  }
  const scheme = location.match(/^([a-z][a-z0-9+.-]*):\/\//i);
  if (scheme) {
    throw new JukiError('JUKI_ERR_INVALID_DB_URL', `database: unsupported scheme '${scheme[1]}://': expected a SQLite file path or a postgres:// URL`, { field: 'db' });
  }
  if (location.startsWith('sqlite:')) return { dialect: 'sqlite', target: location.slice('sqlite:'.length) || ':memory:' };
  return { dialect: 'sqlite', target: location };
}

function redact(location: string): string {
  return location.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

export async function openDatabase(location: string, options: OpenOptions = {}): Promise<Database> {
  const { dialect, target } = parseLocation(location);
  let db: Kysely<Schema>;
  let closeExtra = async (): Promise<void> => {};
  if (dialect === 'sqlite') {
    if (target !== ':memory:') {
      try {
        mkdirSync(dirname(target), { recursive: true });
      } catch (e) {
        throw new JukiError('JUKI_ERR_FILE', `database: cannot create the folder of SQLite file ${target}: ${(e as Error).message}`, { field: 'db' });
      }
    }
    let sqlite: SQLite.Database;
    try {
      sqlite = new SQLite(target);
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `database: cannot open SQLite file ${target}: ${(e as Error).message}`, { field: 'db' });
    }
    // WAL lets readers run beside the writer; FULL sync makes every commit durable.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // Savepoints (group commit runs each job under one) and multi-row statements keep the
    // pages they may have to roll back in a sub-journal: a temporary file by default, written
    // with a system call per page. In memory it is ~3× cheaper per write; it only ever serves a
    // rollback inside an open transaction, so durability is unchanged (docs/benchmarks.md).
    sqlite.pragma('temp_store = MEMORY');
    db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: cachingStatements(sqlite) }) });
  } else {
    const schema = options.pgSchema;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `pgSchema: expected a lower-case SQL identifier, got ${JSON.stringify(schema)}`, { field: 'pgSchema' });
    }
    const pool = new pg.Pool({
      connectionString: target,
      max: 10,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    try {
      const client = await pool.connect();
      try {
        if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        client.release();
      }
    } catch (e) {
      await pool.end().catch(() => {});
      throw new JukiError('JUKI_ERR_INVALID_DB_URL', `database: cannot connect to ${redact(target)}: ${(e as Error).message}`, { field: 'db' });
    }
    db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    closeExtra = async () => {};
  }
  const database: Database = {
    dialect,
    location: redact(target),
    db,
    transaction: (fn) => db.transaction().execute(fn),
    close: async () => {
      await db.destroy();
      await closeExtra();
    },
  };
  if (options.migrate !== false) {
    try {
      await migrateToLatest(database);
    } catch (e) {
      await database.close();
      throw e;
    }
  }
  return database;
}

/** Prepared statements kept per SQL text, at most (least recently used dropped first). */
const STATEMENT_CACHE = 512;

/**
 * Kysely's SQLite driver prepares every query anew; preparing was ≈ 5–7% of a Juki-net node's
 * CPU under load (docs/benchmarks.md). This hands it the same prepared statement for the same
 * SQL text instead (better-sqlite3 statements run synchronously, so one is never used by two
 * queries at once; a statement still busy, i.e. being iterated by a stream, gets a fresh one).
 * SQLite re-prepares a cached statement itself after a schema change.
 */
function cachingStatements(sqlite: SQLite.Database): { close(): void; prepare(sql: string): SQLite.Statement } {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (text: string) => {
      const hit = cache.get(text);
      if (hit) {
        if (hit.busy) return sqlite.prepare(text);
        cache.delete(text);
        cache.set(text, hit);
        return hit;
      }
      const stmt = sqlite.prepare(text);
      cache.set(text, stmt);
      if (cache.size > STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      return stmt;
    },
  };
}
