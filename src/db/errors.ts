/** Recognising driver errors the same way on both dialects. */

/**
 * True when `e` is a unique or primary-key violation: SQLite's `SQLITE_CONSTRAINT_UNIQUE` /
 * `SQLITE_CONSTRAINT_PRIMARYKEY` (better-sqlite3), PostgreSQL's SQLSTATE `23505` (pg).
 */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
