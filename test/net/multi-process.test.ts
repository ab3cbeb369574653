/**
 * A Juki-net of five `juki serve` processes on loopback with mutual TLS: the national center
 * (on PostgreSQL when JUKI_TEST_DB is a postgres URL: openTestDb({ shared: true })), the Tokyo
 * prefecture, two municipalities and the passport agency, from `juki pki init`. A resident's
 * identity record and a card's issue and lost report are written to a municipality's own
 * outbox (`juki net enqueue`); the agency desk accepts the card, then refuses it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { juki, startJuki, stop } from '../helpers/cli.ts';
import { openTestDb, sharedLocation, tempSqlitePath } from '../helpers/db.ts';
import { identityRecord } from './harness.ts';
import { freePort } from '../helpers/ports.ts';

/** Ask until `check` is satisfied (the nodes are other processes: there is nothing to await but their answers). */
async function until<T>(what: string, ask: () => Promise<T>, done: (v: T) => boolean, deadlineMs = 60_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await ask();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last answer ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'juki-mp-'));
const nationalDb = await openTestDb({ shared: true });
after(async () => {
  for (const c of children) await stop(c);
  await nationalDb.close();
  rmSync(dir, { recursive: true, force: true });
});

test('[R3.2.1u] [R3.2.1e] [R3.2.1o] [R4.2.2 network] five juki serve processes over mutual TLS: a lost report at a municipality makes the agency refuse the card', async () => {
  const ids = ['national', 'prefecture-13', 'municipality-131016', 'municipality-131024', 'agency-passport'];
  const ports = await Promise.all(ids.map(() => freePort()));
  const topology = {
    version: 1,
    nodes: [
      { role: 'national', address: `https://127.0.0.1:${ports[0]}` },
      { role: 'prefecture', code: '13', address: `https://127.0.0.1:${ports[1]}` },
      { role: 'municipality', code: '131016', address: `https://127.0.0.1:${ports[2]}` },
      { role: 'municipality', code: '131024', address: `https://127.0.0.1:${ports[3]}` },
      { role: 'agency', code: 'passport', address: `https://127.0.0.1:${ports[4]}` },
    ],
  };
  const peers = join(dir, 'peers.json');
  writeFileSync(peers, JSON.stringify(topology));
  const pki = join(dir, 'pki');
  const init = juki(['pki', 'init', '--topology', peers, '--out', pki, '--json']);
  assert.equal(init.status, 0, init.stderr);

  const dbs: Record<string, string> = {
    national: sharedLocation.get(nationalDb)!,
    'prefecture-13': tempSqlitePath('pref'),
    'municipality-131016': tempSqlitePath('m16'),
    'municipality-131024': tempSqlitePath('m24'),
    'agency-passport': tempSqlitePath('agency'),
  };
  const urls: Record<string, string> = {};
  await Promise.all(ids.map(async (id) => {
    const [role, code] = id.includes('-') ? [id.slice(0, id.indexOf('-')), id.slice(id.indexOf('-') + 1)] : [id, undefined];
    const { child, match } = await startJuki(
      ['serve', '--role', role!, ...(code ? ['--code', code] : []), '--db', dbs[id]!, '--pki', pki, '--peers', peers, '--port', '0', '--keystore', join(dir, `ks-${id}`), '--json'],
      /^\{"url":"([^"]+)"/,
    );
    children.push(child);
    urls[id] = match[1]!;
  }));

  const enqueue = (type: string, to: string, body: unknown) => {
    const r = juki(['net', 'enqueue', '--node', 'municipality-131016', '--db', dbs['municipality-131016']!, '--type', type, '--to', to, '--body', JSON.stringify(body)]);
    assert.equal(r.status, 0, r.stderr);
  };
  const resident = '10000000017';
  const at = new Date().toISOString();
  enqueue('identity.changed', 'prefecture-13', { residentCode: resident, municipality: '131016', version: 1, record: identityRecord(resident, '131016') });
  enqueue('card.status', 'prefecture-13', { cardNumber: 'MP-0001', status: 'active', issuer: '131016', version: 1, changedAt: at, residentCode: resident });

  const check = async () => {
    const res = await fetch(`${urls['agency-passport']}/agency-passport/check`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ residentCode: resident, cardNumber: 'MP-0001', affair: 'agency.passport-issuance' }),
    });
    return { status: res.status, body: (await res.json()) as { accepted?: boolean; source?: string; status?: string; record?: { name: { family: string } } } };
  };
  // Issued: the record reached the national center through the prefecture, and the agency gets it.
  const ok = await until('the agency to accept the card', check, (r) => r.status === 200);
  assert.equal(ok.body.record!.name.family, '山田');

  // Lost report: suspended (v2). The agency refuses the card, finally from its own notice list.
  enqueue('card.status', 'prefecture-13', { cardNumber: 'MP-0001', status: 'suspended', issuer: '131016', version: 2, changedAt: new Date().toISOString(), residentCode: resident });
  const refused = await until('the agency to hold the notice', check, (r) => r.status === 409 && r.body.source === 'notice-list');
  assert.deepEqual([refused.body.accepted, refused.body.status], [false, 'suspended']);
  const notices = (await (await fetch(`${urls['agency-passport']}/agency-passport/notices`)).json()) as { refused: { cardNumber: string }[] };
  assert.deepEqual(notices.refused.map((n) => n.cardNumber), ['MP-0001']);

  // The national center's own database (PostgreSQL in the storage run) holds the card's status and the record.
  const row = await nationalDb.db.selectFrom('net_card_status').select(['status', 'version']).where('card_number', '=', 'MP-0001').executeTakeFirst();
  assert.deepEqual(row, { status: 'suspended', version: 2 });
  const rec = await nationalDb.db.selectFrom('net_identity_records').select('municipality').where('resident_code', '=', resident).executeTakeFirst();
  assert.equal(rec?.municipality, '131016');
  // Nothing left undelivered at the municipality.
  const pending = juki(['net', 'pending', '--db', dbs['municipality-131016']!, '--json']);
  assert.equal(pending.status, 0, pending.stderr);
  const p = JSON.parse(pending.stdout) as { pending: unknown[]; dead: unknown[] };
  assert.deepEqual([p.pending.length, p.dead.length], [0, 0]);
});
