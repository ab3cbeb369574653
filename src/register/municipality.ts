/**
 * Municipalities: 6-digit local-government codes (全国地方公共団体コード) and the vendored list
 * in data/municipalities.csv (CC0; see data/README.md).
 *
 * The 6th digit is a check digit over the first five (総務省, 全国地方公共団体コード):
 *   check = (11 − (d1×6 + d2×5 + d3×4 + d4×3 + d5×2) mod 11) mod 10
 * Every code in the vendored list passes it (tested).
 */
import { readFileSync } from 'node:fs';
import { JukiError, dataFile } from '../util/index.ts';
import { describe } from './dates.ts';

/** A 6-digit local-government code with a valid check digit. */
export type MunicipalityCode = string & { readonly __municipalityCode: true };

export interface Municipality {
  readonly code: MunicipalityCode;
  /** Two digits, `01` (北海道) to `47` (沖縄県). */
  readonly prefectureCode: string;
  readonly prefecture: string;
  /** As listed; a ward of a designated city has a space: `札幌市 中央区`. */
  readonly name: string;
  readonly nameKana: string;
  /** How an address here begins: prefecture and name without the space, `北海道札幌市中央区`. */
  readonly addressPrefix: string;
  /** Position in the list (sorted by code), stable for a given list. */
  readonly index: number;
}

/** The check digit for the first five digits of a local-government code. */
export function municipalityCheckDigit(first5: string): number {
  const weights = [6, 5, 4, 3, 2];
  let sum = 0;
  for (let i = 0; i < 5; i++) sum += Number(first5[i]) * weights[i]!;
  return (11 - (sum % 11)) % 10;
}

/**
 * Check the shape and check digit of a municipality code (not whether it is in the list):
 *   parseMunicipalityCode('131017')  ->  "municipality code: check digit of 131017 should be 6, got 7"
 */
export function parseMunicipalityCode(text: unknown, field = 'municipality code'): MunicipalityCode {
  const fail = (what: string): JukiError => new JukiError('JUKI_ERR_INVALID_MUNICIPALITY', `${field}: ${what}`, { field });
  if (typeof text !== 'string') throw fail(`expected 6 digits, got ${describe(text)}`);
  if (!/^[0-9]*$/.test(text)) throw fail(`expected 6 digits, got ${JSON.stringify(text)}`);
  if (text.length !== 6) throw fail(`expected 6 digits, got ${text.length}`);
  const want = municipalityCheckDigit(text);
  if (Number(text[5]) !== want) throw fail(`check digit of ${text} should be ${want}, got ${text[5]}`);
  return text as MunicipalityCode;
}

let cached: ReadonlyMap<string, Municipality> | undefined;

/** Every municipality in data/municipalities.csv, by code (read once). */
export function municipalities(): ReadonlyMap<string, Municipality> {
  cached ??= parseMunicipalityList(readFileSync(dataFile('municipalities.csv'), 'utf8'));
  return cached;
}

/** Parse the CSV of data/municipalities.csv: `lgcode,prefecture_id,prefecture,name,name_kana`. */
export function parseMunicipalityList(csv: string): ReadonlyMap<string, Municipality> {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (header !== 'lgcode,prefecture_id,prefecture,name,name_kana') {
    throw new JukiError('JUKI_ERR_FILE', `municipality list: unexpected header ${JSON.stringify(header)}`);
  }
  const rows = lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== 5) throw new JukiError('JUKI_ERR_FILE', `municipality list: line ${i + 2}: expected 5 fields, got ${cells.length}`);
    const [code, prefId, prefecture, name, nameKana] = cells as [string, string, string, string, string];
    return { code: parseMunicipalityCode(code, `municipality list: line ${i + 2}`), prefectureCode: prefId.padStart(2, '0'), prefecture, name, nameKana };
  });
  rows.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  return new Map(rows.map((r, index) => [r.code, { ...r, addressPrefix: r.prefecture + r.name.replace(/\s+/g, ''), index }]));
}

/**
 * The listed municipality with this code; refuses a malformed code or one not in the list:
 *   municipality('999999')  ->  "municipality code: 999999 is not in the municipality list"
 */
export function municipality(code: unknown, field = 'municipality code'): Municipality {
  const checked = parseMunicipalityCode(code, field);
  const found = municipalities().get(checked);
  if (!found) throw new JukiError('JUKI_ERR_INVALID_MUNICIPALITY', `${field}: ${checked} is not in the municipality list`, { field });
  return found;
}
