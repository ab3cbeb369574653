/**
 * The resident register of one municipality (住民基本台帳), over a node's Database. Every
 * operation that changes a resident runs in one transaction that also writes a history row
 * and calls the optional `onChange` hook, so a change, its history and whatever the hook
 * writes (audit entry, outbox message) commit together or not at all.
 */
import type { Transaction } from 'kysely';
import { isUniqueViolation, type Database, type RegisterResidentsTable, type Schema } from '../db/index.ts';
import { JukiError } from '../util/index.ts';
import { parseDate, todayInJapan, type IsoDate } from './dates.ts';
import { identityRecordOf, type IdentityRecord } from './identity-record.ts';
import { municipality as lookUpMunicipality, type Municipality, type MunicipalityCode } from './municipality.ts';
import { assertMoveFits, statusAfter, type Death, type Move, type MoveIn, type MoveOut, type MoveWithin } from './moves.ts';
import { parseKanaNamePart } from './names.ts';
import { defaultResidentCodeValidator, parseResidentCode, type ResidentCode, type ResidentCodeValidator } from './resident-code.ts';
import {
  CHANGE_REASONS,
  parseAddress,
  parseResidentInput,
  type ChangeReason,
  type Resident,
  type ResidentData,
  type ResidentInput,
  type ResidentStatus,
  type Sex,
} from './resident.ts';

/** One change to the register, as the `onChange` hook sees it. */
export interface RegisterChange {
  readonly reason: ChangeReason;
  readonly municipality: MunicipalityCode;
  readonly residentCode: ResidentCode;
  readonly date: IsoDate;
  /** The history row's number: 1 for the first entry, then one more per change. */
  readonly seq: number;
  /** The identity record after the change. */
  readonly record: IdentityRecord;
  /** The identity record before the change (absent for a first entry). */
  readonly previous?: IdentityRecord;
  /** Where a move-in came from or a move-out goes. */
  readonly otherMunicipality?: string;
  /** The previous address (move-in, move-within) or the destination (move-out). */
  readonly otherAddress?: string;
}

/**
 * Called inside the transaction of every change, with that transaction: whatever it writes
 * commits with the change, and if it throws the change is undone. This is where the integrator
 * wires the audit log and the Juki-net outbox; the register itself depends on neither.
 */
export type RegisterChangeHook = (change: RegisterChange, trx: Transaction<Schema>) => Promise<void> | void;

export interface RegisterOptions {
  /** The resident-code check-digit rule (default: digits only; see resident-code.ts). */
  readonly validator?: ResidentCodeValidator;
  readonly onChange?: RegisterChangeHook;
  /** The clock for timestamps and for "no birth date in the future" (default: the system clock). */
  readonly now?: () => Date;
}

/** A first entry on the register: a birth here, a move-in with nothing known of before, or an entry by the municipality's own authority. */
export interface RegisterEntry {
  readonly resident: ResidentInput;
  readonly reason: 'birth' | 'entry' | 'move-in';
  /** The day of the change; for a birth, the birth date (and may be left out). */
  readonly date?: string;
}

export interface HistoryEntry {
  readonly seq: number;
  readonly reason: ChangeReason;
  readonly date: IsoDate;
  readonly otherMunicipality?: string;
  readonly otherAddress?: string;
  /** The identity record right after this change. */
  readonly record: IdentityRecord;
  readonly recordedAt: string;
}

export interface SearchQuery {
  /** Family-name reading starts with this (katakana). */
  readonly kanaPrefix?: string;
  readonly status?: ResidentStatus;
  /** Default 100, at most 1000. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface RegisterManyOptions {
  /** Rows per INSERT statement (default 500: well inside both dialects' parameter limits). */
  readonly batchSize?: number;
  /** Called after each batch with the number of residents written so far (not yet committed). */
  readonly onProgress?: (done: number) => void;
}

type Trx = Transaction<Schema>;
type Row = RegisterResidentsTable;

/** The register of one municipality. */
export class ResidentRegister {
  readonly municipality: Municipality;
  readonly validator: ResidentCodeValidator;
  readonly #database: Database;
  readonly #onChange: RegisterChangeHook | undefined;
  readonly #now: () => Date;

  constructor(database: Database, municipalityCode: string, options: RegisterOptions = {}) {
    this.#database = database;
    this.municipality = lookUpMunicipality(municipalityCode);
    this.validator = options.validator ?? defaultResidentCodeValidator;
    this.#onChange = options.onChange;
    this.#now = options.now ?? (() => new Date());
  }

  /** Put one new person on the register (birth or entry). */
  async register(resident: ResidentInput, how: { reason: 'birth' | 'entry'; date?: string }): Promise<Resident> {
    await this.registerMany([{ resident, ...how }]);
    return this.get(resident.residentCode);
  }

  /**
   * Put many new people on the register in one transaction, in batches: all of them or, if any
   * is malformed or already registered, none. The error names the first bad item
   * (`residents[12].birth date: ...`). Returns how many were registered.
   */
  async registerMany(entries: Iterable<RegisterEntry>, options: RegisterManyOptions = {}): Promise<number> {
    const batchSize = options.batchSize ?? 500;
    const today = todayInJapan(this.#now());
    const now = this.#now().toISOString();
    return this.#database.transaction(async (trx) => {
      let done = 0;
      let batch: { row: Row; resident: Resident; index: number }[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        refuseRepeats(batch);
        // ON CONFLICT DO NOTHING + RETURNING finds residents already registered in the same
        // statement that inserts the rest (a separate `IN (...)` probe went quadratic on
        // PostgreSQL before the new rows had statistics); any missing row fails the whole batch.
        const inserted = await trx
          .insertInto('register_residents')
          .values(batch.map((b) => b.row))
          .onConflict((oc) => oc.columns(['municipality_code', 'resident_code']).doNothing())
          .returning('resident_code')
          .execute();
        if (inserted.length !== batch.length) this.#refuseExisting(batch, new Set(inserted.map((r) => r.resident_code)));
        await trx
          .insertInto('register_history')
          .values(batch.map((b) => historyRow(b.resident, null, null, now)))
          .execute();
        if (this.#onChange) {
          for (const { resident } of batch) {
            await this.#onChange({ ...changeOf(resident), record: identityRecordOf(resident) }, trx);
          }
        }
        done += batch.length;
        batch = [];
        options.onProgress?.(done);
      };
      let index = 0;
      for (const entry of entries) {
        const resident = this.#checkEntry(entry, index, today);
        batch.push({ row: toRow(resident, now), resident, index });
        index++;
        if (batch.length >= batchSize) await flush();
      }
      await flush();
      return done;
    });
  }

  /** A person moves in (転入): a new resident, or a former one returning. */
  moveIn(move: Omit<MoveIn, 'kind'>): Promise<Resident> {
    return this.apply({ kind: 'move-in', ...move });
  }

  /** A resident moves out to another municipality (転出); the record stays as moved-out. */
  moveOut(move: Omit<MoveOut, 'kind'>): Promise<Resident> {
    return this.apply({ kind: 'move-out', ...move });
  }

  /** A resident moves to another address here (転居). */
  moveWithin(move: Omit<MoveWithin, 'kind'>): Promise<Resident> {
    return this.apply({ kind: 'move-within', ...move });
  }

  /** A resident's death (死亡); the record stays as deceased. */
  recordDeath(move: Omit<Death, 'kind'>): Promise<Resident> {
    return this.apply({ kind: 'death', ...move });
  }

  /** Apply one move in a transaction, with its history row and the onChange hook. */
  async apply(move: Move): Promise<Resident> {
    const date = parseDate(move.date, `${move.kind} date`);
    const today = todayInJapan(this.#now());
    if (move.kind === 'death' && date > today) {
      throw new JukiError('JUKI_ERR_INVALID_DATE', `death date: expected ${today} or earlier, got ${date}`, { field: 'death date' });
    }
    // Check everything that needs no database first.
    let incoming: ResidentData | undefined;
    let other: { municipality: string | null; address: string | null } = { municipality: null, address: null };
    let newAddress: string | undefined;
    if (move.kind === 'move-in') {
      incoming = parseResidentInput(move.resident, { municipality: this.municipality, validator: this.validator, latestBirthDate: today });
      const fromCode = move.from?.municipality;
      const from = fromCode === undefined ? undefined : lookUpMunicipality(fromCode, 'move-in from municipality');
      if (from?.code === this.municipality.code) {
        throw new JukiError('JUKI_ERR_INVALID_MOVE', `move-in from municipality: ${from.code} is this municipality; a move within it is a move-within`, {
          field: 'move-in from municipality',
        });
      }
      const fromAddress = move.from?.address === undefined ? undefined : parseAddress(move.from.address, 'move-in from address', from);
      other = { municipality: from?.code ?? null, address: fromAddress ?? null };
    } else if (move.kind === 'move-out') {
      const to = lookUpMunicipality(move.to?.municipality, 'move-out to municipality');
      if (to.code === this.municipality.code) {
        throw new JukiError('JUKI_ERR_INVALID_MOVE', `move-out to municipality: ${to.code} is this municipality; a move within it is a move-within`, {
          field: 'move-out to municipality',
        });
      }
      other = { municipality: to.code, address: parseAddress(move.to.address, 'move-out to address', to) };
    } else if (move.kind === 'move-within') {
      newAddress = parseAddress(move.address, 'move-within address', this.municipality);
    }
    const code = incoming?.residentCode ?? parseResidentCode((move as { residentCode?: unknown }).residentCode, this.validator);
    const now = this.#now().toISOString();

    return this.#database.transaction(async (trx) => {
      const current = await this.#find(trx, code);
      if (!current && move.kind !== 'move-in') {
        throw new JukiError('JUKI_ERR_RESIDENT_NOT_FOUND', `resident code: no resident ${code} in the register of ${this.municipality.code}`, {
          field: 'resident code',
        });
      }
      assertMoveFits(move.kind, current, date, (incoming ?? current!).birthDate);
      if (move.kind === 'move-within' && newAddress === current!.address) {
        throw new JukiError('JUKI_ERR_INVALID_MOVE', 'move-within address: the new address is the current one', { field: 'move-within address' });
      }
      if (move.kind === 'move-within') other = { municipality: null, address: current!.address };

      const next: Resident = {
        ...(current ?? { version: 0 }),
        ...(incoming ?? {}),
        ...(newAddress !== undefined ? { address: newAddress } : {}),
        residentCode: code,
        municipality: this.municipality.code,
        status: statusAfter(move.kind),
        change: { reason: move.kind, date },
        version: (current?.version ?? 0) + 1,
      } as Resident;

      if (!current) {
        await trx.insertInto('register_residents').values(toRow(next, now)).execute().catch(translateUnique(code));
      } else {
        const { municipality_code: _m, resident_code: _r, ...changes } = toRow(next, now);
        const updated = await trx
          .updateTable('register_residents')
          .set(changes)
          .where('municipality_code', '=', this.municipality.code)
          .where('resident_code', '=', code)
          .where('version', '=', current.version)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) {
          throw new JukiError('JUKI_ERR_CONFLICT', `resident ${code} was changed by someone else meanwhile; try again`, { field: 'resident code' });
        }
      }
      await trx.insertInto('register_history').values(historyRow(next, other.municipality, other.address, now)).execute().catch(translateUnique(code));
      await this.#onChange?.(
        {
          ...changeOf(next),
          record: identityRecordOf(next),
          ...(current ? { previous: identityRecordOf(current) } : {}),
          ...(other.municipality !== null ? { otherMunicipality: other.municipality } : {}),
          ...(other.address !== null ? { otherAddress: other.address } : {}),
        },
        trx,
      );
      return next;
    });
  }

  /** The resident with this code, current or former, or undefined. */
  async find(residentCode: string): Promise<Resident | undefined> {
    const code = parseResidentCode(residentCode, this.validator);
    return this.#find(this.#database.db, code);
  }

  /** The resident with this code, current or former; JUKI_ERR_RESIDENT_NOT_FOUND when none. */
  async get(residentCode: string): Promise<Resident> {
    const found = await this.find(residentCode);
    if (!found) {
      throw new JukiError('JUKI_ERR_RESIDENT_NOT_FOUND', `resident code: no resident ${residentCode} in the register of ${this.municipality.code}`, {
        field: 'resident code',
      });
    }
    return found;
  }

  /** The identity record (本人確認情報) of a resident. */
  async identityRecord(residentCode: string): Promise<IdentityRecord> {
    return identityRecordOf(await this.get(residentCode));
  }

  /** Every change to a resident, oldest first. */
  async history(residentCode: string): Promise<HistoryEntry[]> {
    const code = (await this.get(residentCode)).residentCode;
    const rows = await this.#database.db
      .selectFrom('register_history')
      .selectAll()
      .where('municipality_code', '=', this.municipality.code)
      .where('resident_code', '=', code)
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({
      seq: Number(r.seq),
      reason: r.reason as ChangeReason,
      date: r.change_date as IsoDate,
      ...(r.other_municipality !== null ? { otherMunicipality: r.other_municipality } : {}),
      ...(r.other_address !== null ? { otherAddress: r.other_address } : {}),
      record: JSON.parse(r.record) as IdentityRecord,
      recordedAt: r.recorded_at,
    }));
  }

  /** Residents by family-name reading and status, ordered by reading then code. */
  async search(query: SearchQuery = {}): Promise<Resident[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `limit: expected a whole number from 1 to 1000, got ${limit}`, { field: 'limit' });
    }
    const offset = query.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `offset: expected a whole number 0 or more, got ${offset}`, { field: 'offset' });
    }
    let q = this.#database.db.selectFrom('register_residents').selectAll().where('municipality_code', '=', this.municipality.code);
    // Katakana only, so the prefix holds no LIKE wildcard.
    if (query.kanaPrefix !== undefined) q = q.where('family_kana', 'like', `${parseKanaNamePart(query.kanaPrefix, 'kana prefix')}%`);
    if (query.status !== undefined) q = q.where('status', '=', query.status);
    const rows = await q.orderBy('family_kana').orderBy('given_kana').orderBy('resident_code').limit(limit).offset(offset).execute();
    return rows.map(fromRow);
  }

  /** How many residents this register holds (optionally only those in one status). */
  async count(status?: ResidentStatus): Promise<number> {
    let q = this.#database.db
      .selectFrom('register_residents')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('municipality_code', '=', this.municipality.code);
    if (status !== undefined) q = q.where('status', '=', status);
    const { n } = await q.executeTakeFirstOrThrow();
    return Number(n); // PostgreSQL's count is a bigint, which pg returns as text
  }

  #checkEntry(entry: RegisterEntry, index: number, today: IsoDate): Resident {
    const p = `residents[${index}].`;
    if (typeof entry !== 'object' || entry === null) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `residents[${index}]: expected { resident, reason, date }`, { field: `residents[${index}]` });
    }
    const data = parseResidentInput(entry.resident, {
      municipality: this.municipality,
      validator: this.validator,
      latestBirthDate: today,
      fieldPrefix: p,
    });
    if (!['birth', 'entry', 'move-in'].includes(entry.reason)) {
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `${p}reason: expected "birth", "entry" or "move-in", got ${JSON.stringify(entry.reason)}`, {
        field: `${p}reason`,
      });
    }
    const date =
      entry.reason === 'birth' && entry.date === undefined
        ? data.birthDate
        : parseDate(entry.date, `${p}${entry.reason} date`, { min: data.birthDate, max: today });
    if (entry.reason === 'birth' && date !== data.birthDate) {
      throw new JukiError('JUKI_ERR_INVALID_DATE', `${p}birth date: the entry of a birth is dated the birth date ${data.birthDate}, got ${date}`, {
        field: `${p}birth date`,
      });
    }
    return { ...data, municipality: this.municipality.code, status: 'registered', change: { reason: entry.reason, date }, version: 1 };
  }

  #refuseExisting(batch: readonly { resident: Resident; index: number }[], inserted: ReadonlySet<string>): never {
    const { resident, index } = batch.find((b) => !inserted.has(b.resident.residentCode))!;
    throw new JukiError(
      'JUKI_ERR_RESIDENT_EXISTS',
      `residents[${index}].resident code: ${resident.residentCode} is already in the register of ${this.municipality.code}`,
      { field: `residents[${index}].resident code` },
    );
  }

  async #find(db: Database['db'] | Trx, code: ResidentCode): Promise<Resident | undefined> {
    const row = await db
      .selectFrom('register_residents')
      .selectAll()
      .where('municipality_code', '=', this.municipality.code)
      .where('resident_code', '=', code)
      .executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }
}

/** Refuse a batch in which one resident code appears twice, naming both positions. */
function refuseRepeats(batch: readonly { resident: Resident; index: number }[]): void {
  const seen = new Map<string, number>();
  for (const { resident, index } of batch) {
    const earlier = seen.get(resident.residentCode);
    if (earlier !== undefined) {
      throw new JukiError('JUKI_ERR_RESIDENT_EXISTS', `residents[${index}].resident code: ${resident.residentCode} repeats residents[${earlier}]`, {
        field: `residents[${index}].resident code`,
      });
    }
    seen.set(resident.residentCode, index);
  }
}

function changeOf(r: Resident): Omit<RegisterChange, 'record'> {
  return { reason: r.change.reason, municipality: r.municipality, residentCode: r.residentCode, date: r.change.date, seq: r.version };
}

function toRow(r: Resident, now: string): Row {
  return {
    municipality_code: r.municipality,
    resident_code: r.residentCode,
    family_name: r.name.family,
    given_name: r.name.given,
    family_kana: r.kana.family,
    given_kana: r.kana.given,
    birth_date: r.birthDate,
    sex: r.sex,
    address: r.address,
    status: r.status,
    change_reason: r.change.reason,
    change_date: r.change.date,
    version: r.version,
    updated_at: now,
  };
}

function fromRow(row: Row): Resident {
  if (!CHANGE_REASONS.includes(row.change_reason as ChangeReason)) {
    throw new JukiError('JUKI_ERR_CONFLICT', `register: resident ${row.resident_code} has an unknown change reason ${JSON.stringify(row.change_reason)}`);
  }
  return {
    municipality: row.municipality_code as MunicipalityCode,
    residentCode: row.resident_code as ResidentCode,
    name: { family: row.family_name, given: row.given_name },
    kana: { family: row.family_kana, given: row.given_kana },
    birthDate: row.birth_date as IsoDate,
    sex: row.sex as Sex,
    address: row.address,
    status: row.status as ResidentStatus,
    change: { reason: row.change_reason as ChangeReason, date: row.change_date as IsoDate },
    version: Number(row.version),
  };
}

function historyRow(r: Resident, otherMunicipality: string | null, otherAddress: string | null, now: string): Schema['register_history'] {
  return {
    municipality_code: r.municipality,
    resident_code: r.residentCode,
    seq: r.version,
    reason: r.change.reason,
    change_date: r.change.date,
    other_municipality: otherMunicipality,
    other_address: otherAddress,
    record: JSON.stringify(identityRecordOf(r)),
    recorded_at: now,
  };
}

/** A duplicate key here means a concurrent change to the same resident won the race. */
function translateUnique(code: string): (e: unknown) => never {
  return (e) => {
    if (isUniqueViolation(e)) {
      throw new JukiError('JUKI_ERR_CONFLICT', `resident ${code} was changed by someone else meanwhile; try again`, { field: 'resident code' });
    }
    throw e;
  };
}
