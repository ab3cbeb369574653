/** The resident register on a real database (SQLite, or PostgreSQL with JUKI_TEST_DB). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResidentRegister, type RegisterChange, type ResidentInput } from '../../src/register/index.ts';
import { isJukiError, type ErrorCode } from '../../src/util/index.ts';
import type { Database } from '../../src/db/index.ts';
import { openTestDb } from '../helpers/db.ts';

const CHIYODA = '131016';
const NOW = () => new Date('2025-06-01T03:00:00Z');

const hanako: ResidentInput = {
  residentCode: '12345678901',
  name: { family: '髙橋', given: '花子' },
  kana: { family: 'タカハシ', given: 'ハナコ' },
  birthDate: '1985-04-12',
  sex: 'female',
  address: '東京都千代田区千代田一丁目1番1号',
};

async function withRegister(fn: (register: ResidentRegister, database: Database, changes: RegisterChange[]) => Promise<void>): Promise<void> {
  const database = await openTestDb();
  const changes: RegisterChange[] = [];
  try {
    await fn(new ResidentRegister(database, CHIYODA, { now: NOW, onChange: (c) => void changes.push(c) }), database, changes);
  } finally {
    await database.close();
  }
}

async function refuses(p: Promise<unknown>, code: ErrorCode, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isJukiError(e, code), `expected ${code}, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

async function historyRows(database: Database): Promise<number> {
  const { n } = await database.db.selectFrom('register_history').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return Number(n);
}

test('registering a resident stores every field and a first history row, and gives their identity record', async () => {
  await withRegister(async (register, database, changes) => {
    const r = await register.register(hanako, { reason: 'entry', date: '2020-04-01' });
    assert.deepEqual(r, {
      ...hanako,
      municipality: CHIYODA,
      status: 'registered',
      change: { reason: 'entry', date: '2020-04-01' },
      version: 1,
    });
    assert.deepEqual(await register.get(hanako.residentCode), r);
    const record = await register.identityRecord(hanako.residentCode);
    assert.deepEqual(record, {
      residentCode: '12345678901',
      municipality: CHIYODA,
      name: { family: '髙橋', given: '花子' },
      birthDate: '1985-04-12',
      sex: 'female',
      address: '東京都千代田区千代田一丁目1番1号',
      status: 'registered',
      change: { reason: 'entry', date: '2020-04-01' },
      substitute: { name: { family: '〓橋', given: '花子' }, address: '東京都千代田区千代田一丁目1番1号' },
    });
    const history = await register.history(hanako.residentCode);
    assert.equal(history.length, 1);
    assert.equal(history[0]!.reason, 'entry');
    assert.deepEqual(history[0]!.record, record);
    assert.equal(history[0]!.recordedAt, '2025-06-01T03:00:00.000Z');
    assert.equal(changes.length, 1);
    assert.equal(changes[0]!.seq, 1);
    assert.equal(await historyRows(database), 1);
  });
});

test('a birth is dated the birth date', async () => {
  await withRegister(async (register) => {
    const baby = { ...hanako, birthDate: '2025-05-20' };
    const r = await register.register(baby, { reason: 'birth' });
    assert.deepEqual(r.change, { reason: 'birth', date: '2025-05-20' });
    await refuses(
      register.register({ ...baby, residentCode: '22345678901' }, { reason: 'birth', date: '2025-05-21' }),
      'JUKI_ERR_INVALID_DATE',
      'residents[0].birth date: the entry of a birth is dated the birth date 2025-05-20, got 2025-05-21',
    );
  });
});

test('moves: move-within, move-out, return by move-in, and death, each with a history row', async () => {
  await withRegister(async (register, _database, changes) => {
    await register.register(hanako, { reason: 'entry', date: '2020-04-01' });
    const within = await register.moveWithin({ residentCode: hanako.residentCode, date: '2021-05-01', address: '東京都千代田区神田二丁目3番4号' });
    assert.equal(within.address, '東京都千代田区神田二丁目3番4号');
    assert.deepEqual(within.change, { reason: 'move-within', date: '2021-05-01' });
    const out = await register.moveOut({ residentCode: hanako.residentCode, date: '2022-06-01', to: { municipality: '271004', address: '大阪府大阪市北区梅田1-1' } });
    assert.equal(out.status, 'moved-out');
    assert.equal(out.address, '東京都千代田区神田二丁目3番4号', 'a moved-out record keeps the last address here');
    const back = await register.moveIn({
      resident: { ...hanako, address: '東京都千代田区麹町三丁目5番' },
      date: '2023-07-01',
      from: { municipality: '271004', address: '大阪府大阪市北区梅田1-1' },
    });
    assert.equal(back.status, 'registered');
    assert.equal(back.version, 4);
    const dead = await register.recordDeath({ residentCode: hanako.residentCode, date: '2024-08-01' });
    assert.equal(dead.status, 'deceased');

    const history = await register.history(hanako.residentCode);
    assert.deepEqual(
      history.map((h) => [h.seq, h.reason, h.date, h.otherMunicipality, h.otherAddress]),
      [
        [1, 'entry', '2020-04-01', undefined, undefined],
        [2, 'move-within', '2021-05-01', undefined, '東京都千代田区千代田一丁目1番1号'],
        [3, 'move-out', '2022-06-01', '271004', '大阪府大阪市北区梅田1-1'],
        [4, 'move-in', '2023-07-01', '271004', '大阪府大阪市北区梅田1-1'],
        [5, 'death', '2024-08-01', undefined, undefined],
      ],
    );
    assert.equal(history[3]!.record.address, '東京都千代田区麹町三丁目5番');
    assert.deepEqual(
      changes.map((c) => [c.reason, c.seq, c.previous?.status]),
      [
        ['entry', 1, undefined],
        ['move-within', 2, 'registered'],
        ['move-out', 3, 'registered'],
        ['move-in', 4, 'moved-out'],
        ['death', 5, 'registered'],
      ],
    );
    assert.equal(await register.count(), 1);
    assert.equal(await register.count('registered'), 0);
    assert.equal(await register.count('deceased'), 1);
  });
});

test('a new resident moving in from abroad needs no origin', async () => {
  await withRegister(async (register) => {
    const r = await register.moveIn({ resident: hanako, date: '2024-01-10' });
    assert.deepEqual(r.change, { reason: 'move-in', date: '2024-01-10' });
    assert.deepEqual((await register.history(hanako.residentCode)).map((h) => h.otherMunicipality), [undefined]);
  });
});

test('moves that do not fit the resident\'s state are refused and change nothing', async () => {
  await withRegister(async (register, database, changes) => {
    await register.register(hanako, { reason: 'entry', date: '2020-04-01' });
    const code = hanako.residentCode;
    await refuses(register.moveIn({ resident: hanako, date: '2021-01-01' }), 'JUKI_ERR_RESIDENT_EXISTS', `resident code: ${code} is already registered in ${CHIYODA}`);
    await refuses(
      register.moveWithin({ residentCode: code, date: '2019-01-01', address: '東京都千代田区神田1' }),
      'JUKI_ERR_INVALID_MOVE',
      'move-within date: 2019-01-01 is before the resident\'s latest change (entry on 2020-04-01)',
    );
    await refuses(
      register.moveWithin({ residentCode: code, date: '2021-01-01', address: hanako.address }),
      'JUKI_ERR_INVALID_MOVE',
      'move-within address: the new address is the current one',
    );
    await refuses(
      register.moveWithin({ residentCode: code, date: '2021-01-01', address: '大阪府大阪市北区梅田1-1' }),
      'JUKI_ERR_INVALID_INPUT',
      'move-within address: expected an address in 東京都千代田区 (131016), got "大阪府大阪市北区梅田1-1"',
    );
    await refuses(
      register.moveOut({ residentCode: code, date: '2021-01-01', to: { municipality: CHIYODA, address: '東京都千代田区神田1' } }),
      'JUKI_ERR_INVALID_MOVE',
      /move-out to municipality: 131016 is this municipality/,
    );
    await refuses(
      register.moveOut({ residentCode: code, date: '2021-01-01', to: { municipality: '271005', address: '大阪府大阪市北区梅田1-1' } }),
      'JUKI_ERR_INVALID_MUNICIPALITY',
      'move-out to municipality: check digit of 271005 should be 4, got 5',
    );
    await refuses(register.recordDeath({ residentCode: code, date: '2025-06-02' }), 'JUKI_ERR_INVALID_DATE', 'death date: expected 2025-06-01 or earlier, got 2025-06-02');
    await refuses(register.moveWithin({ residentCode: '99999999999', date: '2021-01-01', address: '東京都千代田区神田1' }), 'JUKI_ERR_RESIDENT_NOT_FOUND', /no resident 99999999999/);
    await refuses(register.recordDeath({ residentCode: '1234', date: '2021-01-01' }), 'JUKI_ERR_INVALID_RESIDENT_CODE', 'resident code: expected 11 digits, got 4');
    await refuses(register.recordDeath({ residentCode: code, date: '2021-02-30' }), 'JUKI_ERR_INVALID_DATE', 'death date: 2021-02-30 is not a calendar date');

    await register.recordDeath({ residentCode: code, date: '2021-03-01' });
    await refuses(register.moveOut({ residentCode: code, date: '2021-04-01', to: { municipality: '271004', address: '大阪府大阪市' } }), 'JUKI_ERR_RESIDENT_NOT_REGISTERED', /not registered here \(deceased on 2021-03-01\)/);
    await refuses(register.moveIn({ resident: hanako, date: '2021-04-01' }), 'JUKI_ERR_INVALID_MOVE', /recorded as deceased on 2021-03-01/);

    assert.equal((await register.history(code)).length, 2);
    assert.equal(await historyRows(database), 2);
    assert.equal(changes.length, 2);
  });
});

test('malformed resident data is refused naming the field, and nothing is written', async () => {
  await withRegister(async (register, database) => {
    const bad: [Partial<Record<keyof ResidentInput, unknown>>, ErrorCode, string][] = [
      [{ residentCode: '1234567890' }, 'JUKI_ERR_INVALID_RESIDENT_CODE', 'residents[0].resident code: expected 11 digits, got 10'],
      [{ birthDate: '1985-13-01' }, 'JUKI_ERR_INVALID_DATE', 'residents[0].birth date: 1985-13-01 is not a calendar date'],
      [{ birthDate: '2030-01-01' }, 'JUKI_ERR_INVALID_DATE', 'residents[0].birth date: expected 2025-06-01 or earlier, got 2030-01-01'],
      [{ sex: 'f' }, 'JUKI_ERR_INVALID_INPUT', 'residents[0].sex: expected "male" or "female", got "f"'],
      [{ kana: { family: 'たかはし', given: 'ハナコ' } }, 'JUKI_ERR_INVALID_INPUT', 'residents[0].name kana (family): expected full-width katakana, got "た" (U+305F) at position 1'],
      [{ name: { family: '髙橋' } }, 'JUKI_ERR_INVALID_INPUT', 'residents[0].name (given): expected kanji, kana or Latin letters, got nothing'],
      [{ address: '' }, 'JUKI_ERR_INVALID_INPUT', 'residents[0].address: expected an address, got an empty string'],
      [{ address: '東京都港区芝公園4-2-8' }, 'JUKI_ERR_INVALID_INPUT', 'residents[0].address: expected an address in 東京都千代田区 (131016), got "東京都港区芝公園4-2-8"'],
    ];
    for (const [patch, code, message] of bad) {
      await refuses(register.register({ ...hanako, ...patch } as ResidentInput, { reason: 'entry', date: '2020-04-01' }), code, message);
    }
    await refuses(register.register(hanako, { reason: 'entry', date: '1980-01-01' }), 'JUKI_ERR_INVALID_DATE', 'residents[0].entry date: expected 1985-04-12 or later, got 1980-01-01');
    assert.equal(await register.count(), 0);
    assert.equal(await historyRows(database), 0);
  });
});

test('registerMany is all or nothing: one bad item deep in the batch leaves the register empty', async () => {
  await withRegister(async (register, database) => {
    const entries = Array.from({ length: 1200 }, (_, i) => ({
      resident: { ...hanako, residentCode: String(10_000_000_000 + i) },
      reason: 'entry' as const,
      date: '2020-04-01',
    }));
    entries[1100] = { ...entries[1100]!, resident: { ...entries[1100]!.resident, birthDate: '1985-02-30' } };
    const progress: number[] = [];
    await refuses(register.registerMany(entries, { onProgress: (n) => progress.push(n) }), 'JUKI_ERR_INVALID_DATE', 'residents[1100].birth date: 1985-02-30 is not a calendar date');
    assert.deepEqual(progress, [500, 1000], 'two batches were written before the bad item...');
    assert.equal(await register.count(), 0, '...and rolled back');
    assert.equal(await historyRows(database), 0);

    entries[1100] = { ...entries[1100]!, resident: { ...hanako, residentCode: entries[3]!.resident.residentCode } };
    await refuses(register.registerMany(entries), 'JUKI_ERR_RESIDENT_EXISTS', `residents[1100].resident code: ${entries[3]!.resident.residentCode} is already in the register of 131016`);
    entries[1100] = { ...entries[1100]!, resident: { ...hanako, residentCode: entries[1050]!.resident.residentCode } };
    await refuses(register.registerMany(entries), 'JUKI_ERR_RESIDENT_EXISTS', `residents[1100].resident code: ${entries[1050]!.resident.residentCode} repeats residents[1050]`);
    assert.equal(await register.count(), 0);

    entries[1100] = { ...entries[1100]!, resident: { ...hanako, residentCode: '19999999999' } };
    assert.equal(await register.registerMany(entries), 1200);
    assert.equal(await register.count(), 1200);
    assert.equal(await historyRows(database), 1200);
  });
});

test('the onChange hook runs inside the change\'s transaction: if it fails, the change is undone', async () => {
  const database = await openTestDb();
  try {
    let fail = false;
    const register = new ResidentRegister(database, CHIYODA, {
      now: NOW,
      onChange: async (change, trx) => {
        // What a hook writes commits with the change; here it reads the change's own row.
        const row = await trx.selectFrom('register_residents').select('version').where('resident_code', '=', change.residentCode).executeTakeFirstOrThrow();
        assert.equal(Number(row.version), change.seq);
        if (fail) throw new Error('audit log unavailable');
      },
    });
    await register.register(hanako, { reason: 'entry', date: '2020-04-01' });
    fail = true;
    await assert.rejects(register.moveWithin({ residentCode: hanako.residentCode, date: '2021-01-01', address: '東京都千代田区神田1' }), /audit log unavailable/);
    const r = await register.get(hanako.residentCode);
    assert.equal(r.address, hanako.address);
    assert.equal(r.version, 1);
    assert.equal((await register.history(hanako.residentCode)).length, 1);
    await assert.rejects(register.register({ ...hanako, residentCode: '22222222222' }, { reason: 'entry', date: '2020-04-01' }), /audit log unavailable/);
    assert.equal(await register.count(), 1);
  } finally {
    await database.close();
  }
});

test('concurrent moves of one resident: one wins, the other is refused as a conflict or a misfit, never both applied', async () => {
  await withRegister(async (register) => {
    await register.register(hanako, { reason: 'entry', date: '2020-04-01' });
    const results = await Promise.allSettled([
      register.moveWithin({ residentCode: hanako.residentCode, date: '2021-01-01', address: '東京都千代田区神田1' }),
      register.moveOut({ residentCode: hanako.residentCode, date: '2021-01-01', to: { municipality: '271004', address: '大阪府大阪市北区1' } }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    // SQLite serialises the two transactions, so the second sees the first (or, after a
    // move-out, is refused as not registered); PostgreSQL may run them together, and then the
    // version check refuses the loser as a conflict.
    if (ok.length === 1) {
      assert.ok(isJukiError(refused[0]!.reason, 'JUKI_ERR_CONFLICT') || isJukiError(refused[0]!.reason, 'JUKI_ERR_RESIDENT_NOT_REGISTERED'), String(refused[0]!.reason));
    }
    const history = await register.history(hanako.residentCode);
    assert.equal(history.length, 1 + ok.length);
    assert.equal((await register.get(hanako.residentCode)).version, 1 + ok.length);
  });
});

test('search finds residents by family-name reading and status, in reading order', async () => {
  await withRegister(async (register) => {
    const people = [
      ['11111111111', '山田', 'ヤマダ'],
      ['11111111112', '山本', 'ヤマモト'],
      ['11111111113', '田中', 'タナカ'],
    ] as const;
    for (const [code, family, kana] of people) {
      await register.register({ ...hanako, residentCode: code, name: { family, given: '一' }, kana: { family: kana, given: 'ハジメ' } }, { reason: 'entry', date: '2020-04-01' });
    }
    await register.recordDeath({ residentCode: '11111111112', date: '2024-01-01' });
    assert.deepEqual((await register.search({ kanaPrefix: 'ヤマ' })).map((r) => r.name.family), ['山田', '山本']);
    assert.deepEqual((await register.search({ kanaPrefix: 'ヤマ', status: 'registered' })).map((r) => r.name.family), ['山田']);
    assert.deepEqual((await register.search({ limit: 2 })).map((r) => r.kana.family), ['タナカ', 'ヤマダ']);
    assert.deepEqual((await register.search({ limit: 2, offset: 2 })).map((r) => r.kana.family), ['ヤマモト']);
    await assert.rejects(register.search({ kanaPrefix: 'ヤ%' }), /kana prefix: expected full-width katakana, got "%"/);
    await assert.rejects(register.search({ limit: 0 }), /limit: expected a whole number from 1 to 1000, got 0/);
  });
});

test('each municipality sees only its own register in a shared database', async () => {
  const database = await openTestDb();
  try {
    const chiyoda = new ResidentRegister(database, CHIYODA, { now: NOW });
    const minato = new ResidentRegister(database, '131032', { now: NOW });
    await chiyoda.register(hanako, { reason: 'entry', date: '2020-04-01' });
    await chiyoda.moveOut({ residentCode: hanako.residentCode, date: '2021-01-01', to: { municipality: '131032', address: '東京都港区芝公園4-2-8' } });
    await minato.moveIn({ resident: { ...hanako, address: '東京都港区芝公園4-2-8' }, date: '2021-01-01', from: { municipality: CHIYODA, address: hanako.address } });
    assert.equal((await chiyoda.get(hanako.residentCode)).status, 'moved-out');
    assert.equal((await minato.get(hanako.residentCode)).status, 'registered');
    assert.equal(await minato.count(), 1);
    assert.throws(() => new ResidentRegister(database, '131017'), (e: unknown) => isJukiError(e, 'JUKI_ERR_INVALID_MUNICIPALITY'));
  } finally {
    await database.close();
  }
});
