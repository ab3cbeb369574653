/** The hash-chained audit log: one append-only chain per node (docs/audit.md). */
export { AuditLog, auditNodes } from './log.ts';
export type { AuditLogOptions, ChainHead } from './log.ts';
export { verifyChain } from './verify.ts';
export type { Checkpoint, Problem, BrokenEntry, VerifyResult, VerifyProgress, VerifyOptions } from './verify.ts';
export { GENESIS_HASH, HASH_TAG, OUTCOMES, entryHash, checkNodeId } from './entry.ts';
export type { Actor, Subject, Outcome, AuditEventInput, AuditEntry } from './entry.ts';
export { AUDIT_EVENTS, ACTOR_KINDS, SUBJECT_KINDS, isEventType } from './events.ts';
export type { EventType, EventSpec, DetailsOf, FieldType, ActorKind, SubjectKind, JsonValue } from './events.ts';
export { canonicalJson, parseDetails } from './canonical-json.ts';
export { looksSecret } from './secrets.ts';
