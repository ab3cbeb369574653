/**
 * The tables of a node's database, as Kysely sees them. Each concern owns its tables (named
 * with its prefix) and adds them here and in a migration.
 *
 * Conventions for both dialects: times are ISO-8601 UTC text, dates YYYY-MM-DD text, flags
 * integers 0/1, structured values JSON text, binary values base64 text.
 */
import type { ColumnType } from 'kysely';

export interface Schema {
  register_residents: RegisterResidentsTable;
  register_history: RegisterHistoryTable;
  audit_entries: AuditEntriesTable;
  audit_heads: AuditHeadsTable;
}

/** register: one row per resident of a municipality, current or former (除票). Migration 0001. */
export interface RegisterResidentsTable {
  municipality_code: string;
  resident_code: string;
  family_name: string;
  given_name: string;
  family_kana: string;
  given_kana: string;
  birth_date: string;
  /** `male` | `female` */
  sex: string;
  address: string;
  /** `registered` | `moved-out` | `deceased` */
  status: string;
  /** The latest change: reason (`birth`, `entry`, `move-in`, `move-out`, `move-within`, `death`) and date. */
  change_reason: string;
  change_date: string;
  /** Bumped by every change; equals the seq of the latest history row. */
  version: number;
  updated_at: string;
}

/** register: every change to a resident, in order (seq 1, 2, ...). Migration 0001. */
export interface RegisterHistoryTable {
  municipality_code: string;
  resident_code: string;
  seq: number;
  reason: string;
  change_date: string;
  /** The other municipality of a move: where a move-in came from, where a move-out goes. */
  other_municipality: string | null;
  /** The other address of a move: the previous one (move-in, move-within) or the destination (move-out). */
  other_address: string | null;
  /** The identity record after the change, as JSON. */
  record: string;
  recorded_at: string;
}

/** audit: one hash-chained entry per row, seq 1..n per node (docs/audit.md). Migration 0002. */
export interface AuditEntriesTable {
  node_id: string;
  /** bigint: SQLite returns a number, PostgreSQL a decimal string. */
  seq: ColumnType<number | string, number, number>;
  at: string;
  event_type: string;
  actor: string;
  subject: string;
  outcome: string;
  reason: string;
  details: string;
  prev_hash: string;
  hash: string;
}

/** audit: the last entry of each node's chain, locked by every append. Migration 0002. */
export interface AuditHeadsTable {
  node_id: string;
  seq: ColumnType<number | string, number, number>;
  hash: string;
}
