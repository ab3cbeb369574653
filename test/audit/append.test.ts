/**
 * Appending to the audit log: the round trip, the catalogue checks, refusal of secrets, and
 * concurrency (run on SQLite and, with JUKI_TEST_DB, on PostgreSQL).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from '../helpers/db.ts';
import { AUDIT_EVENTS, AuditLog, GENESIS_HASH, entryHash, looksSecret, type AuditEventInput } from '../../src/audit/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { appendSamples, sampleEvent, testLog } from './fixtures.ts';

test('append then verify: seq 1..n, each entry linked to the one before, head at the last', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    await appendSamples(log, 7);
    const entries = await log.list({ limit: 100 });
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(entries[0]!.prevHash, GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) assert.equal(entries[i]!.prevHash, entries[i - 1]!.hash);
    for (const e of entries) assert.equal(entryHash(e), e.hash);
    assert.deepEqual(await log.head(), { seq: 7, hash: entries[6]!.hash });
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, 7);
  } finally {
    await database.close();
  }
});

test('the stored entry holds actor, subject, outcome, reason and canonical details exactly', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const a = await log.record(sampleEvent(0));
    assert.equal(a.actor, 'staff:S1000');
    assert.equal(a.subject, 'resident:10000000000');
    assert.equal(a.outcome, 'success');
    assert.equal(a.reason, '');
    assert.equal(a.details, '{"cause":"birth","municipality":"131016"}');
    assert.equal(a.at, '2025-04-01T00:00:01.000Z');
    const b = await log.record(sampleEvent(2));
    assert.equal(b.actor, 'system');
    assert.equal(b.outcome, 'refused');
    assert.equal(b.reason, 'JUKI_ERR_RESIDENT_NOT_REGISTERED');
    assert.deepEqual(await log.list({ limit: 1 }), [b]);
    assert.deepEqual(await log.list({ limit: 5, beforeSeq: 2 }), [a]);
  } finally {
    await database.close();
  }
});

test('the hash of a known entry matches an independent computation (Python hashlib)', () => {
  // python3: sha256(b"juki-audit/v1\0" + b"".join(len(f).to_bytes(4,"big") + f for f in fields))
  const hash = entryHash({
    node: 'municipality-131016', seq: 1, at: '2025-04-01T00:00:01.000Z', type: 'resident.registered',
    actor: 'staff:S1000', subject: 'resident:10000000000', outcome: 'success', reason: '',
    details: '{"cause":"birth","municipality":"131016"}', prevHash: GENESIS_HASH,
  });
  assert.equal(hash, '5064a182f48c06a37cab8c1b22377fbd6c90dfc0b8bc0f744a45e3194d652568');
});

test('an entry appended in a transaction that rolls back leaves no entry and no gap', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    await appendSamples(log, 2);
    await assert.rejects(
      database.transaction(async (trx) => {
        await log.append(trx, sampleEvent(5));
        throw new Error('the state change failed');
      }),
      /the state change failed/,
    );
    await appendSamples(log, 1, 3);
    const entries = await log.list();
    assert.deepEqual(entries.map((e) => e.seq), [1, 2, 3]);
    assert.equal((await log.verify()).ok, true);
  } finally {
    await database.close();
  }
});

test('50 concurrent appends take 50 distinct seqs and leave one valid chain', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const entries = await Promise.all(Array.from({ length: 50 }, (_, i) => log.record(sampleEvent(i))));
    assert.deepEqual(entries.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    const result = await log.verify({ batchSize: 7 });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, 50);
  } finally {
    await database.close();
  }
});

test('concurrent appends inside callers\' transactions, some rolled back, keep the chain gapless', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        database.transaction(async (trx) => {
          await log.append(trx, sampleEvent(i));
          if (i % 4 === 0) throw new Error('rolled back');
        }),
      ),
    );
    const committed = outcomes.filter((o) => o.status === 'fulfilled').length;
    assert.equal(committed, 15);
    const result = await log.verify();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.verified, committed);
  } finally {
    await database.close();
  }
});

test('each node has its own chain in a shared database', async () => {
  const database = await openTestDb();
  try {
    const a = testLog(database, 'municipality-131016');
    const b = testLog(database, 'prefecture-13');
    await appendSamples(a, 3);
    await appendSamples(b, 2);
    await appendSamples(a, 1, 3);
    assert.deepEqual((await a.list()).map((e) => e.seq), [1, 2, 3, 4]);
    assert.deepEqual((await b.list()).map((e) => e.seq), [1, 2]);
    assert.equal((await a.verify()).ok, true);
    assert.equal((await b.verify()).ok, true);
  } finally {
    await database.close();
  }
});

test('details with a field named like a PIN, password or key are refused and nothing is written', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const base = sampleEvent(0);
    const secrets: unknown[] = [
      { municipality: '131016', pin: '1234' },
      { municipality: '131016', newPIN: '1234' },
      { municipality: '131016', password: 'x' },
      { municipality: '131016', session_key: 'AA' },
      { municipality: '131016', cause: 'birth', extra: { nested: [{ apiSecret: 's' }] } },
      { municipality: '131016', Token: 't' },
    ];
    for (const details of secrets) {
      await assert.rejects(
        log.record({ ...base, details } as unknown as AuditEventInput),
        (e) => isJukiError(e, 'JUKI_ERR_AUDIT_SECRET_FIELD'),
        JSON.stringify(details),
      );
    }
    assert.deepEqual(await log.list(), []);
    assert.deepEqual(await log.head(), { seq: 0, hash: GENESIS_HASH });
  } finally {
    await database.close();
  }
});

test('secret-looking names are caught in any case or word position, erring towards refusal (spin); ordinary names pass', () => {
  for (const name of ['pin', 'PIN1', 'pinBlock', 'masterKey', 'key_version', 'passphrase', 'otp', 'userPassword', 'spin']) {
    assert.equal(looksSecret(name), true, name);
  }
  for (const name of ['municipality', 'cause', 'direction', 'residentCode', 'records', 'dataset', 'shipping', 'opinion']) {
    assert.equal(looksSecret(name), false, name);
  }
});

test('no event in the catalogue declares a secret-looking details field', () => {
  for (const [type, spec] of Object.entries(AUDIT_EVENTS)) {
    for (const field of Object.keys(spec.details)) assert.equal(looksSecret(field), false, `${type}.${field}`);
  }
});

test('events outside the catalogue, wrong subjects, undeclared or mistyped details and bad reasons are refused', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    const base = sampleEvent(0) as Extract<AuditEventInput, { type: 'resident.registered' }>;
    const bad: Array<[string, unknown]> = [
      ['event.type', { ...base, type: 'card.teleported' }],
      ['event.subject.kind', { ...base, subject: { kind: 'card', id: 'C1' } }],
      ['event.subject.kind', { ...base, subject: undefined }],
      ['event.subject.id', { ...base, subject: { kind: 'resident', id: 'has space' } }],
      ['event.actor.kind', { ...base, actor: { kind: 'root', id: 'x' } }],
      ['event.actor.id', { ...base, actor: { kind: 'staff' } }],
      ['event.actor.id', { ...base, actor: { kind: 'system', id: 'x' } }],
      ['details.note', { ...base, details: { municipality: '131016', note: 'hi' } }],
      ['details.municipality', { ...base, details: {} }],
      ['details.municipality', { ...base, details: { municipality: 131016 } }],
      ['event.reason', { ...base, outcome: 'refused' }],
      ['event.reason', { ...base, reason: 'JUKI_ERR_CONFLICT' }],
      ['event.outcome', { ...base, outcome: 'maybe', reason: 'X' }],
    ];
    for (const [field, event] of bad) {
      await assert.rejects(log.record(event as AuditEventInput), (e) => isJukiError(e) && e.details.field === field, `${field}: ${JSON.stringify(event)}`);
    }
    assert.deepEqual(await log.list(), []);
  } finally {
    await database.close();
  }
});

test('append outside a transaction, or for a malformed node id, is refused', async () => {
  const database = await openTestDb();
  try {
    const log = testLog(database);
    await assert.rejects(log.append(database.db as never, sampleEvent(0)), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && e.details.field === 'trx');
    assert.throws(() => new AuditLog(database, 'Bad Node'), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && e.details.field === 'node');
  } finally {
    await database.close();
  }
});
