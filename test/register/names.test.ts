/** Names: validation, ideographic variation sequences kept, and the substitute form (代替文字). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isJisX0208,
  parseKanaNamePart,
  parseKanjiNamePart,
  parseName,
  parseDate,
  substituteName,
  substituteText,
  SUBSTITUTE_CHARACTER,
} from '../../src/register/index.ts';
import { isJukiError, type ErrorCode } from '../../src/util/index.ts';

function refuses(fn: () => unknown, message: string | RegExp, code: ErrorCode = 'JUKI_ERR_INVALID_INPUT'): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isJukiError(e, code), `expected ${code}, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

const KUZU_IVS = '葛\u{E0100}'; // 葛 with an Adobe-Japan1 variation selector

test('a written name keeps its ideographic variation sequence and is never normalised', () => {
  assert.equal(parseKanjiNamePart(`${KUZU_IVS}西`, 'name (family)'), `${KUZU_IVS}西`);
  // U+FA11 﨑 is a compatibility ideograph; NFC would not change it, but U+F91D 欄 would become U+6B04.
  assert.equal(parseKanjiNamePart('\uF91D', 'name (given)'), '\uF91D');
  assert.equal(parseKanjiNamePart('山\uFA11', 'name (family)'), '山\uFA11');
  assert.equal(parseKanjiNamePart('𠮷田', 'name (family)'), '𠮷田');
  assert.equal(parseKanjiNamePart('さくら', 'name (given)'), 'さくら');
  assert.equal(parseKanjiNamePart('Smith', 'name (family)'), 'Smith');
  assert.equal(parseKanjiNamePart('Mary Ann', 'name (given)'), 'Mary Ann');
});

test('a written name is refused for stray characters, naming the field, the character and its position', () => {
  refuses(() => parseKanjiNamePart('山田1', 'name (family)'), 'name (family): expected kanji, kana or Latin letters, got "1" (U+0031) at position 3');
  refuses(() => parseKanjiNamePart('', 'name (given)'), 'name (given): expected kanji, kana or Latin letters, got an empty string');
  refuses(() => parseKanjiNamePart(' 山田', 'name (family)'), /got " " \(U\+0020\) at position 1/);
  refuses(() => parseKanjiNamePart('山田\n', 'name (family)'), /U\+000A/);
  refuses(() => parseKanjiNamePart('\u{E0100}山', 'name (family)'), /variation selector .* at position 1 does not follow an ideograph/);
  refuses(() => parseKanjiNamePart('a\uD800', 'name (family)'), 'name (family): contains an unpaired surrogate (not valid Unicode)');
  refuses(() => parseKanjiNamePart('山'.repeat(51), 'name (family)'), 'name (family): expected at most 50 characters, got 51');
  refuses(() => parseKanjiNamePart(42, 'name (family)'), 'name (family): expected kanji, kana or Latin letters, got a number');
});

test('a reading must be full-width katakana', () => {
  assert.equal(parseKanaNamePart('ヤマダ', 'name kana (family)'), 'ヤマダ');
  assert.equal(parseKanaNamePart('ヴィクトリア・ルー', 'name kana (given)'), 'ヴィクトリア・ルー');
  refuses(() => parseKanaNamePart('やまだ', 'name kana (family)'), 'name kana (family): expected full-width katakana, got "や" (U+3084) at position 1');
  refuses(() => parseKanaNamePart('ﾔﾏﾀﾞ', 'name kana (family)'), /U\+FF94/);
  refuses(() => parseKanaNamePart('山田', 'name kana (family)'), /U\+5C71/);
});

test('a name is a { family, given } record', () => {
  assert.deepEqual(parseName({ family: '山田', given: '太郎' }, 'name', 'kanji'), { family: '山田', given: '太郎' });
  refuses(() => parseName('山田太郎', 'name', 'kanji'), 'name: expected { family, given }, got "山田太郎"');
  refuses(() => parseName({ family: '山田' }, 'name', 'kanji'), 'name (given): expected kanji, kana or Latin letters, got nothing');
});

test('JIS X 0208 holds the 6,879 characters of levels 1 and 2 and their non-kanji rows', () => {
  for (const ch of ['亜', '腕', '弌', '熙', 'あ', 'ヴ', '〓', '々', '〜', '−']) assert.ok(isJisX0208(ch), ch);
  for (const ch of ['髙', '﨑', '𠮷', '①', 'ｱ', '㈱']) assert.ok(!isJisX0208(ch), ch);
});

test('the substitute form: variation selectors dropped, compatibility ideographs mapped, the rest outside JIS X 0208 become 〓', () => {
  assert.equal(SUBSTITUTE_CHARACTER, '〓');
  assert.equal(substituteText(`${KUZU_IVS}西`), '葛西');
  assert.equal(substituteText('髙橋'), '〓橋');
  assert.equal(substituteText('𠮷田'), '〓田');
  assert.equal(substituteText('山\uFA11'), '山〓'); // 﨑 has no canonical equivalent
  assert.equal(substituteText('\uFA10'), '塚'); // compatibility 塚 is canonically 塚 (U+585A)
  assert.equal(substituteText('東京都千代田区一丁目1-2 ABC'), '東京都千代田区一丁目1-2 ABC');
  assert.deepEqual(substituteName({ family: '髙橋', given: `${KUZU_IVS}子` }), { family: '〓橋', given: '葛子' });
});

test('dates are real calendar dates in YYYY-MM-DD form, within bounds', () => {
  assert.equal(parseDate('2024-02-29', 'birth date'), '2024-02-29');
  refuses(() => parseDate('2023-02-29', 'birth date'), 'birth date: 2023-02-29 is not a calendar date', 'JUKI_ERR_INVALID_DATE');
  refuses(() => parseDate('1980/01/02', 'birth date'), 'birth date: expected a date as YYYY-MM-DD, got "1980/01/02"', 'JUKI_ERR_INVALID_DATE');
  refuses(() => parseDate('2024-1-2', 'birth date'), /expected a date as YYYY-MM-DD/, 'JUKI_ERR_INVALID_DATE');
  refuses(() => parseDate(undefined, 'birth date'), 'birth date: expected a date as YYYY-MM-DD, got nothing', 'JUKI_ERR_INVALID_DATE');
  refuses(() => parseDate('1850-01-01', 'birth date', { min: '1868-01-01' }), 'birth date: expected 1868-01-01 or later, got 1850-01-01', 'JUKI_ERR_INVALID_DATE');
  refuses(() => parseDate('2030-01-01', 'birth date', { max: '2025-04-01' }), 'birth date: expected 2025-04-01 or earlier, got 2030-01-01', 'JUKI_ERR_INVALID_DATE');
});
