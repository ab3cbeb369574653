/**
 * Deterministic synthetic residents for any listed municipality: the same (seed, municipality,
 * count, as-of date) always gives the same residents, and a smaller count gives a prefix of a
 * larger one. People come in households (single, couple, family, single parent, three
 * generations) sharing a family name and an address of the form
 *   東京都千代田区緑町三丁目12番5号[ メゾン204号室]
 * Birth dates follow the household's shape; members born after the household moved in are
 * entered as births, the others as move-ins.
 *
 * Resident codes: 10 digits from a keyed permutation (a 4-round Feistel network over
 * 0..10^10−1, keyed by the seed) of (municipality's list position × 4,000,000 + n), so codes
 * look random, never repeat within a seed, and never collide between municipalities seeded
 * with the same seed; then a check digit from the validator's rule when it has one, else from
 * the modulus-11 hypothesis (resident-code.ts), so codes pass either validator.
 */
import { addDays, type IsoDate } from './dates.ts';
import type { Municipality } from './municipality.ts';
import type { RegisterEntry } from './register.ts';
import { modulus11HypothesisValidator, type ResidentCodeValidator } from './resident-code.ts';
import type { Sex } from './resident.ts';
import { BUILDING_NAMES, FAMILY_NAMES, GIVEN_NAMES_CLASSIC, GIVEN_NAMES_MODERN, TOWN_NAMES } from './synthetic-names.ts';

/** Most residents one municipality can be given from one seed (codes stay distinct up to here). */
export const MAX_SYNTHETIC_RESIDENTS = 4_000_000;

/** The as-of date used when none is given, fixed so that a seed means the same data every day. */
export const DEFAULT_AS_OF = '2025-04-01' as IsoDate;

export interface SyntheticOptions {
  /** Any whole number from 0 to 2^32 − 1. */
  readonly seed: number;
  readonly municipality: Municipality;
  readonly count: number;
  /** Ages and dates are as of this day (default DEFAULT_AS_OF). */
  readonly asOf?: string;
  readonly validator?: ResidentCodeValidator;
}

/** A seeded PRNG: sfc32 (Chris Doty-Humphrey's Small Fast Counter), state from a string hash. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(key: string) {
    // cyrb128-style string hash to four 32-bit words.
    let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
    for (let i = 0; i < key.length; i++) {
      const k = key.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    this.#a = (h1 ^ h2 ^ h3 ^ h4) >>> 0;
    this.#b = (h2 ^ h1) >>> 0;
    this.#c = (h3 ^ h1) >>> 0;
    this.#d = (h4 ^ h1) >>> 0;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.float() * list.length)]!;
  }

  chance(p: number): boolean {
    return this.float() < p;
  }
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A bijection on 0..10^10−1 keyed by the seed: a balanced Feistel network on two 5-digit halves. */
export function permuteTenDigits(n: number, seed: number): number {
  let left = Math.floor(n / 100_000);
  let right = n % 100_000;
  for (let round = 0; round < 4; round++) {
    const key = mix32((seed ^ mix32(round + 0x9e3779b9)) >>> 0);
    const f = mix32((right ^ key) >>> 0) % 100_000;
    [left, right] = [right, (left + f) % 100_000];
  }
  return left * 100_000 + right;
}

/** The synthetic resident code of the n-th resident of a municipality for a seed. */
export function syntheticResidentCode(seed: number, municipality: Municipality, n: number, validator?: ResidentCodeValidator): string {
  const first10 = String(permuteTenDigits(municipality.index * MAX_SYNTHETIC_RESIDENTS + n, seed)).padStart(10, '0');
  const rule = validator?.checkDigit ? validator : modulus11HypothesisValidator;
  return first10 + rule.checkDigit!(first10);
}

// Family-name frequency falls off roughly as 1/rank (Zipf); the offset flattens the head.
const FAMILY_WEIGHTS = FAMILY_NAMES.map((_, i) => 1 / (i + 8));
const FAMILY_TOTAL = FAMILY_WEIGHTS.reduce((a, b) => a + b, 0);

function pickFamily(rng: Prng): readonly [string, string] {
  let x = rng.float() * FAMILY_TOTAL;
  for (let i = 0; i < FAMILY_NAMES.length; i++) {
    x -= FAMILY_WEIGHTS[i]!;
    if (x < 0) return FAMILY_NAMES[i]!;
  }
  return FAMILY_NAMES[FAMILY_NAMES.length - 1]!;
}

function pickGiven(rng: Prng, sex: Sex, birthYear: number): readonly [string, string] {
  // Names drift with generations: classic before 1975, modern after 1990, either between.
  const modern = birthYear >= 1990 || (birthYear >= 1975 && rng.chance((birthYear - 1975) / 15));
  return rng.pick((modern ? GIVEN_NAMES_MODERN : GIVEN_NAMES_CLASSIC)[sex]);
}

const KANJI_DIGITS = ['〇', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

interface Member {
  readonly age: number;
  readonly sex: Sex;
}

/** The members of one household, by age and sex. */
function household(rng: Prng): Member[] {
  const sex = (): Sex => (rng.chance(0.5) ? 'male' : 'female');
  const other = (s: Sex): Sex => (s === 'male' ? 'female' : 'male');
  const children = (parentAge: number, n: number): Member[] =>
    Array.from({ length: n }, () => ({ age: rng.int(0, Math.max(0, Math.min(parentAge - 24, 30))), sex: sex() }));
  const kind = rng.float();
  if (kind < 0.36) return [{ age: rng.chance(0.5) ? rng.int(18, 45) : rng.int(46, 98), sex: sex() }];
  const headSex: Sex = rng.chance(0.8) ? 'male' : 'female';
  if (kind < 0.56) {
    const age = rng.int(24, 92);
    return [{ age, sex: headSex }, { age: Math.max(20, age + rng.int(-6, 4)), sex: other(headSex) }];
  }
  if (kind < 0.82) {
    const age = rng.int(27, 62);
    return [{ age, sex: headSex }, { age: Math.max(22, age + rng.int(-5, 3)), sex: other(headSex) }, ...children(age, rng.int(1, 3))];
  }
  if (kind < 0.91) {
    const age = rng.int(25, 60);
    return [{ age, sex: rng.chance(0.85) ? 'female' : 'male' }, ...children(age, rng.int(1, 2))];
  }
  const age = rng.int(35, 60);
  return [
    { age, sex: headSex },
    { age: Math.max(25, age + rng.int(-5, 3)), sex: other(headSex) },
    ...children(age, rng.int(1, 3)),
    { age: Math.min(100, age + rng.int(25, 35)), sex: rng.chance(0.7) ? 'female' : 'male' },
  ];
}

/** The residents, one at a time (so a million of them need no big array). */
export function* syntheticEntries(options: SyntheticOptions): Generator<RegisterEntry> {
  const { seed, municipality: m, count } = options;
  const asOf = (options.asOf ?? DEFAULT_AS_OF) as IsoDate;
  const rng = new Prng(`juki-synthetic:${seed}:${m.code}`);
  // Each municipality has its own towns: 8 to 20 of the list, some with 丁目 and some with 番地.
  const townRng = new Prng(`juki-towns:${seed}:${m.code}`);
  const towns = [...TOWN_NAMES]
    .map((t) => ({ t, k: townRng.next() }))
    .sort((a, b) => a.k - b.k)
    .slice(0, townRng.int(8, 20))
    .map(({ t }) => ({ name: t, chome: townRng.chance(0.7) ? townRng.int(1, 9) : 0 }));

  let n = 0;
  while (n < count) {
    const [family, familyKana] = pickFamily(rng);
    const town = rng.pick(towns);
    let address =
      town.chome > 0
        ? `${m.addressPrefix}${town.name}${KANJI_DIGITS[rng.int(1, town.chome)]}丁目${rng.int(1, 30)}番${rng.int(1, 25)}号`
        : `${m.addressPrefix}${town.name}${rng.int(1, 2500)}番地${rng.chance(0.5) ? rng.int(1, 20) : ''}`;
    if (rng.chance(0.3)) address += ` ${rng.pick(BUILDING_NAMES)}${rng.int(1, 8)}0${rng.int(1, 9)}号室`;
    const members = household(rng);
    const oldestAdult = Math.max(...members.map((x) => x.age));
    // The household moved in on one day, when its oldest member was at least 18.
    const movedIn = addDays(asOf, -rng.int(0, Math.max(0, (oldestAdult - 18) * 365)));
    const taken = new Set<string>();
    for (const member of members) {
      if (n >= count) return;
      const birthDate = addDays(asOf, -(member.age * 365 + Math.floor(member.age / 4) + rng.int(0, 364)));
      // No two members of a household share a given name (or its reading).
      let [given, givenKana] = pickGiven(rng, member.sex, Number(birthDate.slice(0, 4)));
      for (let tries = 0; tries < 8 && (taken.has(given) || taken.has(givenKana)); tries++) {
        [given, givenKana] = pickGiven(rng, member.sex, Number(birthDate.slice(0, 4)));
      }
      taken.add(given).add(givenKana);
      const bornHere = birthDate > movedIn;
      yield {
        resident: {
          residentCode: syntheticResidentCode(seed, m, n, options.validator),
          name: { family, given },
          kana: { family: familyKana, given: givenKana },
          birthDate,
          sex: member.sex,
          address,
        },
        reason: bornHere ? 'birth' : 'move-in',
        date: bornHere ? birthDate : movedIn,
      };
      n++;
    }
  }
}

/** The residents as an array (fine for thousands; use syntheticEntries for millions). */
export function syntheticResidents(options: SyntheticOptions): RegisterEntry[] {
  return [...syntheticEntries(options)];
}
