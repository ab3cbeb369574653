/** Stored rows of `audit_entries` as entries. */
import type { Selectable } from 'kysely';
import type { Schema } from '../db/index.ts';
import type { AuditEntry } from './entry.ts';

type EntryRow = Selectable<Schema['audit_entries']>;

/** Map a stored row to an entry (seq as a number: PostgreSQL returns bigint as text). */
export function entryFromRow(r: EntryRow): AuditEntry {
  return {
    node: r.node_id,
    seq: Number(r.seq),
    at: r.at,
    type: r.event_type,
    actor: r.actor,
    subject: r.subject,
    outcome: r.outcome,
    reason: r.reason,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

