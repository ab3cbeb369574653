/** Storage: one Kysely interface over SQLite (embedded default) and PostgreSQL. */
export { openDatabase, parseLocation } from './open.ts';
export type { Database, Dialect, OpenOptions } from './open.ts';
export { migrateToLatest } from './migrate.ts';
export { isUniqueViolation } from './errors.ts';
export type { Schema, RegisterResidentsTable, RegisterHistoryTable } from './schema.ts';
export { GroupCommit, TransactionGroup } from './group-commit.ts';
export type { GroupCommitOptions, GroupCommitStats } from './group-commit.ts';
export { Statement } from './statement.ts';
