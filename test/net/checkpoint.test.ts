/**
 * Signed audit checkpoints sent to a peer catch a chain rewritten end to end: municipality-131016
 * signs its head and sends it (in-process, through the authoriser) to prefecture-13, which holds
 * it in its own audit log; the municipality's administrator then rewrites an entry and re-hashes
 * the whole chain and its head; verification against the held checkpoint fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from '../helpers/db.ts';
import { AuditLog, entryHash, verifyChain } from '../../src/audit/index.ts';
import {
  Gate, Inbox, InProcessNetwork, Outbox, SqlNetStore, createNetworkCa, heldCheckpoints, holdCheckpoint, issueNodeCertificate, signCheckpoint,
  verifyCheckpoint, type AuditCheckpointBody,
} from '../../src/net/index.ts';

test('a checkpoint signed with the node key, held by a peer, catches a consistently rewritten audit chain', async () => {
  const ca = await createNetworkCa();
  const m = await issueNodeCertificate(ca, { role: 'municipality', code: '131016' });
  const other = await issueNodeCertificate(ca, { role: 'municipality', code: '131024' });
  const mdb = await openTestDb();
  const pdb = await openTestDb();
  try {
    const mlog = new AuditLog(mdb, 'municipality-131016');
    for (let i = 0; i < 3; i++) await mlog.record({ type: 'seed.run', actor: { kind: 'system' }, subject: { kind: 'batch', id: `b${i}` }, details: { dataset: 'x', records: i } });
    const body = signCheckpoint(await mlog.checkpoint(), m.keyPem);
    assert.deepEqual(verifyCheckpoint(body, m.certPem, ca.certPem).seq, 3);
    assert.throws(() => verifyCheckpoint(body, other.certPem, ca.certPem), /names municipality-131016, but the certificate is municipality-131024's/);
    assert.throws(() => verifyCheckpoint({ ...body, seq: 2 }, m.certPem, ca.certPem), /does not verify/);

    // prefecture-13 receives it as a message and holds it.
    const plog = new AuditLog(pdb, 'prefecture-13');
    const pstore = new SqlNetStore(pdb);
    const inbox = new Inbox(pstore, 'prefecture-13', async (trx, e) => {
      if (e.type === 'audit.checkpoint') await holdCheckpoint(plog, trx, verifyCheckpointBody(e.body as AuditCheckpointBody));
    });
    const verifyCheckpointBody = (b: AuditCheckpointBody) => (verifyCheckpoint(b, m.certPem, ca.certPem), b);
    const net = new InProcessNetwork(ca.certPem);
    net.attach(new Gate({ self: { role: 'prefecture', code: '13' }, inbox }));
    const outbox = new Outbox(new SqlNetStore(mdb), 'municipality-131016');
    const env = await outbox.send({ type: 'audit.checkpoint', from: 'municipality-131016', to: 'prefecture-13', body });
    assert.equal(await net.connect(m.certPem).send(env), 'applied');
    const held = await heldCheckpoints(pdb.db, 'prefecture-13', 'municipality-131016');
    assert.equal(held.length, 1);
    assert.equal((await verifyChain(mdb.db, 'municipality-131016', { checkpoints: held })).ok, true);

    // The administrator rewrites entry 2 and re-hashes everything after it, head included.
    const rows = await mdb.db.selectFrom('audit_entries').selectAll().where('node_id', '=', 'municipality-131016').orderBy('seq').execute();
    let prev = rows[0]!.hash;
    for (const r of rows.slice(1)) {
      const e = { node: r.node_id, seq: Number(r.seq), at: r.at, type: r.event_type, actor: r.actor, subject: r.subject, outcome: r.outcome, reason: r.reason,
        details: Number(r.seq) === 2 ? '{"dataset":"forged","records":1}' : r.details, prevHash: prev };
      const hash = entryHash(e);
      await mdb.db.updateTable('audit_entries').set({ details: e.details, prev_hash: prev, hash }).where('node_id', '=', r.node_id).where('seq', '=', Number(r.seq)).execute();
      prev = hash;
    }
    await mdb.db.updateTable('audit_heads').set({ hash: prev }).where('node_id', '=', 'municipality-131016').execute();
    assert.equal((await verifyChain(mdb.db, 'municipality-131016')).ok, true, 'alone, the rewritten chain is self-consistent');
    const r = await verifyChain(mdb.db, 'municipality-131016', { checkpoints: held });
    assert.equal(r.ok, false);
    assert.equal(r.broken!.problem, 'checkpoint-mismatch');
  } finally {
    await mdb.close();
    await pdb.close();
  }
});
