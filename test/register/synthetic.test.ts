/** The synthetic-resident generator: deterministic, valid, and fit to seed a register. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_SYNTHETIC_RESIDENTS,
  ResidentRegister,
  modulus11HypothesisValidator,
  municipalities,
  municipality,
  parseDate,
  parseResidentCode,
  parseResidentInput,
  permuteTenDigits,
  syntheticResidents,
  syntheticResidentCode,
  digitsOnlyValidator,
  type Municipality,
} from '../../src/register/index.ts';
import { openTestDb } from '../helpers/db.ts';

const ALL = [...municipalities().values()];
const anyMunicipality = fc.integer({ min: 0, max: ALL.length - 1 }).map((i) => ALL[i]!);
const anySeed = fc.integer({ min: 0, max: 0xffffffff });

test('property: the same seed, municipality and count give the same residents', () => {
  fc.assert(
    fc.property(anySeed, anyMunicipality, fc.integer({ min: 1, max: 200 }), (seed, m, count) => {
      assert.deepEqual(syntheticResidents({ seed, municipality: m, count }), syntheticResidents({ seed, municipality: m, count }));
    }),
    { numRuns: 30 },
  );
});

test('property: a smaller count gives a prefix of a larger one', () => {
  fc.assert(
    fc.property(anySeed, anyMunicipality, fc.integer({ min: 0, max: 150 }), fc.integer({ min: 1, max: 150 }), (seed, m, small, extra) => {
      const big = syntheticResidents({ seed, municipality: m, count: small + extra });
      assert.equal(big.length, small + extra);
      assert.deepEqual(syntheticResidents({ seed, municipality: m, count: small }), big.slice(0, small));
    }),
    { numRuns: 30 },
  );
});

test('property: every generated resident passes the register\'s validation, with codes valid under both validators', () => {
  fc.assert(
    fc.property(anySeed, anyMunicipality, fc.integer({ min: 1, max: 300 }), (seed, m, count) => {
      const entries = syntheticResidents({ seed, municipality: m, count, asOf: '2025-04-01' });
      for (const [i, e] of entries.entries()) {
        const checked = parseResidentInput(e.resident, { municipality: m, validator: digitsOnlyValidator, latestBirthDate: '2025-04-01', fieldPrefix: `residents[${i}].` });
        assert.deepEqual(checked, e.resident);
        parseResidentCode(e.resident.residentCode, modulus11HypothesisValidator);
        assert.ok(e.resident.address.startsWith(m.addressPrefix));
        const date = parseDate(e.date, 'date', { min: e.resident.birthDate, max: '2025-04-01' });
        if (e.reason === 'birth') assert.equal(date, e.resident.birthDate);
        else assert.equal(e.reason, 'move-in');
      }
      assert.equal(new Set(entries.map((e) => e.resident.residentCode)).size, entries.length, 'codes are distinct');
    }),
    { numRuns: 25 },
  );
});

test('property: different seeds give different residents', () => {
  fc.assert(
    fc.property(anySeed, anySeed, anyMunicipality, (a, b, m) => {
      fc.pre(a !== b);
      const codes = (seed: number) => syntheticResidents({ seed, municipality: m, count: 20 }).map((e) => e.resident.residentCode);
      assert.notDeepEqual(codes(a), codes(b));
    }),
    { numRuns: 20 },
  );
});

test('property: the code permutation is a bijection on 10-digit numbers (distinct in, distinct out, in range)', () => {
  fc.assert(
    fc.property(anySeed, fc.uniqueArray(fc.integer({ min: 0, max: 9_999_999_999 }), { minLength: 2, maxLength: 200 }), (seed, inputs) => {
      const outputs = inputs.map((n) => permuteTenDigits(n, seed));
      for (const o of outputs) assert.ok(Number.isInteger(o) && o >= 0 && o < 10_000_000_000);
      assert.equal(new Set(outputs).size, inputs.length);
    }),
    { numRuns: 50 },
  );
});

test('resident codes of two municipalities seeded with the same seed never collide', () => {
  const [a, b] = [municipality('131016'), municipality('011011')] as [Municipality, Municipality];
  const codes = new Set<string>();
  for (const m of [a, b]) for (let n = 0; n < 5000; n++) codes.add(syntheticResidentCode(7, m, n));
  assert.equal(codes.size, 10_000);
  // The last municipality's last code still fits in 10 digits.
  const last = ALL[ALL.length - 1]!;
  assert.equal(syntheticResidentCode(7, last, MAX_SYNTHETIC_RESIDENTS - 1).length, 11);
});

test('generated residents look like a population: households share a name and an address, both sexes, all ages', () => {
  const entries = syntheticResidents({ seed: 42, municipality: municipality('131016'), count: 3000 });
  const sexes = new Set(entries.map((e) => e.resident.sex));
  assert.deepEqual([...sexes].sort(), ['female', 'male']);
  const years = entries.map((e) => Number(e.resident.birthDate.slice(0, 4)));
  assert.ok(Math.min(...years) < 1945 && Math.max(...years) > 2020, `birth years ${Math.min(...years)}..${Math.max(...years)}`);
  const addresses = new Map<string, Set<string>>();
  for (const e of entries) addresses.set(e.resident.address, (addresses.get(e.resident.address) ?? new Set()).add(e.resident.name.family));
  assert.ok(addresses.size > 800 && addresses.size < 2500, `${addresses.size} addresses`);
  assert.ok([...addresses.values()].some((f) => f.size === 1), 'a household shares its family name');
  assert.ok(entries.some((e) => e.reason === 'birth') && entries.some((e) => e.reason === 'move-in'));
  assert.ok(entries.some((e) => /髙|﨑|𠮷|\u{E0100}/u.test(e.resident.name.family)), 'some names need the substitute form');
});

test('a seeded register holds exactly the generated residents', async () => {
  const database = await openTestDb();
  try {
    const m = municipality('271004');
    const register = new ResidentRegister(database, m.code);
    const entries = syntheticResidents({ seed: 3, municipality: m, count: 700 });
    assert.equal(await register.registerMany(entries), 700);
    assert.equal(await register.count('registered'), 700);
    const sample = entries[456]!;
    const r = await register.get(sample.resident.residentCode);
    assert.deepEqual({ ...sample.resident }, {
      residentCode: r.residentCode,
      name: r.name,
      kana: r.kana,
      birthDate: r.birthDate,
      sex: r.sex,
      address: r.address,
    });
    assert.deepEqual(r.change, { reason: sample.reason, date: sample.date });
  } finally {
    await database.close();
  }
});
