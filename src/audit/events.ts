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
  // municipality CS: counter staff, stock, applications, issuance, card status (src/cs, docs/counter.md)
  'cs.staff.enrolled': ev('A staff member was enrolled with a role and an operator card (its serial; the public key stays in the staff table).', null, { staff: 'string', role: 'string', cardSerial: 'string' }),
  'cs.staff.setup': ev('The first administrator of a CS without staff was enrolled with the one-time set-up code printed on the node\'s console, or a set-up attempt was refused (wrong or closed code).', null, { staff: 'string' }),
  'cs.staff.login': ev('A staff member signed in with the operator card (challenge signed by the card), or was refused.', null, { staff: 'string', terminal: 'string?' }),
  'cs.terminal.registered': ev('A counter terminal was registered with its card reader and separate PIN pad.', null, { terminal: 'string', reader: 'string', pad: 'string' }),
  'cs.access': ev('A permission decision for a counter operation (deny by default): allowed, or refused with JUKI_ERR_CS_FORBIDDEN.', null, { permission: 'string', operation: 'string' }),
  'cs.stock.moved': ev('A blank card moved in the stock ledger (received, re-keyed into the safe, taken out, returned, used, spoiled, destroyed); subject: its delivery lot.', 'batch', { serial: 'string', event: 'string', from: 'string?', to: 'string', terminal: 'string?', witness: 'string?', why: 'string?' }),
  'cs.stock.reconciled': ev('A stock reconciliation report: counts per state and the number of alarms (each alarm is its own cs.stock.alarm entry).', null, { counts: 'json', alarms: 'number' }),
  'cs.stock.alarm': ev('A blank card is unaccounted for: the ledger, the stock records and the physical count disagree.', null, { serial: 'string', alarm: 'string', expected: 'string?', found: 'string?' }),
  'cs.application.decided': ev('A card application (new, reissue, renewal) was accepted, or refused with its reason code.', 'resident', { application: 'string', kind: 'string', priorCard: 'string?', disposition: 'string?' }),
  'cs.issuance.completed': ev('An issuance committed: the card is recorded issued-awaiting-PIN and its blank card used; or it failed and the blank card is accounted for.', 'resident', { application: 'string', serial: 'string', card: 'string?', stock: 'string' }),
  'cs.issuance.recovered': ev('On restart, an issuance left pending by a crash was resolved: no card recorded, the blank card spoiled for witnessed destruction.', 'resident', { application: 'string', serial: 'string', card: 'string' }),
  'cs.card.status': ev('A card\'s status changed under the configured status machine (or the change was refused); also written to the outbox for Juki-net.', 'card', { from: 'string?', to: 'string', cause: 'string', issuer: 'string' }),
  'cs.card.step': ev('One step of a card flow at the counter (re-key, personalisation, JPKI area) on a card in a terminal\'s reader (R3.1.2o): names and public facts only, never data or keys.', 'card', { flow: 'string', step: 'string', result: 'string', serial: 'string', terminal: 'string' }),
  'cs.face.print-job': ev('The face print job of an issued card was written (R3.1.2e): its form and the PDF\'s SHA-256.', 'card', { application: 'string', form: 'string', sha256: 'string' }),
  'cs.identity.verified': ev('Staff verified a holder\'s identity at the counter before a PIN change or unblock (R3.2.2a, R3.2.2i): how, for which card.', 'resident', { check: 'string', card: 'string', purpose: 'string', method: 'string', terminal: 'string' }),
  'cs.pin.set': ev('A PIN was set on the PIN pad at a terminal (the holder, the legal representative, or staff from a voluntary agent\'s sealed notice, R3.1.2ka), or the pad step failed: the outcome only, never the PIN.', 'card', { app: 'string', by: 'string', result: 'string', terminal: 'string', notice: 'string?', check: 'string?' }),
  'cs.pin.reset': ev('The issuer side reset a card\'s PIN over its secure channel after a recorded identity verification (R3.2.2a change, R3.2.2i unblock); the holder then sets a new one on the pad.', 'card', { kind: 'string', check: 'string', before: 'string', terminal: 'string' }),
  'cs.pin.notice-destroyed': ev('A voluntary agent\'s sealed PIN notice, opened to type the PIN on the pad, was destroyed (R3.1.2ka): who, and the witness.', 'card', { notice: 'string', witness: 'string?' }),
  'cs.jpki.revoked': ev('The card\'s JPKI certificates were revoked by the jpki role after a status change (suspended, abolished, lost), or the request failed.', 'card', { cause: 'string', certificates: 'number' }),
  'cs.card.returned': ev('A card of another issuer was handed in at move-in: collected here and reported to its issuing municipality (R3.2.1i).', 'card', { issuer: 'string', resident: 'string' }),
  // Juki-net (src/net)
  'net.message.refused': ev('A Juki-net message was refused before anything was applied: no or invalid peer certificate, bad signature, a declared sender other than the certificate\'s node, or a route the peer\'s role may not use. Actor: the authenticated peer (system when none).', 'node', { messageType: 'string?', declaredFrom: 'string?', to: 'string?', why: 'string' }),
  'net.checkpoint.held': ev('This node received and holds a peer\'s signed audit checkpoint (its chain head at seq), so that a later rewrite of that chain is caught.', 'node', { seq: 'number', headHash: 'string', at: 'string' }),
  'net.message.enqueued': ev('An operator wrote a message to this node\'s own outbox with `juki net enqueue` (re-announcing a status, exercising a route); the receiver still authorises it by this node\'s certificate.', 'node', { messageType: 'string', to: 'string', ordering: 'string', seq: 'number', id: 'string' }),
  'net.identity.query': ev('An identity-record request was decided (R4.1: requesting body, statutory affair, resident or not; deny by default). Actor: the requesting node by its certificate (system when none). Outcome refused with JUKI_ERR_NET_AFFAIR_DENIED, or success with whether a record was found.', null, { affair: 'string', by: 'string', why: 'string', residentCode: 'string?', found: 'boolean?', card: 'string?' }),
  'net.card.read': ev('The national center decided a request to read a card\'s basic area through an agency terminal\'s relay (R4.2.1: an agency, for an affair of that agency; deny by default) and, when allowed, read it over the area\'s secure channel. Actor: the requesting node by its certificate (system when none). Outcome refused with JUKI_ERR_NET_CARD_READ_DENIED (nothing sent to the card), error when the card or the channel refused, or success with the card number read.', null, { affair: 'string', by: 'string', terminal: 'string', why: 'string', card: 'string?' }),
  'net.card-keys.decided': ev('The national center decided a request for one card\'s basic-area keys, wrapped for the requesting CS\'s ephemeral key (municipalities only; deny by default). Actor: the requesting node by its certificate (system when none). Outcome refused with JUKI_ERR_NET_CARD_KEYS_DENIED (nothing derived), error when the service failed, or success: the keys left wrapped for that one request.', null, { by: 'string', why: 'string', serial: 'string?' }),
  'jpki.relay.decided': ev('The jpki node decided a remote JPKI request from a CS (personalising a card\'s JPKI area step by step through the CS\'s terminal, or revoking a card\'s certificates; municipalities only, deny by default), or a personalisation session ended. Actor: the requesting node by its certificate (system when none). Outcome refused (JUKI_ERR_JPKI_RELAY_DENIED, JUKI_ERR_JPKI_RELAY_SESSION), error when the card or the CA failed, or success.', null, { operation: 'string', by: 'string', why: 'string', session: 'string?', card: 'string?', steps: 'number?', certificates: 'number?' }),
  'net.card.noticed': ev('The national center sent a card\'s suspension, abolition or collection (or its lifting) to every agency that verifies residents by card (R3.2.1o).', 'card', { status: 'string', version: 'number', agencies: 'json' }),
  'agency.notice.recorded': ev('This agency recorded a notice of a card\'s status in its notice list (R3.2.1o).', 'card', { status: 'string', version: 'number', from: 'string' }),
  'agency.card.verification': ev('Card verification at an agency desk stopped before the notice list (R4.2.1): the holder\'s PIN was not verified on the PIN pad (step pin), or the national center could not or would not read the card (step read). Nothing was read or requested.', null, { affair: 'string', step: 'string', terminal: 'string' }),
  'agency.card.checked': ev('An agency checked a card against its notice list before requesting the identity record (R4.2.2): accepted, or refused with JUKI_ERR_AGENCY_CARD_NOTICED (no record requested).', 'card', { affair: 'string', status: 'string?', source: 'string?' }),
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
