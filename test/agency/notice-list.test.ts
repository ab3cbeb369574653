/**
 * The agency's notice list keeps the highest version of each card's notice (R3.2.1o): a late or
 * repeated notice changes nothing, a newer one replaces it (SQLite, and PostgreSQL with JUKI_TEST_DB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from '../helpers/db.ts';
import { NoticeList, refuses } from '../../src/agency/index.ts';
import type { AgencyNoticeBody } from '../../src/net/index.ts';

const notice = (version: number, status: AgencyNoticeBody['status']): AgencyNoticeBody => ({
  cardNumber: 'N-0001', issuer: '131016', residentCode: '12345678901', status, version, changedAt: `2026-01-0${version}T00:00:00.000Z`,
});

test('[R3.2.1o agency] a notice list keeps the highest version: late and repeated notices change nothing, a newer one replaces', async () => {
  const database = await openTestDb();
  try {
    const list = new NoticeList(() => database.db);
    const record = (body: AgencyNoticeBody, at: string) => database.transaction((trx) => list.record(trx, body, 'national', at));
    assert.equal(await record(notice(2, 'suspended'), '2026-01-02T00:00:01.000Z'), true, 'new card');
    assert.equal(await record(notice(1, 'active'), '2026-01-02T00:00:02.000Z'), false, 'late: older version');
    assert.equal(await record(notice(2, 'active'), '2026-01-02T00:00:03.000Z'), false, 'same version again');
    let held = await list.forCard('N-0001');
    assert.deepEqual({ status: held?.status, version: held?.version, receivedAt: held?.receivedAt }, { status: 'suspended', version: 2, receivedAt: '2026-01-02T00:00:01.000Z' });
    assert.equal(refuses(held), true);
    assert.equal(await record(notice(3, 'active'), '2026-01-03T00:00:00.000Z'), true, 'newer: the suspension lifted');
    held = await list.forCard('N-0001');
    assert.deepEqual({ status: held?.status, version: held?.version }, { status: 'active', version: 3 });
    assert.equal(refuses(held), false);
    assert.equal((await database.db.selectFrom('agency_notices').selectAll().execute()).length, 1);
  } finally {
    await database.close();
  }
});
