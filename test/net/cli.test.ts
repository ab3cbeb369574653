import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { juki } from '../helpers/cli.ts';
import { tempSqlitePath } from '../helpers/db.ts';
import { openDatabase } from '../../src/db/index.ts';
import { DEFAULT_TOPOLOGY, Outbox, SqlNetStore, Inbox, peerIdentity, verifyNodeCertificate, type Envelope } from '../../src/net/index.ts';
import { JukiError } from '../../src/util/index.ts';

test('juki pki init makes the network CA and one certificate per node, keys readable by the owner only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-pki-'));
  try {
    const topo = join(dir, 'topology.json');
    writeFileSync(topo, JSON.stringify({ ...DEFAULT_TOPOLOGY, nodes: DEFAULT_TOPOLOGY.nodes.map((n, i) => (i === 0 ? { ...n, address: 'https://national.juki.test:8393' } : n)) }));
    const r = juki(['pki', 'init', '--topology', topo, '--out', join(dir, 'pki'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { ca: string; nodes: { id: string; cert: string; key: string }[] };
    assert.deepEqual(res.nodes.map((n) => n.id), ['national', 'prefecture-13', 'municipality-131016', 'municipality-131024', 'agency-passport', 'jpki']);
    const ca = readFileSync(res.ca, 'utf8');
    for (const n of res.nodes) {
      assert.equal(`${verifyNodeCertificate(readFileSync(n.cert, 'utf8'), ca).role}`, n.id.split('-')[0]);
      assert.equal(statSync(n.key).mode & 0o777, 0o600);
    }
    assert.equal(statSync(join(dir, 'pki', 'ca.key')).mode & 0o777, 0o600);
    assert.match(new X509Certificate(readFileSync(res.nodes[0]!.cert)).subjectAltName!, /DNS:national\.juki\.test/);
    assert.deepEqual(peerIdentity(readFileSync(res.nodes[2]!.cert, 'utf8')), { role: 'municipality', code: '131016' });
    const again = juki(['pki', 'init', '--topology', topo, '--out', join(dir, 'pki')]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /refusing to replace a network CA/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ version: 1, nodes: [{ role: 'national' }, { role: 'municipality', code: '141003' }] }));
    const refused = juki(['pki', 'init', '--topology', bad, '--out', join(dir, 'other')]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /topology\.nodes\[1\]: municipality 141003 needs its prefecture server/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('juki net pending lists undelivered, dead and held messages', async () => {
  const path = tempSqlitePath('net-pending');
  const database = await openDatabase(path);
  try {
    const store = new SqlNetStore(database);
    const outbox = new Outbox(store, 'municipality-131016');
    const body = (v: number) => ({ cardNumber: 'C1', status: 'active' as const, issuer: '131016', version: v, changedAt: '2025-04-01T00:00:00.000Z' });
    const a = await outbox.send({ type: 'card.status', from: 'municipality-131016', to: 'prefecture-13', body: body(1) });
    const b = await outbox.send({ type: 'card.status', from: 'municipality-131016', to: 'prefecture-13', body: body(2) });
    await outbox.claimDue();
    await outbox.failed(a.id, new Error('connect ECONNREFUSED'));
    await outbox.failed(b.id, new JukiError('JUKI_ERR_NET_DENIED', 'a municipality may not send', { permanent: true }));
    const inbox = new Inbox(store, 'municipality-131016', async () => {});
    const held: Envelope = { v: 1, id: 'h-2', type: 'card.returned', from: 'municipality-131024', to: 'municipality-131016', key: 'C9', seq: 2, createdAt: '2025-04-01T00:00:00.000Z', body: { cardNumber: 'C9', issuer: '131016', receivedBy: '131024', receivedAt: '2025-04-01T00:00:00.000Z' } };
    assert.equal(await inbox.receive(held), 'held');
  } finally {
    await database.close();
  }
  const r = juki(['net', 'pending', '--db', path]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^pending  card\.status municipality-131016 -> prefecture-13 C1#1 \(.+\)  attempts 1  next .+  last error: connect ECONNREFUSED$/);
  assert.match(lines[1]!, /^dead     card\.status municipality-131016 -> prefecture-13 C1#2 .+JUKI_ERR_NET_DENIED: a municipality may not send$/);
  assert.match(lines[2]!, /^held     card\.returned municipality-131024 -> municipality-131016 C9#2 \(h-2\)/);
  assert.equal(lines[3], '1 pending, 1 dead, 1 held');
  const j = JSON.parse(juki(['net', 'pending', '--db', path, '--json']).stdout);
  assert.deepEqual([j.pending.length, j.dead.length, j.held.length], [1, 1, 1]);
  rmSync(path, { force: true });
});
