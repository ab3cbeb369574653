/** Register changes and their audit entries commit together (SQLite, or PostgreSQL with JUKI_TEST_DB). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLog } from '../../src/audit/index.ts';
import { ResidentRegister, auditRegisterChanges, both, type ResidentInput } from '../../src/register/index.ts';
import { openTestDb } from '../helpers/db.ts';

const NOW = () => new Date('2025-06-01T03:00:00Z');
const taro: ResidentInput = {
  residentCode: '23456789012',
  name: { family: '山田', given: '太郎' },
  kana: { family: 'ヤマダ', given: 'タロウ' },
  birthDate: '1990-01-02',
  sex: 'male',
  address: '東京都千代田区九段南一丁目2番1号',
};

test('every register change appends its audit entry in the same transaction; no address or name in the log', async () => {
  const database = await openTestDb();
  try {
    const log = new AuditLog(database, 'municipality-131016', { now: NOW });
    const register = new ResidentRegister(database, '131016', { now: NOW, onChange: auditRegisterChanges(log, () => ({ kind: 'staff', id: 'clerk-1' })) });
    await register.register(taro, { reason: 'entry', date: '2025-05-01' });
    await register.moveWithin({ residentCode: taro.residentCode, date: '2025-05-10', address: '東京都千代田区九段南二丁目3番4号' });
    await register.moveOut({ residentCode: taro.residentCode, date: '2025-05-20', to: { municipality: '131024', address: '東京都中央区銀座一丁目1番1号' } });
    const entries = await log.list({ limit: 10 });
    assert.deepEqual(entries.map((e) => e.type), ['resident.registered', 'resident.moved', 'resident.moved']);
    assert.ok(entries.every((e) => e.actor === 'staff:clerk-1' && e.subject === `resident:${taro.residentCode}`));
    const text = JSON.stringify(entries);
    assert.ok(!text.includes('九段南') && !text.includes('山田'), 'the log holds codes, not personal data');
    assert.equal((await log.verify()).ok, true);
  } finally {
    await database.close();
  }
});

test('when a later hook fails, neither the change nor its audit entry is written', async () => {
  const database = await openTestDb();
  try {
    const log = new AuditLog(database, 'municipality-131016', { now: NOW });
    const failing = async () => {
      throw new Error('outbox down');
    };
    const register = new ResidentRegister(database, '131016', { now: NOW, onChange: both(auditRegisterChanges(log, () => ({ kind: 'system' })), failing) });
    await assert.rejects(register.register(taro, { reason: 'entry', date: '2025-05-01' }), /outbox down/);
    assert.equal(await register.count(), 0);
    assert.equal((await log.head()).seq, 0);
  } finally {
    await database.close();
  }
});
