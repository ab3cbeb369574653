/**
 * A hot statement written once as SQL text, for the few queries run for every message on the
 * network's delivery path (src/net/sql-store.ts, the route handlers). Kysely's query builder
 * rebuilds and recompiles a query on every call (operation nodes, freezing, a visitor pass):
 * cheap once, but ~20-40 µs a statement, more than SQLite takes to run most of them. Here the
 * text is fixed at start-up and only the parameters change; better-sqlite3 keeps the prepared
 * statement (open.ts caches by text), pg sends it with parameters as usual.
 *
 * Write the text with `?` placeholders, portable SQL only; on PostgreSQL they become `$1, $2, …`
 * (the dialect is the one of the database it runs on). A `?` must not appear inside a string
 * literal of the text.
 */
import { CompiledQuery, PostgresAdapter, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Schema } from './schema.ts';

type Db = Kysely<Schema> | Transaction<Schema>;

/** Whether a Kysely instance talks to PostgreSQL, by its executor (a transaction shares its database's adapter). */
const postgres = new WeakMap<object, boolean>();
function isPostgres(db: Db): boolean {
  const executor = db.getExecutor();
  let pg = postgres.get(executor);
  if (pg === undefined) {
    pg = executor.adapter instanceof PostgresAdapter;
    postgres.set(executor, pg);
  }
  return pg;
}

export class Statement<R = Record<string, unknown>> {
  readonly sqlite: string;
  readonly postgres: string;

  constructor(text: string) {
    let n = 0;
    this.sqlite = text;
    this.postgres = text.replace(/\?/g, () => `$${++n}`);
  }

  /** Run with these parameters on `db` (a Kysely instance or a transaction). */
  run(db: Db, params: readonly unknown[]): Promise<QueryResult<R>> {
    const text = isPostgres(db) ? this.postgres : this.sqlite;
    return db.executeQuery(CompiledQuery.raw(text, params as unknown[]) as CompiledQuery<R>);
  }

  /** The rows it returned. */
  async rows(db: Db, params: readonly unknown[]): Promise<R[]> {
    return (await this.run(db, params)).rows;
  }

  /** How many rows it changed. */
  async changes(db: Db, params: readonly unknown[]): Promise<number> {
    return Number((await this.run(db, params)).numAffectedRows ?? 0n);
  }
}
