/**
 * The tables of a node's database, as Kysely sees them. Each concern owns its tables (named
 * with its prefix) and adds them here and in a migration.
 *
 * Conventions for both dialects: times are ISO-8601 UTC text, dates YYYY-MM-DD text, flags
 * integers 0/1, structured values JSON text, binary values base64 text.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface Schema {}
