/**
 * One audit entry: what an appender gives (AuditEventInput), what is stored (AuditEntry, all
 * text so that verification hashes exactly the stored bytes), and the hash that chains them.
 */
import { createHash } from 'node:crypto';
import { JukiError, invalid } from '../util/index.ts';
import { canonicalJson } from './canonical-json.ts';
import { ACTOR_KINDS, AUDIT_EVENTS, SUBJECT_KINDS, isEventType, type ActorKind, type DetailsOf, type EventType, type FieldType, type SubjectKind } from './events.ts';
import { refuseSecrets } from './secrets.ts';

/** The prev hash of every node's first entry (seq 1): 32 zero bytes, as hex. */
export const GENESIS_HASH = '0'.repeat(64);

/** Domain separator at the start of every hashed encoding; a new encoding gets a new tag. */
export const HASH_TAG = 'juki-audit/v1';

export const OUTCOMES = ['success', 'refused', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Actor {
  readonly kind: ActorKind;
  /** Staff id, node id or card number; absent for `system`. */
  readonly id?: string;
}

export interface Subject {
  readonly kind: SubjectKind;
  readonly id: string;
}

/** What a caller appends; the log adds node, seq, time and the hashes. */
export type AuditEventInput = {
  [T in EventType]: {
    readonly type: T;
    readonly actor: Actor;
    /** Required exactly when the catalogue names a subject kind for this event. */
    readonly subject?: Subject;
    /** Default `success`. */
    readonly outcome?: Outcome;
    /** Why it was refused or failed: a JukiError code or a status word. Required unless success, absent on success. */
    readonly reason?: string;
    readonly details: DetailsOf<T>;
  };
}[EventType];

/** An entry as stored: every field is the exact text that was hashed. */
export interface AuditEntry {
  readonly node: string;
  readonly seq: number;
  /** ISO-8601 UTC, milliseconds: `2025-04-01T09:30:00.000Z`. */
  readonly at: string;
  readonly type: string;
  /** `kind:id`, or `system`. */
  readonly actor: string;
  /** `kind:id`, or empty when the event has no subject. */
  readonly subject: string;
  readonly outcome: string;
  /** Empty on success. */
  readonly reason: string;
  /** Canonical JSON. */
  readonly details: string;
  readonly prevHash: string;
  readonly hash: string;
}

/** The fields of an entry that the appender decides (everything but seq, prev hash and hash). */
export type EntryFields = Omit<AuditEntry, 'seq' | 'prevHash' | 'hash'>;

const NODE_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const REASON = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Check a node id: lower-case letters, digits, `.`, `_`, `-`, at most 63 characters. */
export function checkNodeId(node: string, field = 'node'): string {
  if (typeof node !== 'string' || !NODE_ID.test(node)) {
    throw invalid(field, `expected a node id (lower-case letters, digits, '.', '_', '-', 1-63 characters), got ${JSON.stringify(node)}`);
  }
  return node;
}

/**
 * SHA-256 over an unambiguous encoding of the entry: the tag, then each field as a 4-byte
 * big-endian length followed by its UTF-8 bytes, in this order:
 *   prevHash, seq (decimal), node, at, type, actor, subject, outcome, reason, details
 * Returns lower-case hex.
 */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const fields = [e.prevHash, String(e.seq), e.node, e.at, e.type, e.actor, e.subject, e.outcome, e.reason, e.details];
  // The whole encoding in one buffer, hashed in one update (it runs for every entry appended).
  let size = HASH_PREFIX.length;
  for (const field of fields) size += 4 + Buffer.byteLength(field, 'utf8');
  const buf = Buffer.allocUnsafe(size);
  let at = HASH_PREFIX.copy(buf, 0);
  for (const field of fields) {
    const n = buf.write(field, at + 4, 'utf8');
    buf.writeUInt32BE(n, at);
    at += 4 + n;
  }
  return createHash('sha256').update(buf).digest('hex');
}

/** The tag and its terminating zero byte. */
const HASH_PREFIX = Buffer.concat([Buffer.from(HASH_TAG, 'utf8'), Buffer.of(0)]);

/** Validate an event against the catalogue and encode it as stored text. Throws JukiError; changes nothing. */
export function encodeEvent(node: string, event: AuditEventInput, at: Date): EntryFields {
  if (event === null || typeof event !== 'object') throw invalid('event', 'expected an object');
  // Secrets first: a `pin` field must be refused as a secret, not merely as undeclared.
  refuseSecrets(event.details);
  const type = event.type as string;
  if (!isEventType(type)) throw invalid('event.type', `expected an event in the audit catalogue, got ${JSON.stringify(type)}`);
  const spec = AUDIT_EVENTS[type];
  const outcome = event.outcome ?? 'success';
  if (!OUTCOMES.includes(outcome)) throw invalid('event.outcome', `expected success, refused or error, got ${JSON.stringify(outcome)}`);
  let reason = '';
  if (outcome === 'success') {
    if (event.reason !== undefined) throw invalid('event.reason', 'a successful event carries no reason code');
  } else {
    if (typeof event.reason !== 'string' || !REASON.test(event.reason)) {
      throw invalid('event.reason', `expected a reason code (e.g. JUKI_ERR_CONFLICT or 6983) for outcome ${outcome}, got ${JSON.stringify(event.reason)}`);
    }
    reason = event.reason;
  }
  if (Number.isNaN(at.getTime())) throw invalid('at', 'expected a valid time');
  return {
    node: checkNodeId(node),
    at: at.toISOString(),
    type,
    actor: encodeActor(event.actor),
    subject: encodeSubject(type, spec.subject, event.subject),
    outcome,
    reason,
    details: encodeDetails(type, spec.details, event.details),
  };
}

function encodeActor(actor: Actor | undefined): string {
  if (!actor || typeof actor !== 'object' || !Object.prototype.hasOwnProperty.call(ACTOR_KINDS, actor.kind)) {
    throw invalid('event.actor.kind', `expected one of ${Object.keys(ACTOR_KINDS).join(', ')}, got ${JSON.stringify(actor?.kind)}`);
  }
  if (actor.kind === 'system') {
    if (actor.id !== undefined) throw invalid('event.actor.id', 'the system actor has no id');
    return 'system';
  }
  if (typeof actor.id !== 'string' || !ID.test(actor.id)) {
    throw invalid('event.actor.id', `expected an id (letters, digits, '.', '_', '-') for actor ${actor.kind}, got ${JSON.stringify(actor.id)}`);
  }
  return `${actor.kind}:${actor.id}`;
}

function encodeSubject(type: string, expected: SubjectKind | null, subject: Subject | undefined): string {
  if (expected === null) {
    if (subject !== undefined) throw invalid('event.subject', `event ${type} has no subject`);
    return '';
  }
  if (!subject || subject.kind !== expected) {
    throw invalid('event.subject.kind', `event ${type} is about a ${expected}, got ${JSON.stringify(subject?.kind)}`);
  }
  if (typeof subject.id !== 'string' || !ID.test(subject.id)) {
    throw invalid('event.subject.id', `expected a ${expected} id (letters, digits, '.', '_', '-'), got ${JSON.stringify(subject.id)}`);
  }
  return `${subject.kind}:${subject.id}`;
}

/** A catalogue shape as a list, once per event type: `'string?'` -> base string, optional. */
const shapes = new WeakMap<object, readonly { k: string; base: string; optional: boolean }[]>();
function fieldsOf(shape: Readonly<Record<string, FieldType>>): readonly { k: string; base: string; optional: boolean }[] {
  let fields = shapes.get(shape);
  if (!fields) {
    fields = Object.entries(shape).map(([k, t]) => ({ k, base: t.endsWith('?') ? t.slice(0, -1) : t, optional: t.endsWith('?') }));
    shapes.set(shape, fields);
  }
  return fields;
}

function encodeDetails(type: string, shape: Readonly<Record<string, FieldType>>, details: unknown): string {
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw invalid('event.details', `expected an object, got ${details === null ? 'null' : Array.isArray(details) ? 'an array' : typeof details}`);
  }
  const given = details as Record<string, unknown>;
  for (const k of Object.keys(given)) {
    if (!Object.prototype.hasOwnProperty.call(shape, k)) {
      throw invalid(`details.${k}`, `event ${type} declares no such field (declared: ${Object.keys(shape).join(', ') || 'none'})`);
    }
  }
  for (const { k, base, optional } of fieldsOf(shape)) {
    const v = given[k];
    if (v === undefined) {
      if (!optional) throw invalid(`details.${k}`, `event ${type} requires this field (${base})`);
      continue;
    }
    const ok = base === 'json' || (base === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === base);
    if (!ok) throw invalid(`details.${k}`, `expected ${base}, got ${typeof v}`);
  }
  // A plain object without undefined fields is encoded as it is; anything else through a copy.
  const asIs = Object.getPrototypeOf(given) === Object.prototype && !Object.values(given).includes(undefined);
  const defined = asIs ? given : Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const text = canonicalJson(defined, 'details');
  if (text.length > 65536) throw new JukiError('JUKI_ERR_INVALID_INPUT', `details: expected at most 65536 characters of JSON, got ${text.length}`, { field: 'details' });
  return text;
}
