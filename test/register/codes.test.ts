/** Resident codes (pluggable check digit) and municipality codes (check digit, vendored list). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  municipality,
  municipalities,
  municipalityCheckDigit,
  modulus11HypothesisValidator,
  parseMunicipalityCode,
  parseMunicipalityList,
  parseResidentCode,
  type ResidentCodeValidator,
} from '../../src/register/index.ts';
import { isJukiError, type ErrorCode } from '../../src/util/index.ts';

function refuses(fn: () => unknown, code: ErrorCode, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isJukiError(e, code), `expected ${code}, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

test('resident code: the shape is 11 ASCII digits, and the message says what came', () => {
  assert.equal(parseResidentCode('12345678901'), '12345678901');
  refuses(() => parseResidentCode('1234567890'), 'JUKI_ERR_INVALID_RESIDENT_CODE', 'resident code: expected 11 digits, got 10');
  refuses(() => parseResidentCode('123456789012'), 'JUKI_ERR_INVALID_RESIDENT_CODE', 'resident code: expected 11 digits, got 12');
  refuses(() => parseResidentCode(''), 'JUKI_ERR_INVALID_RESIDENT_CODE', 'resident code: expected 11 digits, got 0');
  refuses(
    () => parseResidentCode('1234567890A'),
    'JUKI_ERR_INVALID_RESIDENT_CODE',
    'resident code: expected 11 digits, got "1234567890A" ("A" at position 11 is not a digit 0-9)',
  );
  refuses(() => parseResidentCode('１２３４５６７８９０１'), 'JUKI_ERR_INVALID_RESIDENT_CODE', /"１" at position 1 is not a digit 0-9/);
  refuses(() => parseResidentCode(12345678901), 'JUKI_ERR_INVALID_RESIDENT_CODE', 'resident code: expected 11 digits, got a number');
});

test('resident code: the default validator checks only the shape, since the check-digit rule is not public', () => {
  for (const code of ['00000000000', '99999999999', '12345678901', '12345678902']) assert.equal(parseResidentCode(code), code);
});

test('resident code: a plugged-in validator decides the check digit', () => {
  const lastIsSeven: ResidentCodeValidator = {
    name: 'test rule',
    problem: (code) => (code.endsWith('7') ? undefined : `check digit should be 7 under the test rule, got ${code[10]}`),
  };
  assert.equal(parseResidentCode('12345678907', lastIsSeven), '12345678907');
  refuses(() => parseResidentCode('12345678901', lastIsSeven), 'JUKI_ERR_INVALID_RESIDENT_CODE', 'resident code: check digit should be 7 under the test rule, got 1');
});

test('resident code: the modulus-11 hypothesis plug-in computes and checks its digit', () => {
  // weights 5 4 3 2 7 6 5 4 3 2 over 1234567890: 5+8+9+8+35+36+35+32+27+0 = 195; 195 mod 11 = 8; 11-8 = 3
  assert.equal(modulus11HypothesisValidator.checkDigit!('1234567890'), '3');
  assert.equal(parseResidentCode('12345678903', modulus11HypothesisValidator), '12345678903');
  refuses(() => parseResidentCode('12345678904', modulus11HypothesisValidator), 'JUKI_ERR_INVALID_RESIDENT_CODE', /check digit should be 3/);
  // remainder 0 or 1 gives 0
  assert.equal(modulus11HypothesisValidator.checkDigit!('0000000000'), '0');
});

test('municipality code: every code in data/municipalities.csv passes the check digit', () => {
  const csv = readFileSync(new URL('../../data/municipalities.csv', import.meta.url), 'utf8');
  const codes = csv.trim().split('\n').slice(1).map((l) => l.split(',')[0]!);
  assert.equal(codes.length, 1916);
  const failing = codes.filter((c) => municipalityCheckDigit(c) !== Number(c[5]));
  assert.deepEqual(failing, []);
  assert.equal(municipalities().size, 1916);
});

test('municipality code: check digit = (11 - (weighted sum of digits 1..5 with 6,5,4,3,2) mod 11) mod 10', () => {
  // 13101: 6+15+4+0+2 = 27; 27 mod 11 = 5; (11-5) mod 10 = 6
  assert.equal(municipalityCheckDigit('13101'), 6);
  // 01100: 0+5+4+0+0 = 9; (11-9) mod 10 = 2 (札幌市 011002)
  assert.equal(municipalityCheckDigit('01100'), 2);
  // a sum divisible by 11 gives 1: 11000 -> 6+5 = 11
  assert.equal(municipalityCheckDigit('11000'), 1);
});

test('municipality code: malformed codes are refused naming the field and what was expected', () => {
  assert.equal(parseMunicipalityCode('131016'), '131016');
  refuses(() => parseMunicipalityCode('13101'), 'JUKI_ERR_INVALID_MUNICIPALITY', 'municipality code: expected 6 digits, got 5');
  refuses(() => parseMunicipalityCode('13101x'), 'JUKI_ERR_INVALID_MUNICIPALITY', 'municipality code: expected 6 digits, got "13101x"');
  refuses(() => parseMunicipalityCode('131017'), 'JUKI_ERR_INVALID_MUNICIPALITY', 'municipality code: check digit of 131017 should be 6, got 7');
  refuses(() => parseMunicipalityCode(undefined), 'JUKI_ERR_INVALID_MUNICIPALITY', 'municipality code: expected 6 digits, got nothing');
  refuses(() => municipality('999997'), 'JUKI_ERR_INVALID_MUNICIPALITY', 'municipality code: 999997 is not in the municipality list');
  refuses(() => municipality('13101', '--municipality'), 'JUKI_ERR_INVALID_MUNICIPALITY', '--municipality: expected 6 digits, got 5');
});

test('municipality list: names, prefectures and the address prefix, wards of designated cities without the space', () => {
  const chiyoda = municipality('131016');
  assert.equal(chiyoda.prefecture, '東京都');
  assert.equal(chiyoda.prefectureCode, '13');
  assert.equal(chiyoda.name, '千代田区');
  assert.equal(chiyoda.addressPrefix, '東京都千代田区');
  const chuo = municipality('011011');
  assert.equal(chuo.name, '札幌市 中央区');
  assert.equal(chuo.addressPrefix, '北海道札幌市中央区');
  assert.equal(municipality('011002').index, 0);
});

test('municipality list: a file with an unexpected header or row is refused', () => {
  assert.throws(() => parseMunicipalityList('code,name\n131016,千代田区\n'), (e: unknown) => isJukiError(e, 'JUKI_ERR_FILE'));
  assert.throws(
    () => parseMunicipalityList('lgcode,prefecture_id,prefecture,name,name_kana\n131016,13,東京都\n'),
    (e: unknown) => isJukiError(e, 'JUKI_ERR_FILE') && /line 2: expected 5 fields, got 3/.test(e.message),
  );
  assert.throws(
    () => parseMunicipalityList('lgcode,prefecture_id,prefecture,name,name_kana\n131017,13,東京都,千代田区,ちよだく\n'),
    (e: unknown) => isJukiError(e, 'JUKI_ERR_INVALID_MUNICIPALITY') && /line 2: check digit/.test(e.message),
  );
});
