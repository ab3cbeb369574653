/**
 * Counter staff: roles and their permissions (deny by default), enrolment with an operator
 * card, and sign-in by operator card.
 *
 * Sign-in (the operator card's PIN never reaches the CS: the holder enters it on the PIN pad
 * and the card checks it before it will sign):
 *
 *   1. challenge(staffId)            -> { challengeId, challenge: 32 random bytes (base64), expiresAt }
 *   2. the terminal has the operator card sign the 32 challenge bytes: ECDSA P-256 with
 *      SHA-256 (FIPS 186-4), signature as IEEE P1363 r||s (64 bytes) or DER, base64
 *   3. login({ challengeId, signature }) -> { token, staffId, role, expiresAt }
 *
 * A challenge is used once, whatever the outcome, and expires after two minutes. The session
 * token is 32 random bytes (base64url); only its SHA-256 is stored.
 */
import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { Actor } from '../audit/index.ts';
import { isUniqueViolation } from '../db/index.ts';
import { JukiError } from '../util/index.ts';
import { parseId, parseSerial, parseText, shown, type CsContext, type Trx } from './context.ts';

export const STAFF_ROLES = ['clerk', 'supervisor', 'stock-keeper', 'administrator'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

/** Every permission a counter operation can need, with its meaning. */
export const PERMISSIONS = {
  'staff.manage': 'Enrol staff and list them.',
  'terminal.manage': 'Register counter terminals.',
  'terminal.read': 'List counter terminals.',
  'stock.receive': 'Receive a blank-card delivery and re-key it into the safe.',
  'stock.take-out': 'Take a blank card out of the safe for a terminal, and return it.',
  'stock.spoil': 'Record a blank card as spoiled.',
  'stock.witness': 'Witness the destruction of a spoiled card (never one\'s own).',
  'stock.reconcile': 'Run the stock reconciliation report.',
  'application.create': 'Take a card application (new issue, reissue, renewal).',
  'issuance.run': 'Personalise a card for an accepted application and report the PIN set.',
  'card.read': 'Read a card\'s status and history.',
  'card.report': 'Record a lost or found report, or a holder\'s suspension request.',
  'card.abolish': 'Abolish a card (death, expiry, move-out, holder\'s request).',
  'card.collect': 'Take in a returned card (including at move-in).',
} as const;
export type Permission = keyof typeof PERMISSIONS;

/** Which role holds which permission. Anything not listed is denied. */
export const ROLE_PERMISSIONS: { readonly [R in StaffRole]: readonly Permission[] } = {
  clerk: ['terminal.read', 'stock.take-out', 'application.create', 'issuance.run', 'card.read', 'card.report', 'card.collect'],
  supervisor: [
    'terminal.read', 'stock.take-out', 'stock.spoil', 'stock.witness', 'stock.reconcile', 'application.create', 'issuance.run',
    'card.read', 'card.report', 'card.abolish', 'card.collect',
  ],
  'stock-keeper': ['terminal.read', 'stock.receive', 'stock.take-out', 'stock.spoil', 'stock.witness', 'stock.reconcile'],
  administrator: ['staff.manage', 'terminal.manage', 'terminal.read', 'stock.witness', 'stock.reconcile'],
};

export function roleAllows(role: string, permission: Permission): boolean {
  return (STAFF_ROLES as readonly string[]).includes(role) && ROLE_PERMISSIONS[role as StaffRole].includes(permission);
}

export function parseRole(value: unknown, field = 'role'): StaffRole {
  if (typeof value !== 'string' || !(STAFF_ROLES as readonly string[]).includes(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected one of ${STAFF_ROLES.join(', ')}, got ${shown(value)}`, { field });
  }
  return value as StaffRole;
}

export interface StaffMember {
  readonly staffId: string;
  readonly name: string;
  readonly role: StaffRole;
  readonly cardSerial: string;
  readonly active: boolean;
  readonly createdAt: string;
}

export interface StaffInput {
  readonly staffId: string;
  readonly name: string;
  readonly role: string;
  /** The operator card's serial. */
  readonly cardSerial: string;
  /** The operator card's public key: SubjectPublicKeyInfo DER as base64, or PEM. ECDSA P-256 only. */
  readonly publicKey: string;
}

/** Who is signed in: what a session resolves to. */
export interface Principal {
  readonly staffId: string;
  readonly role: StaffRole;
  readonly terminalId: string | null;
  readonly expiresAt: string;
}

export interface LoginChallenge {
  readonly challengeId: string;
  readonly challenge: string;
  readonly expiresAt: string;
}

export interface Session extends Principal {
  readonly token: string;
}

export interface StaffOptions {
  /** Session lifetime, ms (default 8 hours: one working day). */
  readonly sessionTtlMs?: number;
  /** Challenge lifetime, ms (default 2 minutes). */
  readonly challengeTtlMs?: number;
}

/** Parse an operator-card public key; refuses anything but an EC P-256 public key. */
export function parseOperatorKey(value: unknown, field = 'publicKey'): KeyObject {
  if (typeof value !== 'string' || value.trim() === '') throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected an EC P-256 public key (SPKI DER base64 or PEM), got ${shown(value)}`, { field });
  let key: KeyObject;
  try {
    key = value.includes('-----BEGIN')
      ? createPublicKey(value)
      : createPublicKey({ key: Buffer.from(value, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected an EC P-256 public key (SPKI DER base64 or PEM), got data that does not parse as one`, { field });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected an EC P-256 public key, got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim(), { field });
  }
  return key;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class StaffService {
  readonly #ctx: CsContext;
  readonly #sessionTtl: number;
  readonly #challengeTtl: number;

  constructor(ctx: CsContext, options: StaffOptions = {}) {
    this.#ctx = ctx;
    this.#sessionTtl = options.sessionTtlMs ?? 8 * 3600_000;
    this.#challengeTtl = options.challengeTtlMs ?? 120_000;
  }

  /** Enrol a staff member with an operator card (issued by the administrator). */
  async enroll(actor: Actor, input: StaffInput): Promise<StaffMember> {
    return this.#ctx.database.transaction((trx) => this.enrollIn(trx, actor, input));
  }

  /** `enroll` inside the caller's transaction (an operator card made at the counter: with its stock movement). */
  async enrollIn(trx: Trx, actor: Actor, input: StaffInput): Promise<StaffMember> {
    const staffId = parseId(input?.staffId, 'staffId');
    const name = parseText(input.name, 'name', 100);
    const role = parseRole(input.role);
    const cardSerial = parseSerial(input.cardSerial, 'cardSerial');
    const key = parseOperatorKey(input.publicKey);
    const der = key.export({ format: 'der', type: 'spki' }).toString('base64');
    const createdAt = this.#ctx.now().toISOString();
    const taken = await trx.selectFrom('cs_staff').select('staff_id').where((eb) => eb.or([eb('staff_id', '=', staffId), eb('card_serial', '=', cardSerial)])).executeTakeFirst();
    if (taken) throw new JukiError('JUKI_ERR_CONFLICT', `staffId: a staff member ${staffId} or an operator card ${cardSerial} is already enrolled`, { field: 'staffId' });
    try {
      await trx.insertInto('cs_staff').values({ staff_id: staffId, name, role, card_serial: cardSerial, public_key: der, active: 1, created_at: createdAt }).execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new JukiError('JUKI_ERR_CONFLICT', `staffId: a staff member ${staffId} or an operator card ${cardSerial} is already enrolled`, { field: 'staffId' });
      throw e;
    }
    await this.#ctx.audit.append(trx, { type: 'cs.staff.enrolled', actor, details: { staff: staffId, role, cardSerial } });
    return { staffId, name, role, cardSerial, active: true, createdAt };
  }

  /**
   * Enrol the first administrator of an empty CS (the command line does this at set-up, as
   * `system`); refused once any staff member exists.
   */
  async enrollFirstAdministrator(input: Omit<StaffInput, 'role'>): Promise<StaffMember> {
    const any = await this.#ctx.database.db.selectFrom('cs_staff').select('staff_id').limit(1).executeTakeFirst();
    if (any) throw new JukiError('JUKI_ERR_CONFLICT', 'staff: the first administrator is already enrolled; enrol others as an administrator', { field: 'staffId' });
    return this.enroll({ kind: 'system' }, { ...input, role: 'administrator' });
  }

  async get(staffId: string): Promise<StaffMember> {
    const row = await this.#ctx.database.db.selectFrom('cs_staff').selectAll().where('staff_id', '=', staffId).executeTakeFirst();
    if (!row) throw new JukiError('JUKI_ERR_NOT_FOUND', `staffId: no staff member ${staffId}`, { field: 'staffId' });
    return toMember(row);
  }

  async list(): Promise<StaffMember[]> {
    const rows = await this.#ctx.database.db.selectFrom('cs_staff').selectAll().orderBy('staff_id').execute();
    return rows.map(toMember);
  }

  /** Step 1 of sign-in: a fresh one-time challenge for the operator card to sign. */
  async challenge(staffIdInput: string): Promise<LoginChallenge> {
    const staffId = parseId(staffIdInput, 'staffId');
    const challengeId = this.#ctx.newId();
    const challenge = randomBytes(32).toString('base64');
    const now = this.#ctx.now();
    const expiresAt = new Date(now.getTime() + this.#challengeTtl).toISOString();
    await this.#ctx.database.transaction(async (trx) => {
      // Expired challenges are swept as new ones are made.
      await trx.deleteFrom('cs_login_challenges').where('expires_at', '<', now.toISOString()).execute();
      await trx.insertInto('cs_login_challenges').values({ challenge_id: challengeId, staff_id: staffId, challenge, expires_at: expiresAt }).execute();
    });
    return { challengeId, challenge, expiresAt };
  }

  /** Step 3 of sign-in: check the operator card's signature over the challenge and open a session. */
  async login(input: { challengeId: string; signature: string; terminalId?: string }): Promise<Session> {
    const challengeId = parseText(input?.challengeId, 'challengeId', 64);
    if (typeof input.signature !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(input.signature)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `signature: expected base64, got ${shown(input.signature)}`, { field: 'signature' });
    }
    const terminalId = input.terminalId === undefined ? null : parseId(input.terminalId, 'terminalId');
    const now = this.#ctx.now();
    const refuse = async (staff: string, why: string): Promise<never> => {
      await this.#ctx.audit.record({
        type: 'cs.staff.login', actor: { kind: 'system' }, outcome: 'refused', reason: 'JUKI_ERR_CS_LOGIN_FAILED',
        details: { staff, ...(terminalId ? { terminal: terminalId } : {}) },
      });
      throw new JukiError('JUKI_ERR_CS_LOGIN_FAILED', `login: ${why}`, { field: 'signature' });
    };
    // Take the challenge out first: used once, whatever follows.
    const row = await this.#ctx.database.transaction(async (trx) => {
      const found = await trx.selectFrom('cs_login_challenges').selectAll().where('challenge_id', '=', challengeId).executeTakeFirst();
      if (found) await trx.deleteFrom('cs_login_challenges').where('challenge_id', '=', challengeId).execute();
      return found;
    });
    if (!row) return refuse('unknown', 'unknown or already used challenge');
    if (row.expires_at < now.toISOString()) return refuse(row.staff_id, `the challenge expired at ${row.expires_at}`);
    const staff = await this.#ctx.database.db.selectFrom('cs_staff').selectAll().where('staff_id', '=', row.staff_id).executeTakeFirst();
    if (!staff || staff.active !== 1) return refuse(row.staff_id, `no active staff member ${row.staff_id}`);
    if (terminalId) {
      const t = await this.#ctx.database.db.selectFrom('cs_terminals').select('active').where('terminal_id', '=', terminalId).executeTakeFirst();
      if (!t || t.active !== 1) return refuse(row.staff_id, `no active terminal ${terminalId}`);
    }
    const signature = Buffer.from(input.signature, 'base64');
    const key = createPublicKey({ key: Buffer.from(staff.public_key, 'base64'), format: 'der', type: 'spki' });
    let ok = false;
    try {
      ok = verify('sha256', Buffer.from(row.challenge, 'base64'), { key, dsaEncoding: signature.length === 64 ? 'ieee-p1363' : 'der' }, signature);
    } catch {
      ok = false;
    }
    if (!ok) return refuse(row.staff_id, 'the signature does not verify with the operator card registered for this staff member');
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.#sessionTtl).toISOString();
    await this.#ctx.database.transaction(async (trx) => {
      await trx.deleteFrom('cs_sessions').where('expires_at', '<', now.toISOString()).execute();
      await trx.insertInto('cs_sessions').values({ token_hash: hashToken(token), staff_id: staff.staff_id, terminal_id: terminalId, created_at: now.toISOString(), expires_at: expiresAt }).execute();
      await this.#ctx.audit.append(trx, {
        type: 'cs.staff.login', actor: { kind: 'staff', id: staff.staff_id },
        details: { staff: staff.staff_id, ...(terminalId ? { terminal: terminalId } : {}) },
      });
    });
    return { token, staffId: staff.staff_id, role: staff.role as StaffRole, terminalId, expiresAt };
  }

  /** The principal of a session token; JUKI_ERR_CS_UNAUTHENTICATED when unknown or expired. */
  async session(token: string | undefined): Promise<Principal> {
    if (!token) throw new JukiError('JUKI_ERR_CS_UNAUTHENTICATED', 'authorization: expected a staff session (Bearer token from the operator-card login), got none', { field: 'authorization' });
    const row = await this.#ctx.database.db
      .selectFrom('cs_sessions')
      .innerJoin('cs_staff', 'cs_staff.staff_id', 'cs_sessions.staff_id')
      .select(['cs_sessions.staff_id', 'cs_staff.role', 'cs_staff.active', 'cs_sessions.terminal_id', 'cs_sessions.expires_at'])
      .where('cs_sessions.token_hash', '=', hashToken(token))
      .executeTakeFirst();
    if (!row || row.active !== 1) throw new JukiError('JUKI_ERR_CS_UNAUTHENTICATED', 'authorization: unknown session; sign in with the operator card', { field: 'authorization' });
    if (row.expires_at < this.#ctx.now().toISOString()) throw new JukiError('JUKI_ERR_CS_UNAUTHENTICATED', `authorization: the session expired at ${row.expires_at}; sign in again`, { field: 'authorization' });
    return { staffId: row.staff_id, role: row.role as StaffRole, terminalId: row.terminal_id, expiresAt: row.expires_at };
  }

  async logout(token: string): Promise<void> {
    await this.#ctx.database.db.deleteFrom('cs_sessions').where('token_hash', '=', hashToken(token)).execute();
  }

  /** Allow or refuse `permission` for `principal`, auditing the decision either way. */
  async authorize(principal: Principal, permission: Permission, operation: string): Promise<void> {
    const allowed = roleAllows(principal.role, permission);
    await this.#ctx.audit.record({
      type: 'cs.access', actor: { kind: 'staff', id: principal.staffId },
      ...(allowed ? {} : { outcome: 'refused' as const, reason: 'JUKI_ERR_CS_FORBIDDEN' }),
      details: { permission, operation },
    });
    if (!allowed) {
      throw new JukiError('JUKI_ERR_CS_FORBIDDEN', `${operation}: the ${principal.role} role does not have the ${permission} permission`, { permission, role: principal.role });
    }
  }

  /** Check that `witness` may witness a destruction done by `actor`; JUKI_ERR_CS_WITNESS otherwise. */
  async checkWitness(actor: Actor, witness: unknown): Promise<string> {
    if (witness === undefined || witness === null || witness === '') throw new JukiError('JUKI_ERR_CS_WITNESS', 'witnessedBy: the destruction of a spoiled card needs a witness', { field: 'witnessedBy' });
    const id = parseId(witness, 'witnessedBy');
    if (actor.id === id) throw new JukiError('JUKI_ERR_CS_WITNESS', `witnessedBy: ${id} cannot witness their own destruction of a card`, { field: 'witnessedBy' });
    const row = await this.#ctx.database.db.selectFrom('cs_staff').select(['role', 'active']).where('staff_id', '=', id).executeTakeFirst();
    if (!row || row.active !== 1) throw new JukiError('JUKI_ERR_CS_WITNESS', `witnessedBy: no active staff member ${id}`, { field: 'witnessedBy' });
    if (!roleAllows(row.role, 'stock.witness')) throw new JukiError('JUKI_ERR_CS_WITNESS', `witnessedBy: the ${row.role} role may not witness a destruction`, { field: 'witnessedBy' });
    return id;
  }
}

function toMember(row: { staff_id: string; name: string; role: string; card_serial: string; active: number; created_at: string }): StaffMember {
  return { staffId: row.staff_id, name: row.name, role: row.role as StaffRole, cardSerial: row.card_serial, active: row.active === 1, createdAt: row.created_at };
}
