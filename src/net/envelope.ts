/**
 * The Juki-net message envelope and the catalogue of message types.
 *
 * An envelope is a plain immutable value; on the wire it is canonical JSON (keys sorted, no
 * whitespace: the same envelope always gives the same bytes, which is what NATS signatures
 * and the outbox store):
 *
 *   {"body":{"cardNumber":"C0001","changedAt":"2025-04-01T00:00:00.000Z","issuer":"131016","status":"suspended","version":2},
 *    "createdAt":"2025-04-01T00:00:00.000Z","from":"municipality-131016","id":"5f0c...","key":"C0001",
 *    "seq":2,"to":"prefecture-13","type":"card.status","v":1}
 *
 * `key` is the ordering key (the card number for card messages); `seq` numbers the messages
 * of one (from, to, key) 1, 2, 3... without gaps, so the receiver applies them in order.
 */
import { canonicalJson } from '../audit/index.ts';
import { JukiError } from '../util/index.ts';
import { parseNodeId, type Role } from './roles.ts';

/** The envelope format version; a new wire format gets a new number. */
export const ENVELOPE_VERSION = 1;

export const CARD_STATUSES = ['active', 'suspended', 'abolished', 'collected'] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];

/** A card's status as the issuing municipality recorded it; `version` grows by one per change. */
export interface CardStatusBody {
  readonly cardNumber: string;
  readonly status: CardStatus;
  /** The issuing municipality's code. */
  readonly issuer: string;
  readonly version: number;
  readonly changedAt: string;
  /**
   * The holder's resident code (optional): lets the national center answer "card: yes/no"
   * with identity records (R3.2.1ka) and an agency match a notice by resident code.
   */
  readonly residentCode?: string;
}

/** A card handed in at a move-in municipality, reported to its issuer (R3.2.1i). */
export interface ReturnedCardBody {
  readonly cardNumber: string;
  readonly issuer: string;
  /** The municipality that received it. */
  readonly receivedBy: string;
  readonly receivedAt: string;
}

/** A resident's identity record changed at their municipality (routes filled in later). */
export interface IdentityChangeBody {
  readonly residentCode: string;
  readonly municipality: string;
  readonly version: number;
  readonly record: unknown;
}

/** An agency's notice of a card's status (R3.2.1o): agencies keep the list of unusable cards. */
export type AgencyNoticeBody = CardStatusBody;

/** A node's audit-chain head, signed with its node key, for a peer to hold (docs/network.md). */
export interface AuditCheckpointBody {
  readonly node: string;
  readonly seq: number;
  readonly headHash: string;
  readonly at: string;
  /** ECDSA P-256 / SHA-256, IEEE P1363 (r || s), base64, over checkpointSigningInput(). */
  readonly signature: string;
}

export interface MessageBodies {
  'card.status': CardStatusBody;
  'card.returned': ReturnedCardBody;
  'identity.changed': IdentityChangeBody;
  'agency.notice': AgencyNoticeBody;
  'audit.checkpoint': AuditCheckpointBody;
}

export type MessageType = keyof MessageBodies;

export interface MessageSpec {
  readonly meaning: string;
  /** (sender role, receiver role) pairs allowed for this type; the authoriser denies any other. */
  readonly routes: readonly (readonly [Role, Role])[];
  /** Check a body and return it typed; throws JukiError naming the field. */
  readonly body: (value: unknown, field: string) => unknown;
  /** The ordering key a body must carry. */
  readonly key: (body: never) => string;
}

const CARD_NUMBER = /^[A-Za-z0-9-]{1,32}$/;
const MUNICIPALITY = /^\d{6}$/;
const RESIDENT_CODE = /^\d{11}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function bad(field: string, what: string): JukiError {
  return new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: ${what}`, { field });
}
function shown(v: unknown): string {
  return v === undefined ? 'nothing' : typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? (v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object') : `${typeof v} ${String(v)}`;
}
function object(v: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(field, `expected an object, got ${shown(v)}`);
  const extra = Object.keys(v).filter((k) => !keys.includes(k));
  if (extra.length) throw bad(`${field}.${extra[0]}`, `unexpected field (expected only ${keys.join(', ')})`);
  return v as Record<string, unknown>;
}
function str(o: Record<string, unknown>, k: string, field: string, re: RegExp, what: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !re.test(v)) throw bad(`${field}.${k}`, `expected ${what}, got ${shown(v)}`);
  return v;
}
function posInt(o: Record<string, unknown>, k: string, field: string, min = 1): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(`${field}.${k}`, `expected an integer >= ${min}, got ${shown(v)}`);
  return v;
}

function cardStatusBody(v: unknown, field: string): CardStatusBody {
  const o = object(v, field, ['cardNumber', 'status', 'issuer', 'version', 'changedAt', 'residentCode']);
  const status = o.status;
  if (!CARD_STATUSES.includes(status as CardStatus)) throw bad(`${field}.status`, `expected one of ${CARD_STATUSES.join(', ')}, got ${shown(status)}`);
  return {
    cardNumber: str(o, 'cardNumber', field, CARD_NUMBER, 'a card number (1-32 letters, digits or -)'),
    status: status as CardStatus,
    issuer: str(o, 'issuer', field, MUNICIPALITY, 'a 6-digit municipality code'),
    version: posInt(o, 'version', field),
    changedAt: str(o, 'changedAt', field, ISO_TIME, 'an ISO-8601 UTC time'),
    ...(o.residentCode !== undefined ? { residentCode: str(o, 'residentCode', field, RESIDENT_CODE, 'an 11-digit resident code') } : {}),
  };
}

const ANY_TO_ANY: (readonly [Role, Role])[] = (['municipality', 'prefecture', 'national', 'agency', 'jpki', 'bureau'] as const).flatMap(
  (a) => (['municipality', 'prefecture', 'national', 'agency', 'jpki', 'bureau'] as const).map((b) => [a, b] as const),
);

/** The message catalogue: meaning, allowed routes, body check and ordering key of each type. */
export const MESSAGE_TYPES: { readonly [T in MessageType]: MessageSpec & { body: (v: unknown, field: string) => MessageBodies[T]; key: (b: MessageBodies[T]) => string } } = {
  'card.status': {
    meaning: 'A card became active, suspended, abolished or collected: municipality -> its prefecture (R3.2.1u), prefecture -> national center (R3.2.1e).',
    routes: [['municipality', 'prefecture'], ['prefecture', 'national']],
    body: cardStatusBody,
    key: (b) => b.cardNumber,
  },
  'card.returned': {
    meaning: 'A move-in municipality received a returned card and tells the issuing municipality (R3.2.1i).',
    routes: [['municipality', 'municipality']],
    body: (v, field) => {
      const o = object(v, field, ['cardNumber', 'issuer', 'receivedBy', 'receivedAt']);
      return {
        cardNumber: str(o, 'cardNumber', field, CARD_NUMBER, 'a card number (1-32 letters, digits or -)'),
        issuer: str(o, 'issuer', field, MUNICIPALITY, 'a 6-digit municipality code'),
        receivedBy: str(o, 'receivedBy', field, MUNICIPALITY, 'a 6-digit municipality code'),
        receivedAt: str(o, 'receivedAt', field, ISO_TIME, 'an ISO-8601 UTC time'),
      };
    },
    key: (b) => b.cardNumber,
  },
  'identity.changed': {
    meaning: 'A resident\'s identity record changed: municipality -> prefecture -> national center.',
    routes: [['municipality', 'prefecture'], ['prefecture', 'national']],
    body: (v, field) => {
      const o = object(v, field, ['residentCode', 'municipality', 'version', 'record']);
      if (o.record === undefined) throw bad(`${field}.record`, 'expected the identity record, got nothing');
      return {
        residentCode: str(o, 'residentCode', field, RESIDENT_CODE, 'an 11-digit resident code'),
        municipality: str(o, 'municipality', field, MUNICIPALITY, 'a 6-digit municipality code'),
        version: posInt(o, 'version', field),
        record: o.record,
      };
    },
    key: (b) => b.residentCode,
  },
  'agency.notice': {
    meaning: 'A card\'s status pushed to an agency that verifies residents by card (R3.2.1o), from the national center (or a prefecture or municipality).',
    routes: [['national', 'agency'], ['prefecture', 'agency'], ['municipality', 'agency']],
    body: cardStatusBody,
    key: (b) => b.cardNumber,
  },
  'audit.checkpoint': {
    meaning: 'A node\'s signed audit-chain head, sent to a peer that holds it so a rewritten chain is caught.',
    routes: ANY_TO_ANY,
    body: (v, field) => {
      const o = object(v, field, ['node', 'seq', 'headHash', 'at', 'signature']);
      return {
        node: str(o, 'node', field, /^[a-z0-9][a-z0-9._-]{0,62}$/, 'a node id'),
        seq: posInt(o, 'seq', field, 0),
        headHash: str(o, 'headHash', field, /^[0-9a-f]{64}$/, '64 lower-case hex digits'),
        at: str(o, 'at', field, ISO_TIME, 'an ISO-8601 UTC time'),
        signature: str(o, 'signature', field, /^[A-Za-z0-9+/]{86}==$/, 'a base64 ECDSA P-256 signature (64 bytes)'),
      };
    },
    key: (b) => b.node,
  },
};

export function isMessageType(t: unknown): t is MessageType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(MESSAGE_TYPES, t);
}

/** One message between two nodes. */
export interface Envelope<T extends MessageType = MessageType> {
  readonly v: typeof ENVELOPE_VERSION;
  /** Unique message id: the inbox's primary key. */
  readonly id: string;
  readonly type: T;
  /** Sender's node id; must equal the identity of the peer's certificate. */
  readonly from: string;
  readonly to: string;
  /** Ordering key: the card number for card messages. */
  readonly key: string;
  /** 1, 2, 3... per (from, to, key). */
  readonly seq: number;
  readonly createdAt: string;
  readonly body: MessageBodies[T];
}

/** What a sender writes to its outbox: the outbox adds id, seq and time. */
export interface Draft<T extends MessageType = MessageType> {
  readonly type: T;
  readonly from: string;
  readonly to: string;
  readonly body: MessageBodies[T];
}

const ENVELOPE_KEYS = ['v', 'id', 'type', 'from', 'to', 'key', 'seq', 'createdAt', 'body'] as const;

/** Check a draft (type, node ids, body) and return its ordering key. */
export function checkDraft(draft: Draft, field = 'message'): string {
  if (draft === null || typeof draft !== 'object') throw bad(field, `expected a message, got ${shown(draft)}`);
  if (!isMessageType(draft.type)) throw bad(`${field}.type`, `expected one of ${Object.keys(MESSAGE_TYPES).join(', ')}, got ${shown(draft.type)}`);
  parseNodeId(draft.from, `${field}.from`);
  parseNodeId(draft.to, `${field}.to`);
  if (draft.from === draft.to) throw bad(`${field}.to`, `a node does not send to itself (${draft.from})`);
  const spec = MESSAGE_TYPES[draft.type] as MessageSpec;
  const body = spec.body(draft.body, `${field}.body`);
  return (spec.key as (b: unknown) => string)(body);
}

/**
 * Parse and check an envelope from its wire text or a decoded value: every field, the body
 * against its type, and that `key` is the key the body implies. Throws JUKI_ERR_INVALID_INPUT
 * naming the first bad field (`envelope.body.status: expected one of ..., got "lost"`).
 */
export function parseEnvelope(input: unknown, field = 'envelope'): Envelope {
  let value = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch {
      throw bad(field, 'expected JSON, got text that does not parse');
    }
  }
  const o = object(value, field, ENVELOPE_KEYS);
  if (o.v !== ENVELOPE_VERSION) throw bad(`${field}.v`, `expected ${ENVELOPE_VERSION}, got ${shown(o.v)}`);
  const id = str(o, 'id', field, ID, 'a message id (1-128 letters, digits, . _ : -)');
  if (!isMessageType(o.type)) throw bad(`${field}.type`, `expected one of ${Object.keys(MESSAGE_TYPES).join(', ')}, got ${shown(o.type)}`);
  const type = o.type;
  if (typeof o.from !== 'string') throw bad(`${field}.from`, `expected a node id, got ${shown(o.from)}`);
  if (typeof o.to !== 'string') throw bad(`${field}.to`, `expected a node id, got ${shown(o.to)}`);
  parseNodeId(o.from, `${field}.from`);
  parseNodeId(o.to, `${field}.to`);
  const seq = posInt(o, 'seq', field);
  const createdAt = str(o, 'createdAt', field, ISO_TIME, 'an ISO-8601 UTC time');
  const spec = MESSAGE_TYPES[type] as MessageSpec;
  const body = spec.body(o.body, `${field}.body`);
  const key = (spec.key as (b: unknown) => string)(body);
  if (o.key !== key) throw bad(`${field}.key`, `expected ${JSON.stringify(key)} (the ordering key of this ${type} body), got ${shown(o.key)}`);
  return Object.freeze({ v: ENVELOPE_VERSION, id, type, from: o.from, to: o.to, key, seq, createdAt, body: body as MessageBodies[MessageType] });
}

/** The canonical wire text of an envelope (canonical JSON, UTF-8). */
export function encodeEnvelope(envelope: Envelope): string {
  return canonicalJson(envelope, 'envelope');
}

/** One line for traces: `card.status municipality-131016 -> prefecture-13 C0001#2 (5f0c...)`. */
export function describeEnvelope(e: Pick<Envelope, 'type' | 'from' | 'to' | 'key' | 'seq' | 'id'>): string {
  return `${e.type} ${e.from} -> ${e.to} ${e.key}#${e.seq} (${e.id})`;
}
