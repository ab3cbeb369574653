/** Calendar dates as the register keeps them: `YYYY-MM-DD` text, checked to be real dates. */
import { JukiError } from '../util/index.ts';

/** A checked calendar date, `YYYY-MM-DD`. Such strings sort in date order. */
export type IsoDate = string & { readonly __isoDate: true };

/** The earliest birth date the register accepts: the first day of Meiji (1868). */
export const EARLIEST_DATE = '1868-01-01' as IsoDate;

export interface DateBounds {
  /** Earliest allowed date, inclusive. */
  readonly min?: string;
  /** Latest allowed date, inclusive. */
  readonly max?: string;
}

/**
 * Parse `YYYY-MM-DD` into an IsoDate, refusing anything else with JUKI_ERR_INVALID_DATE:
 *   parseDate('2023-02-30', 'birth date')  ->  "birth date: 2023-02-30 is not a calendar date"
 */
export function parseDate(text: unknown, field: string, bounds: DateBounds = {}): IsoDate {
  const fail = (what: string): JukiError => new JukiError('JUKI_ERR_INVALID_DATE', `${field}: ${what}`, { field });
  if (typeof text !== 'string') throw fail(`expected a date as YYYY-MM-DD, got ${describe(text)}`);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) throw fail(`expected a date as YYYY-MM-DD, got ${JSON.stringify(text)}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) throw fail(`${text} is not a calendar date`);
  if (bounds.min !== undefined && text < bounds.min) throw fail(`expected ${bounds.min} or later, got ${text}`);
  if (bounds.max !== undefined && text > bounds.max) throw fail(`expected ${bounds.max} or earlier, got ${text}`);
  return text as IsoDate;
}

/** Today's date in Japan (JST, UTC+9), where the register's dates are kept. */
export function todayInJapan(now: Date = new Date()): IsoDate {
  return new Date(now.getTime() + 9 * 3600_000).toISOString().slice(0, 10) as IsoDate;
}

/** The date `days` days after `date` (negative: before). */
export function addDays(date: string, days: number): IsoDate {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86400_000).toISOString().slice(0, 10) as IsoDate;
}

/** A short description of a non-string value for an error message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v}`;
}
