/**
 * What prefectures and the national center keep from the messages they apply: card statuses
 * (net_card_status) and identity records (net_identity_records), migration 0006. Writes run
 * inside the inbox's transaction; the highest version wins, so nothing moves back.
 */
import type { Kysely, Transaction } from 'kysely';
import { Statement, type Schema } from '../../db/index.ts';
import type { IdentityRecord } from '../../register/index.ts';
import { JukiError } from '../../util/index.ts';
import type { CardStatus, CardStatusBody, IdentityChangeBody } from '../envelope.ts';

export type Trx = Transaction<Schema>;
type Db = Kysely<Schema> | Trx;

export interface KnownCardStatus {
  readonly cardNumber: string;
  readonly issuer: string;
  readonly status: CardStatus;
  readonly version: number;
  readonly changedAt: string;
}

/**
 * Record a card's announced status. Returns the status it replaced (undefined for a card new
 * here) and whether it was newer than what this node held.
 */
export async function recordCardStatus(trx: Trx, body: CardStatusBody, from: string, at: string): Promise<{ previous?: CardStatus; newer: boolean }> {
  // Run for every card.status a prefecture or the national center applies: fixed SQL text.
  const [row] = await CARD_STATUS.held.rows(trx, [body.cardNumber]);
  if (row && Number(row.version) >= body.version) return { previous: row.status as CardStatus, newer: false };
  const values = [body.issuer, body.residentCode ?? null, body.status, body.version, body.changedAt, from, at, body.cardNumber];
  await (row ? CARD_STATUS.update : CARD_STATUS.insert).run(trx, values);
  return { ...(row ? { previous: row.status as CardStatus } : {}), newer: true };
}

const CARD_STATUS = {
  held: new Statement<{ status: string; version: number | string }>('SELECT status, version FROM net_card_status WHERE card_number = ?'),
  update: new Statement(
    'UPDATE net_card_status SET issuer = ?, resident_code = ?, status = ?, version = ?, changed_at = ?, received_from = ?, updated_at = ? WHERE card_number = ?'),
  insert: new Statement(
    'INSERT INTO net_card_status (issuer, resident_code, status, version, changed_at, received_from, updated_at, card_number) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
};

// The query lookups below run for every identity-record query: fixed SQL text rather than built
// and compiled anew by the query builder each time, which cost more than SQLite takes to answer them.

type CardRow = { card_number: string; issuer: string; status: string; version: number; changed_at: string };
type IdentityRow = { status: string; record: string; updated_at: string };
const LOOKUP = {
  card: new Statement<CardRow>('SELECT card_number, issuer, status, version, changed_at FROM net_card_status WHERE card_number = ?'),
  cardsOf: new Statement<CardRow>('SELECT card_number, issuer, status, version, changed_at FROM net_card_status WHERE resident_code = ? ORDER BY card_number'),
  identity: new Statement<IdentityRow>('SELECT status, record, updated_at FROM net_identity_records WHERE resident_code = ?'),
  byName: new Statement<{ resident_code: string }>(
    'SELECT resident_code FROM net_identity_records WHERE name_key = ? AND birth_date = ? AND address = ? ORDER BY resident_code LIMIT ?'),
};
const knownCard = (r: CardRow): KnownCardStatus => ({ cardNumber: r.card_number, issuer: r.issuer, status: r.status as CardStatus, version: Number(r.version), changedAt: r.changed_at });

export async function cardStatusOf(db: Db, cardNumber: string): Promise<KnownCardStatus | undefined> {
  const [row] = await LOOKUP.card.rows(db, [cardNumber]);
  return row ? knownCard(row) : undefined;
}

/** Every card of a resident known here (announced with the holder's resident code): for the card yes/no flag. */
export async function cardsOfResident(db: Db, residentCode: string): Promise<KnownCardStatus[]> {
  return (await LOOKUP.cardsOf.rows(db, [residentCode])).map(knownCard);
}

/** Check the record carried by an identity.changed body (a register IdentityRecord). */
export function checkIdentityRecord(body: IdentityChangeBody, field = 'body.record'): IdentityRecord {
  const r = body.record as Record<string, unknown> | null;
  const bad = (what: string) => new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: ${what}`, { field, permanent: true });
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw bad('expected an identity record object');
  if (r.residentCode !== body.residentCode) throw bad(`residentCode ${JSON.stringify(r.residentCode)} is not the message's ${body.residentCode}`);
  if (r.municipality !== body.municipality) throw bad(`municipality ${JSON.stringify(r.municipality)} is not the message's ${body.municipality}`);
  const name = r.name as Record<string, unknown> | undefined;
  if (!name || typeof name.family !== 'string' || typeof name.given !== 'string') throw bad('expected name {family, given}');
  for (const k of ['birthDate', 'sex', 'address', 'status'] as const) if (typeof r[k] !== 'string') throw bad(`expected ${k} as text`);
  return r as unknown as IdentityRecord;
}

/** The key of a name for searching: family and given name joined by one space. */
export function nameKey(name: { readonly family: string; readonly given: string }): string {
  return `${name.family.trim()} ${name.given.trim()}`;
}

/** Record an identity record as its municipality announced it; false if an equal or newer version is held. */
export async function recordIdentity(trx: Trx, body: IdentityChangeBody, at: string): Promise<boolean> {
  const record = checkIdentityRecord(body);
  const row = await trx.selectFrom('net_identity_records').select('version')
    .where('resident_code', '=', body.residentCode).where('municipality', '=', body.municipality).executeTakeFirst();
  if (row && row.version >= body.version) return false;
  const values = {
    version: body.version, status: record.status, name_key: nameKey(record.name), birth_date: record.birthDate, address: record.address,
    record: JSON.stringify(record), updated_at: at,
  };
  if (row) {
    await trx.updateTable('net_identity_records').set(values).where('resident_code', '=', body.residentCode).where('municipality', '=', body.municipality).execute();
  } else {
    await trx.insertInto('net_identity_records').values({ resident_code: body.residentCode, municipality: body.municipality, ...values }).execute();
  }
  return true;
}

/**
 * The current identity record of a resident: the one where they are `registered`; failing
 * that (moved out of every municipality known here, deceased), the most recently changed.
 */
export async function currentIdentity(db: Db, residentCode: string): Promise<IdentityRecord | undefined> {
  return pickCurrent(await LOOKUP.identity.rows(db, [residentCode]));
}

function pickCurrent(rows: readonly IdentityRow[]): IdentityRecord | undefined {
  if (rows.length === 0) return undefined;
  const registered = rows.find((r) => r.status === 'registered');
  const chosen = registered ?? [...rows].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1))[0]!;
  return JSON.parse(chosen.record) as IdentityRecord;
}

/** Identity records by name, birth date and address (exact after trimming); at most `limit` people. */
export async function findIdentities(db: Db, q: { name: { family: string; given: string }; birthDate: string; address: string }, limit = 10): Promise<IdentityRecord[]> {
  const rows = await LOOKUP.byName.rows(db, [nameKey(q.name), q.birthDate, q.address.trim(), limit * 4]);
  const codes = [...new Set(rows.map((r) => r.resident_code))].slice(0, limit);
  const out: IdentityRecord[] = [];
  for (const code of codes) {
    const current = await currentIdentity(db, code);
    if (current) out.push(current);
  }
  return out;
}
