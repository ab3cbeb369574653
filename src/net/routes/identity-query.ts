/**
 * Identity-record queries (本人確認情報の提供, R4.1.1-R4.1.4, R3.2.1ka), answered by the
 * national center or a prefecture. The requester is the node of the peer certificate the
 * transport established (mutual TLS, or the in-process handshake), never a header or a field.
 *
 *   POST /juki-net/v1/identity-records/query
 *     {"affair": "agency.passport-issuance", "residentCode": "12345678901", "cardNumber"?: "C0001"}
 *     {"affair": "juki.move-in", "name": {"family": "山田", "given": "太郎"}, "birthDate": "1980-01-02", "address": "東京都中央区…"}
 *   200 {"decision": "allowed", "why": "...", "records": [{"record": {...}, "card"?: "yes" | "no"}], "cardStatus"?: {...}}
 *   403 {"code": "JUKI_ERR_NET_AFFAIR_DENIED", "message": why}      400 {"code": "JUKI_ERR_INVALID_INPUT", ...}
 *
 * Every decision is audited at the answering node (`net.identity.query`). A refusal is made
 * from (body, affair) before any lookup where it can be, so it says nothing about the person.
 * Answers to municipalities carry "card: yes" when a card of the person is active, else "no"
 * (R3.2.1ka, 第3の2(1)カ). `cardStatus` is this node's record of the card named in the request,
 * so an agency learns of a suspension the national center knows before its notice arrives.
 */
import type { AuditLog } from '../../audit/index.ts';
import type { Database } from '../../db/index.ts';
import type { IdentityRecord } from '../../register/index.ts';
import { JukiError, isJukiError } from '../../util/index.ts';
import { nodeId, type NodeSpec } from '../roles.ts';
import { decideBody, decideSubject, affairCatalogue, type AffairCatalogue } from './affairs.ts';
import { cardStatusOf, cardsOfResident, currentIdentity, findIdentities, type KnownCardStatus } from './records.ts';

export const IDENTITY_QUERY_PATH = '/juki-net/v1/identity-records/query';

export type IdentityQuery =
  | { readonly affair: string; readonly residentCode: string; readonly cardNumber?: string }
  | { readonly affair: string; readonly name: { readonly family: string; readonly given: string }; readonly birthDate: string; readonly address: string };

export interface IdentityAnswer {
  readonly decision: 'allowed';
  readonly why: string;
  readonly records: readonly { readonly record: IdentityRecord; readonly card?: 'yes' | 'no' }[];
  readonly cardStatus?: KnownCardStatus;
}

export type QueryReply =
  | { readonly status: 200; readonly body: IdentityAnswer }
  | { readonly status: 400 | 403; readonly body: { readonly code: string; readonly message: string } };

/** Check a query's fields; throws JUKI_ERR_INVALID_INPUT naming the first bad one. */
export function parseIdentityQuery(input: unknown): IdentityQuery {
  const bad = (field: string, what: string) => new JukiError('JUKI_ERR_INVALID_INPUT', `query.${field}: ${what}`, { field: `query.${field}` });
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw bad('', 'expected an object');
  const o = input as Record<string, unknown>;
  const allowed = ['affair', 'residentCode', 'cardNumber', 'name', 'birthDate', 'address'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(k, `unexpected field (expected ${allowed.join(', ')})`);
  if (typeof o.affair !== 'string' || o.affair.length === 0 || o.affair.length > 100) throw bad('affair', 'expected an affair id from the catalogue');
  if (o.residentCode !== undefined) {
    if (typeof o.residentCode !== 'string' || !/^\d{11}$/.test(o.residentCode)) throw bad('residentCode', `expected 11 digits, got ${JSON.stringify(o.residentCode)}`);
    if (o.name !== undefined || o.birthDate !== undefined || o.address !== undefined) throw bad('residentCode', 'ask by resident code or by name, birth date and address, not both');
    if (o.cardNumber !== undefined && (typeof o.cardNumber !== 'string' || !/^[A-Za-z0-9-]{1,32}$/.test(o.cardNumber))) throw bad('cardNumber', 'expected a card number of 1-32 letters, digits or -');
    return { affair: o.affair, residentCode: o.residentCode, ...(o.cardNumber !== undefined ? { cardNumber: o.cardNumber as string } : {}) };
  }
  if (o.cardNumber !== undefined) throw bad('cardNumber', 'only with a resident code');
  const name = o.name as Record<string, unknown> | undefined;
  if (!name || typeof name !== 'object' || typeof name.family !== 'string' || typeof name.given !== 'string' || Object.keys(name).some((k) => k !== 'family' && k !== 'given')) {
    throw bad('name', 'expected {"family", "given"} (or a residentCode instead)');
  }
  if (typeof o.birthDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(o.birthDate)) throw bad('birthDate', `expected YYYY-MM-DD, got ${JSON.stringify(o.birthDate)}`);
  if (typeof o.address !== 'string' || o.address.trim() === '' || o.address.length > 200) throw bad('address', 'expected the address as text');
  return { affair: o.affair, name: { family: name.family, given: name.given }, birthDate: o.birthDate, address: o.address };
}

export interface IdentityQueryOptions {
  readonly database: Database;
  readonly audit: AuditLog;
  readonly catalogue?: AffairCatalogue;
}

/** The answering side: decide, look up, audit. */
export class IdentityQueryService {
  readonly #o: IdentityQueryOptions;
  readonly #catalogue: AffairCatalogue;

  constructor(options: IdentityQueryOptions) {
    this.#o = options;
    this.#catalogue = options.catalogue ?? affairCatalogue();
  }

  /** Answer `input` from `peer` (the certificate's node, or null). */
  async answer(peer: NodeSpec | null, input: unknown): Promise<QueryReply> {
    let q: IdentityQuery;
    try {
      q = parseIdentityQuery(input);
    } catch (e) {
      if (!isJukiError(e)) throw e;
      if (peer === null) return this.#deny(peer, { affair: '', residentCode: '00000000000' }, 'R4.1.4: no certificate from the network CA');
      return { status: 400, body: { code: e.code, message: e.message } };
    }
    const request = { requester: peer, affair: q.affair };
    const first = decideBody(request, this.#catalogue);
    if (!first.allow) return this.#deny(peer, q, first.why);
    const db = this.#o.database.db;
    const records = 'residentCode' in q
      ? await currentIdentity(db, q.residentCode).then((r) => (r ? [r] : []))
      : await findIdentities(db, q);
    // Each found person is decided on its own (resident or not); refused ones are left out,
    // and if any is refused the whole answer is refused (no partial leak by name search).
    for (const r of records) {
      const d = decideSubject(request, r.municipality, this.#catalogue);
      if (!d.allow) return this.#deny(peer, q, d.why, r.residentCode);
    }
    const cardStatus = 'residentCode' in q && q.cardNumber ? await cardStatusOf(db, q.cardNumber) : undefined;
    // A card this node knows to be suspended, abolished or collected gets no record, whichever
    // node learned of it first (R4.2.2): the requester gets the card's status instead.
    if (cardStatus && cardStatus.status !== 'active') records.length = 0;
    const withCard = peer!.role === 'municipality';
    const out = [];
    for (const record of records) {
      if (!withCard) {
        out.push({ record });
        continue;
      }
      const cards = await cardsOfResident(db, record.residentCode);
      out.push({ record, card: cards.some((c) => c.status === 'active') ? ('yes' as const) : ('no' as const) });
    }
    const why = records.length === 1 ? decideSubject(request, records[0]!.municipality, this.#catalogue).why : first.why;
    await this.#o.audit.record({
      type: 'net.identity.query', actor: { kind: 'node', id: nodeId(peer!) },
      details: {
        affair: q.affair, by: 'residentCode' in q ? 'resident-code' : 'name', why: cardStatus && cardStatus.status !== 'active' ? `card ${cardStatus.cardNumber} is ${cardStatus.status}: no record given` : why, found: records.length > 0,
        ...('residentCode' in q ? { residentCode: q.residentCode } : records.length === 1 ? { residentCode: records[0]!.residentCode } : {}),
        ...(withCard && out.length === 1 ? { card: out[0]!.card! } : {}),
      },
    });
    return { status: 200, body: { decision: 'allowed', why, records: out, ...(cardStatus ? { cardStatus } : {}) } };
  }

  async #deny(peer: NodeSpec | null, q: IdentityQuery, why: string, residentCode?: string): Promise<QueryReply> {
    const code = residentCode ?? ('residentCode' in q && q.affair !== '' ? q.residentCode : undefined);
    await this.#o.audit.record({
      type: 'net.identity.query', actor: peer ? { kind: 'node', id: nodeId(peer) } : { kind: 'system' }, outcome: 'refused', reason: 'JUKI_ERR_NET_AFFAIR_DENIED',
      details: { affair: q.affair, by: 'residentCode' in q ? 'resident-code' : 'name', why, ...(code ? { residentCode: code } : {}) },
    });
    return { status: 403, body: { code: 'JUKI_ERR_NET_AFFAIR_DENIED', message: why } };
  }
}
