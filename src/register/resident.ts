/** A resident as the register holds them, and the checks every resident passes on the way in. */
import { JukiError } from '../util/index.ts';
import { EARLIEST_DATE, describe, parseDate, type IsoDate } from './dates.ts';
import type { Municipality, MunicipalityCode } from './municipality.ts';
import { parseName, type PersonName } from './names.ts';
import { parseResidentCode, type ResidentCode, type ResidentCodeValidator } from './resident-code.ts';

export type Sex = 'male' | 'female';
export const SEXES: readonly Sex[] = ['male', 'female'];

/** `registered`: lives here now; `moved-out` and `deceased`: kept as a 除票 (removed record). */
export type ResidentStatus = 'registered' | 'moved-out' | 'deceased';

/**
 * Why the record last changed (異動事由):
 *   birth 出生, entry 職権記載 (recorded by the municipality), move-in 転入, move-out 転出,
 *   move-within 転居 (within the municipality), death 死亡.
 */
export type ChangeReason = 'birth' | 'entry' | 'move-in' | 'move-out' | 'move-within' | 'death';
export const CHANGE_REASONS: readonly ChangeReason[] = ['birth', 'entry', 'move-in', 'move-out', 'move-within', 'death'];

/** The Japanese term for each change reason, as printed on a 住民票. */
export const CHANGE_REASON_LABELS: Readonly<Record<ChangeReason, string>> = {
  birth: '出生',
  entry: '職権記載',
  'move-in': '転入',
  'move-out': '転出',
  'move-within': '転居',
  death: '死亡',
};

/** What a caller supplies to put a person on the register. */
export interface ResidentInput {
  readonly residentCode: string;
  /** Written name: kanji (IVS kept), kana or Latin letters. */
  readonly name: PersonName;
  /** Reading in full-width katakana. */
  readonly kana: PersonName;
  readonly birthDate: string;
  readonly sex: Sex;
  /** Full address, beginning with the prefecture and municipality: `東京都千代田区…`. */
  readonly address: string;
}

/** A checked ResidentInput. */
export interface ResidentData extends ResidentInput {
  readonly residentCode: ResidentCode;
  readonly birthDate: IsoDate;
}

/** A row of the register. */
export interface Resident extends ResidentData {
  readonly municipality: MunicipalityCode;
  readonly status: ResidentStatus;
  /** The latest change. */
  readonly change: { readonly reason: ChangeReason; readonly date: IsoDate };
  /** 1 on registration, one more with every change. */
  readonly version: number;
}

/** Longest address, in characters. */
export const MAX_ADDRESS_LENGTH = 200;

/**
 * Check an address: text of at most 200 characters with no control characters, beginning
 * with the municipality's prefecture and name when `within` is given.
 */
export function parseAddress(text: unknown, field: string, within?: Municipality): string {
  const fail = (what: string): JukiError => new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: ${what}`, { field });
  if (typeof text !== 'string') throw fail(`expected an address as text, got ${describe(text)}`);
  if (text.trim() === '') throw fail('expected an address, got an empty string');
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) throw fail('expected an address on one line, got a control character');
  if (/[\uD800-\uDFFF]/u.test(text)) throw fail('contains an unpaired surrogate (not valid Unicode)');
  const length = [...text].length;
  if (length > MAX_ADDRESS_LENGTH) throw fail(`expected at most ${MAX_ADDRESS_LENGTH} characters, got ${length}`);
  if (within && !text.startsWith(within.addressPrefix)) {
    throw fail(`expected an address in ${within.addressPrefix} (${within.code}), got ${JSON.stringify(text)}`);
  }
  return text;
}

/** Check `male` / `female`. */
export function parseSex(value: unknown, field = 'sex'): Sex {
  if (value === 'male' || value === 'female') return value;
  throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected "male" or "female", got ${describe(value)}`, { field });
}

export interface ResidentCheckContext {
  /** The municipality whose register this is: the address must lie in it. */
  readonly municipality: Municipality;
  readonly validator: ResidentCodeValidator;
  /** Latest allowed birth date (today, or the date of the registration). */
  readonly latestBirthDate: string;
  /** Prefix for field names in messages, e.g. `residents[12].`. */
  readonly fieldPrefix?: string;
}

/**
 * Check every field of a resident, refusing the first bad one with a message that names it:
 *   "birth date: 1980-02-30 is not a calendar date"
 */
export function parseResidentInput(input: unknown, ctx: ResidentCheckContext): ResidentData {
  const p = ctx.fieldPrefix ?? '';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${p || 'resident'}: expected a resident record, got ${describe(input)}`, { field: p || 'resident' });
  }
  const v = input as Record<string, unknown>;
  return {
    residentCode: parseResidentCode(v.residentCode, ctx.validator, `${p}resident code`),
    name: parseName(v.name, `${p}name`, 'kanji'),
    kana: parseName(v.kana, `${p}name kana`, 'kana'),
    birthDate: parseDate(v.birthDate, `${p}birth date`, { min: EARLIEST_DATE, max: ctx.latestBirthDate }),
    sex: parseSex(v.sex, `${p}sex`),
    address: parseAddress(v.address, `${p}address`, ctx.municipality),
  };
}
