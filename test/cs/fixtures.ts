/** Shared set-up for the counter tests: a migrated database, a counter with injected card steps, staff, terminals, residents. */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Actor } from '../../src/audit/index.ts';
import type { Database } from '../../src/db/index.ts';
import { openCounter, type CardStep, type Counter, type CounterOptions, type PersonalisationRequest, type RekeyStep } from '../../src/cs/index.ts';
import type { ResidentInput } from '../../src/register/index.ts';
import { JukiError, isJukiError, type ErrorCode } from '../../src/util/index.ts';
import assert from 'node:assert/strict';

export const CHIYODA = '131016';
export const NOW = new Date('2025-06-01T03:00:00Z');

export const CLERK: Actor = { kind: 'staff', id: 'clerk1' };
export const KEEPER: Actor = { kind: 'staff', id: 'keeper1' };
export const SUPERVISOR: Actor = { kind: 'staff', id: 'super1' };
export const ADMIN: Actor = { kind: 'staff', id: 'admin1' };

export function resident(code: string, family = '山田', given = '太郎'): ResidentInput {
  return {
    residentCode: code,
    name: { family, given },
    kana: { family: 'ヤマダ', given: 'タロウ' },
    birthDate: '1980-01-15',
    sex: 'male',
    address: '東京都千代田区千代田一丁目1番1号',
  };
}

/** A re-key step that records the cards it re-keyed and fails for the serials listed. */
export class FakeRekey implements RekeyStep {
  readonly done: string[] = [];
  constructor(readonly failFor: Set<string> = new Set()) {}
  async rekey(card: { serial: string }): Promise<void> {
    if (this.failFor.has(card.serial)) throw new JukiError('JUKI_ERR_SCP_AUTHENTICATION', `card ${card.serial} refused the transport keys`);
    this.done.push(card.serial);
  }
}

/** A card step that records requests; `next` decides the outcome of the next call. */
export class FakeCardStep implements CardStep {
  readonly requests: PersonalisationRequest[] = [];
  next: ((r: PersonalisationRequest) => Promise<void>) | undefined;
  async personalise(r: PersonalisationRequest): Promise<void> {
    this.requests.push(r);
    const n = this.next;
    this.next = undefined;
    if (n) await n(r);
  }
}

export interface World {
  readonly database: Database;
  readonly counter: Counter;
  readonly rekey: FakeRekey;
  readonly cardStep: FakeCardStep;
  readonly keys: Map<string, KeyObject>;
  clock: Date;
}

/** Run `fn` over a fresh counter on `opened` (pass `openTestDb()`: the suite then runs on both dialects in CI). */
export async function withWorld(opened: Promise<Database>, fn: (w: World) => Promise<void>, options: CounterOptions & { failRekey?: string[] } = {}): Promise<void> {
  const database = await opened;
  try {
    const rekey = new FakeRekey(new Set(options.failRekey ?? []));
    const cardStep = new FakeCardStep();
    const w: World = { database, counter: undefined as unknown as Counter, rekey, cardStep, keys: new Map(), clock: NOW };
    let n = 0;
    const counter = openCounter(database, CHIYODA, { rekey, cardStep, now: () => w.clock, newId: () => `id-${++n}`, ...options });
    (w as { counter: Counter }).counter = counter;
    await fn(w);
  } finally {
    await database.close();
  }
}

/** Enrol the four usual staff members, each with their own operator-card key pair. */
export async function enrolStaff(w: World): Promise<void> {
  const staff: [string, string, string][] = [['admin1', 'administrator', 'OPC0001'], ['clerk1', 'clerk', 'OPC0002'], ['keeper1', 'stock-keeper', 'OPC0003'], ['super1', 'supervisor', 'OPC0004'], ['clerk2', 'clerk', 'OPC0005']];
  for (const [id, role, serial] of staff) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    w.keys.set(id, privateKey);
    const input = { staffId: id, name: `staff ${id}`, cardSerial: serial, publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
    if (role === 'administrator') await w.counter.staff.enrollFirstAdministrator(input);
    else await w.counter.staff.enroll(ADMIN, { ...input, role });
  }
}

/** What the operator card does with a challenge: ECDSA P-256 / SHA-256 over its bytes. */
export function operatorSign(w: World, staffId: string, challenge: string, encoding: 'der' | 'ieee-p1363' = 'der'): string {
  return sign('sha256', Buffer.from(challenge, 'base64'), { key: w.keys.get(staffId)!, dsaEncoding: encoding }).toString('base64');
}

export async function setUp(w: World, options: { residents?: string[]; cards?: string[] } = {}): Promise<void> {
  await enrolStaff(w);
  await w.counter.terminals.register(ADMIN, { terminalId: 'T1', name: 'counter 1', reader: 'reader-1', pinPad: 'pad-1' });
  await w.counter.terminals.register(ADMIN, { terminalId: 'T2', name: 'counter 2', reader: 'reader-2', pinPad: 'pad-2' });
  for (const code of options.residents ?? []) await w.counter.ctx.register.register(resident(code), { reason: 'entry', date: '2020-04-01' });
  if (options.cards?.length) await w.counter.stock.receiveLot(KEEPER, { lot: 'LOT1', transportKeyRef: 'maker:transport:LOT1', serials: options.cards });
}

export async function refuses(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<JukiError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    assert.ok(isJukiError(e, code), `expected ${code}, got ${e instanceof JukiError ? `${e.code}: ${e.message}` : String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
  return caught as JukiError;
}

export async function auditTypes(w: World): Promise<{ type: string; outcome: string; reason: string; subject: string; details: Record<string, unknown> }[]> {
  const rows = await w.database.db.selectFrom('audit_entries').selectAll().where('node_id', '=', 'municipality-131016').orderBy('seq').execute();
  return rows.map((r) => ({ type: r.event_type, outcome: r.outcome, reason: r.reason, subject: r.subject, details: JSON.parse(r.details) }));
}

export async function outbox(w: World): Promise<{ type: string; to: string; body: Record<string, unknown> }[]> {
  const rows = await w.database.db.selectFrom('net_outbox').selectAll().orderBy('created_at').orderBy('seq').execute();
  return rows.map((r) => {
    const e = JSON.parse(r.envelope);
    return { type: e.type, to: e.to, body: e.body };
  });
}

/** Issue a new card end to end (take out, apply, issue) and return its number. */
export async function issueNew(w: World, residentCode: string, serial: string, terminalId = 'T1'): Promise<string> {
  await w.counter.stock.takeOut(CLERK, { terminalId, serial });
  const app = await w.counter.applications.apply(CLERK, { kind: 'new', residentCode, terminalId });
  const card = await w.counter.issuance.issue(CLERK, { applicationId: app.applicationId, serial, terminalId });
  return card.cardNumber;
}
