/**
 * The audit event catalogue: every kind of entry the log accepts, what it means, what it is
 * about (the subject kind) and the exact shape of its details. Appending an event that is not
 * here, or details with a field not declared here, is refused: the catalogue is the review
 * point for what the log may hold (and a test checks no declared field looks like a secret).
 *
 * Adding an event is one line in AUDIT_EVENTS:
 *
 *   'card.issued': ev('A card was issued to a resident.', 'card', { municipality: 'string' }),
 */

/** Who acted. `id` is required for every kind except `system`. */
export const ACTOR_KINDS = {
  staff: 'A staff member, by staff id (counter, bureau or agency operator).',
  node: 'Another node of the network, by node id (a message applied from its outbox).',
  holder: 'The card holder, by card number (e.g. at the PIN pad).',
  system: 'This node itself, with no person behind the action (scheduled jobs, the command line).',
} as const;

/** What an entry is about. */
export const SUBJECT_KINDS = {
  resident: 'A resident, by resident code.',
  card: 'A card, by card number.',
  node: 'A node, by node id.',
  batch: 'A batch (seed run, bureau batch), by batch id.',
} as const;

export type ActorKind = keyof typeof ACTOR_KINDS;
export type SubjectKind = keyof typeof SUBJECT_KINDS;

/** A details field's type; a trailing `?` makes it optional. `json` is any JSON value. */
export type FieldType = 'string' | 'number' | 'boolean' | 'json' | 'string?' | 'number?' | 'boolean?' | 'json?';

export interface EventSpec {
  readonly meaning: string;
  /** The kind of subject the entry must name, or null for none. */
  readonly subject: SubjectKind | null;
  readonly details: Readonly<Record<string, FieldType>>;
}

function ev<const S extends SubjectKind | null, const D extends Record<string, FieldType>>(meaning: string, subject: S, details: D) {
  return { meaning, subject, details } as const;
}

export const AUDIT_EVENTS = {
  // register (foundation)
  'resident.registered': ev('A resident was entered in the register (birth, first registration).', 'resident', { municipality: 'string', cause: 'string?' }),
  'resident.moved': ev('A resident moved: in from another municipality, out to one, or within this one.', 'resident', { direction: 'string', municipality: 'string', from: 'string?', to: 'string?' }),
  'resident.updated': ev('Fields of a resident record changed; `changed` lists the field names, never their values.', 'resident', { changed: 'json' }),
  'resident.removed': ev('A resident was removed from the register (death, loss of residence).', 'resident', { cause: 'string' }),
  // operations (foundation)
  'seed.run': ev('Seed data was loaded into this node.', 'batch', { dataset: 'string', records: 'number' }),
  'audit.verified': ev('This node\'s audit chain was verified; on failure, where and why it broke.', 'node', {
    entries: 'number', headSeq: 'number', checkpoints: 'number', brokenSeq: 'number?', problem: 'string?',
  }),
  // jpki (certification authority)
  'jpki.ca.created': ev('The JPKI CA made a CA key pair in its key store and issued that CA\'s certificate (root: self-signed; issuing: by its root).', null, { ca: 'string', serial: 'string', subjectName: 'string', store: 'string' }),
  'jpki.certificate.issued': ev('The JPKI CA issued a certificate for a public key made on a card (the CA never saw the private key).', 'card', { kind: 'string', serial: 'string', ca: 'string' }),
  'jpki.certificate.revoked': ev('A JPKI certificate was revoked because its card was suspended, abolished or reported lost; `reason` is the RFC 5280 reason code name.', 'card', { kind: 'string', serial: 'string', ca: 'string', reason: 'string', cause: 'string' }),
  'jpki.certificate.released': ev('A certificateHold was lifted (the suspended card was restored): the certificate is good again.', 'card', { kind: 'string', serial: 'string', ca: 'string' }),
  // Juki-net (src/net)
  'net.message.refused': ev('A Juki-net message was refused before anything was applied: no or invalid peer certificate, bad signature, a declared sender other than the certificate\'s node, or a route the peer\'s role may not use. Actor: the authenticated peer (system when none).', 'node', { messageType: 'string?', declaredFrom: 'string?', to: 'string?', why: 'string' }),
  'net.checkpoint.held': ev('This node received and holds a peer\'s signed audit checkpoint (its chain head at seq), so that a later rewrite of that chain is caught.', 'node', { seq: 'number', headHash: 'string', at: 'string' }),
} as const satisfies Record<string, EventSpec>;

export type EventType = keyof typeof AUDIT_EVENTS;

type Base<F> = F extends 'string' | 'string?' ? string
  : F extends 'number' | 'number?' ? number
  : F extends 'boolean' | 'boolean?' ? boolean
  : JsonValue;
type Shape<T extends EventType> = (typeof AUDIT_EVENTS)[T]['details'];

/** The details an event of type T takes, derived from its catalogue entry. */
export type DetailsOf<T extends EventType> =
  & { -readonly [K in keyof Shape<T> as Shape<T>[K] extends `${string}?` ? never : K]: Base<Shape<T>[K]> }
  & { -readonly [K in keyof Shape<T> as Shape<T>[K] extends `${string}?` ? K : never]?: Base<Shape<T>[K]> };

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function isEventType(name: string): name is EventType {
  return Object.prototype.hasOwnProperty.call(AUDIT_EVENTS, name);
}
