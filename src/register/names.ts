/**
 * Names as the register keeps them: in kanji (the written name, any Unicode the family uses,
 * ideographic variation sequences kept exactly as given) and in kana (katakana reading).
 *
 * Names are never Unicode-normalised on the way in: NFC would fold CJK compatibility
 * ideographs into their unified forms, and a person's 字形 is part of their name.
 *
 * The substitute form (代替文字) is for systems that can show only JIS X 0208 (levels 1 and 2):
 *   1. a variation selector (IVS U+E0100–E01EF, or U+FE00–FE0F) is dropped, keeping its base
 *      character: 葛󠄀 (U+845B U+E0100) -> 葛;
 *   2. a CJK compatibility ideograph whose canonical equivalent is in JIS X 0208 becomes that
 *      equivalent;
 *   3. any other character outside JIS X 0208 becomes 〓 (U+3013 GETA MARK, the customary
 *      substitute in Japanese text systems): 髙 -> 〓, 𠮷 -> 〓;
 *   4. printable ASCII (JIS X 0201 Roman) is kept as it is.
 */
import { JukiError } from '../util/index.ts';
import { describe } from './dates.ts';

/** A person's name in two parts: family name (氏) and given name (名). */
export interface PersonName {
  readonly family: string;
  readonly given: string;
}

/** The substitute character (代替文字) for one that a JIS X 0208 system cannot show. */
export const SUBSTITUTE_CHARACTER = '〓';

/** Longest name part, in characters (variation selectors not counted). */
export const MAX_NAME_LENGTH = 50;

const isVariationSelector = (cp: number): boolean => (cp >= 0xe0100 && cp <= 0xe01ef) || (cp >= 0xfe00 && cp <= 0xfe0f);

function isIdeograph(cp: number): boolean {
  return (
    (cp >= 0x3400 && cp <= 0x4dbf) || // Extension A
    (cp >= 0x4e00 && cp <= 0x9fff) || // Unified Ideographs
    (cp >= 0xf900 && cp <= 0xfaff) || // Compatibility Ideographs
    (cp >= 0x20000 && cp <= 0x323af) || // Extensions B–H and Compatibility Supplement
    cp === 0x3005 || // 々
    cp === 0x3006 || // 〆
    cp === 0x3007 // 〇
  );
}

const isHiragana = (cp: number): boolean => (cp >= 0x3041 && cp <= 0x3096) || cp === 0x309d || cp === 0x309e;
/** Full-width katakana ァ–ヺ, ・, ー, ヽ, ヾ. */
const isKatakana = (cp: number): boolean => (cp >= 0x30a1 && cp <= 0x30fa) || (cp >= 0x30fb && cp <= 0x30fe);
/** Latin letters, for residents whose registered name is in the alphabet (ASCII or full-width). */
const isLatin = (cp: number): boolean =>
  (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || (cp >= 0xff21 && cp <= 0xff3a) || (cp >= 0xff41 && cp <= 0xff5a);

function charLabel(ch: string): string {
  return `${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`;
}

function checkPart(text: unknown, field: string, allowed: (cp: number) => boolean, expected: string): string {
  const fail = (what: string): JukiError => new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: ${what}`, { field });
  if (typeof text !== 'string') throw fail(`expected ${expected}, got ${describe(text)}`);
  if (text === '') throw fail(`expected ${expected}, got an empty string`);
  // With the u flag a paired surrogate is one code point, so only unpaired ones match.
  if (/[\uD800-\uDFFF]/u.test(text)) throw fail('contains an unpaired surrogate (not valid Unicode)');
  const chars = [...text];
  let length = 0;
  for (let i = 0; i < chars.length; i++) {
    const cp = chars[i]!.codePointAt(0)!;
    if (isVariationSelector(cp)) {
      const prev = i > 0 ? chars[i - 1]!.codePointAt(0)! : -1;
      if (!isIdeograph(prev)) throw fail(`variation selector ${charLabel(chars[i]!)} at position ${i + 1} does not follow an ideograph`);
      continue;
    }
    const inner = i > 0 && i < chars.length - 1;
    if (!(allowed(cp) || (inner && (cp === 0x20 || cp === 0x3000) && chars[i - 1] !== ' ' && chars[i - 1] !== '\u3000'))) {
      throw fail(`expected ${expected}, got ${charLabel(chars[i]!)} at position ${i + 1}`);
    }
    length++;
  }
  if (length > MAX_NAME_LENGTH) throw fail(`expected at most ${MAX_NAME_LENGTH} characters, got ${length}`);
  return text;
}

const KANJI_EXPECTED = 'kanji, kana or Latin letters';
const KANA_EXPECTED = 'full-width katakana';

/** Check a written name part (kanji, kana, Latin; IVS kept) and return it unchanged. */
export function parseKanjiNamePart(text: unknown, field: string): string {
  return checkPart(text, field, (cp) => isIdeograph(cp) || isHiragana(cp) || isKatakana(cp) || isLatin(cp), KANJI_EXPECTED);
}

/** Check a reading (フリガナ): full-width katakana only. */
export function parseKanaNamePart(text: unknown, field: string): string {
  return checkPart(text, field, isKatakana, KANA_EXPECTED);
}

/** Check a `{ family, given }` name; `kind` picks the written form or the kana reading. */
export function parseName(value: unknown, field: string, kind: 'kanji' | 'kana'): PersonName {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected { family, given }, got ${describe(value)}`, { field });
  }
  const v = value as Record<string, unknown>;
  const part = kind === 'kanji' ? parseKanjiNamePart : parseKanaNamePart;
  return { family: part(v.family, `${field} (family)`), given: part(v.given, `${field} (given)`) };
}

/** The name as one string, family then given, separated by an ideographic space. */
export function fullName(name: PersonName): string {
  return `${name.family}\u3000${name.given}`;
}

let jisX0208: ReadonlySet<number> | undefined;

/**
 * The 6,879 characters of JIS X 0208 (rows 1–8 non-kanji, rows 16–47 level 1, 48–84 level 2),
 * read from the WHATWG EUC-JP decoder, whose rows 1–84 are JIS X 0208 (row 13, NEC's
 * extension, and rows 85+ are left out), plus the alternative Unicode mappings of eight of them.
 */
function jisX0208Set(): ReadonlySet<number> {
  if (jisX0208) return jisX0208;
  const decoder = new TextDecoder('euc-jp');
  const set = new Set<number>();
  for (let row = 1; row <= 84; row++) {
    if (row >= 9 && row <= 15) continue;
    for (let cell = 1; cell <= 94; cell++) {
      const ch = decoder.decode(Uint8Array.of(0xa0 + row, 0xa0 + cell));
      if (ch !== '\ufffd') set.add(ch.codePointAt(0)!);
    }
  }
  // The decoder follows Windows-31J for a few non-kanji (～ U+FF5E for WAVE DASH, － U+FF0D for
  // MINUS SIGN...). Systems built on the JIS / Unicode-consortium mapping use the other code
  // points for the same JIS X 0208 cells, so both count as showable.
  for (const ch of '\u301C\u2016\u2212\u00A2\u00A3\u00AC\u2014\u2015') set.add(ch.codePointAt(0)!);
  jisX0208 = set;
  return set;
}

/** True when a JIS X 0208 system can show this character as it is. */
export function isJisX0208(ch: string): boolean {
  return jisX0208Set().has(ch.codePointAt(0)!);
}

/** The substitute form (代替文字) of any text: see the rule at the top of this file. */
export function substituteText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (isVariationSelector(cp)) continue;
    if ((cp >= 0x20 && cp <= 0x7e) || isJisX0208(ch)) {
      out += ch;
      continue;
    }
    const canonical = ch.normalize('NFC');
    out += canonical !== ch && [...canonical].length === 1 && isJisX0208(canonical) ? canonical : SUBSTITUTE_CHARACTER;
  }
  return out;
}

/** The substitute form of a name. */
export function substituteName(name: PersonName): PersonName {
  return { family: substituteText(name.family), given: substituteText(name.given) };
}
