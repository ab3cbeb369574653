/**
 * A hot statement written once as SQL text, for the few queries run for every message on the
 * network's delivery path (src/net/sql-store.ts). Kysely's query builder rebuilds and
 * recompiles a query on every call (operation nodes, freezing, a visitor pass): cheap once,
 * but ~20-40 µs a statement, which is more than SQLite takes to run most of them. Here the text
 * is fixed at start-up and only the parameters change; better-sqlite3 keeps the prepared
 * statement (open.ts caches by text), pg sends it with parameters as usual.
 *
 * Write the text with `?` placeholders, portable SQL only; on PostgreSQL they become `$1, $2, …`.
 * A `?` must not appear inside a string literal of the text.
 */
import { CompiledQuery, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Dialect } from './open.ts';
import type { Schema } from './schema.ts';

export class Statement<R = Record<string, unknown>> {
  readonly sql: string;

  constructor(dialect: Dialect, text: string) {
    let n = 0;
    this.sql = dialect === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text;
  }

  /** Run with these parameters on `db` (a Kysely instance or a transaction). */
  run(db: Kysely<Schema> | Transaction<Schema>, params: readonly unknown[]): Promise<QueryResult<R>> {
    return db.executeQuery(CompiledQuery.raw(this.sql, params as unknown[]) as CompiledQuery<R>);
  }

  /** The rows it returned. */
  async rows(db: Kysely<Schema> | Transaction<Schema>, params: readonly unknown[]): Promise<R[]> {
    return (await this.run(db, params)).rows;
  }

  /** How many rows it changed. */
  async changes(db: Kysely<Schema> | Transaction<Schema>, params: readonly unknown[]): Promise<number> {
    return Number((await this.run(db, params)).numAffectedRows ?? 0n);
  }
}
