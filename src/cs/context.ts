/**
 * What every counter service shares: the node's database, this municipality's code and node
 * id, its audit log, its Juki-net outbox, its register, a clock and an id source. Built once
 * per node (`csContext`) and handed to each service.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { AuditLog, type Actor } from '../audit/index.ts';
import type { Database, Schema } from '../db/index.ts';
import { Outbox, SqlNetStore } from '../net/index.ts';
import { ResidentRegister, auditRegisterChanges, parseMunicipalityCode } from '../register/index.ts';
import { JukiError } from '../util/index.ts';

export type Trx = Transaction<Schema>;

export interface CsContext {
  readonly database: Database;
  /** This municipality's 6-digit code. */
  readonly municipality: string;
  /** This node's id, `municipality-<code>`. */
  readonly node: string;
  /** Where card status messages go: this municipality's prefecture server. */
  readonly prefectureNode: string;
  readonly audit: AuditLog;
  readonly outbox: Outbox<Trx>;
  readonly register: ResidentRegister;
  readonly now: () => Date;
  readonly newId: () => string;
}

export interface CsContextOptions {
  readonly now?: () => Date;
  readonly newId?: () => string;
  readonly audit?: AuditLog;
  readonly outbox?: Outbox<Trx>;
  readonly register?: ResidentRegister;
}

export function csContext(database: Database, municipalityCode: string, options: CsContextOptions = {}): CsContext {
  const municipality = parseMunicipalityCode(municipalityCode);
  const node = `municipality-${municipality}`;
  const now = options.now ?? (() => new Date());
  const audit = options.audit ?? new AuditLog(database, node, { now });
  return {
    database,
    municipality,
    node,
    prefectureNode: `prefecture-${municipality.slice(0, 2)}`,
    audit,
    outbox: options.outbox ?? new Outbox(new SqlNetStore(database), node, { now: () => now().getTime() }),
    register: options.register ?? new ResidentRegister(database, municipality, { now, onChange: auditRegisterChanges(audit, () => ({ kind: 'system' })) }),
    now,
    newId: options.newId ?? randomUUID,
  };
}

/** The actor's id for ledger columns: the staff id, node id or `system`. */
export function actorId(actor: Actor): string {
  return actor.id ?? actor.kind;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Check an identifier (staff, terminal, lot): 1-64 letters, digits, `.`, `_`, `-`, not starting with a symbol. */
export function parseId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID.test(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${shown(value)}`, { field });
  }
  return value;
}

const SERIAL = /^[A-Z0-9]{4,24}$/;

/** Check a blank card's serial: 4-24 upper-case letters or digits, as printed by the maker. */
export function parseSerial(value: unknown, field = 'serial'): string {
  if (typeof value !== 'string' || !SERIAL.test(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected a card serial of 4-24 upper-case letters or digits, got ${shown(value)}`, { field });
  }
  return value;
}

const CARD_NUMBER = /^[A-Za-z0-9-]{1,32}$/;

export function parseCardNumber(value: unknown, field = 'cardNumber'): string {
  if (typeof value !== 'string' || !CARD_NUMBER.test(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected a card number of 1-32 letters, digits or '-', got ${shown(value)}`, { field });
  }
  return value;
}

/** Free text on one line (names, reasons), 1..max characters. */
export function parseText(value: unknown, field: string, max = 200): string {
  if (typeof value !== 'string' || value.trim() === '') throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected text, got ${shown(value)}`, { field });
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected one line of text, got a control character`, { field });
  if ([...value].length > max) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected at most ${max} characters, got ${[...value].length}`, { field });
  return value;
}

export function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** The date `years` years after an ISO date, the day before (validity ends the day before the anniversary). */
export function validUntil(issuedOn: string, years: number): string {
  const [y, m, d] = issuedOn.split('-').map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y + years, m - 1, d) - 86400_000);
  return t.toISOString().slice(0, 10);
}
