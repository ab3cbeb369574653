/**
 * Per-node NATS permissions (docs/network.md, "NATS permissions"), against a real nats-server
 * running juki's own configuration (`natsServerConfig`, verify_and_map): every refusal below is
 * the server's, whatever the client does.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { openTestDb } from '../helpers/db.ts';
import { AuditLog } from '../../src/audit/index.ts';
import type { Database } from '../../src/db/index.ts';
import {
  Gate, Inbox, SqlNetStore, auditRefusals, createNetworkCa, issueNodeCertificate, parseTopology,
  type Envelope, type NetworkCa, type NodeCredentials, type Topology,
} from '../../src/net/index.ts';
import { natsPermissions, natsServerConfig } from '../../src/net/nats-config.ts';
import { NATS_STREAM, NatsTransport, connectNats, natsSubject, startNatsReceiver } from '../../src/net/transports/nats.ts';
import { issueServiceCertificate } from '../../src/net/pki.ts';
import { startNatsServer, type NatsServer } from './nats-server.ts';

const topology: Topology = parseTopology({
  version: 1,
  nodes: [
    { role: 'national' }, { role: 'prefecture', code: '13' }, { role: 'municipality', code: '131016' }, { role: 'municipality', code: '131024' },
  ],
});

let ca: NetworkCa;
let server: NatsServer;
const creds: Record<string, NodeCredentials> = {};
const conns: NatsConnection[] = [];

async function as(node: string): Promise<NatsConnection> {
  const nc = await connectNats({ servers: server.url, caPem: ca.certPem, credentials: creds[node]!, name: node });
  conns.push(nc);
  return nc;
}

/** Wait for the server's permission violation (nats.js rejects the call, or reports it on the connection). */
async function refused(nc: NatsConnection, what: string, attempt: () => Promise<unknown>): Promise<string> {
  let reported: string | undefined;
  const watch = (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && /permissions violation/i.test(String(s.data))) {
        reported = String(s.data);
        return;
      }
    }
  })();
  let outcome: string;
  try {
    await attempt();
    outcome = 'succeeded';
  } catch (e) {
    outcome = `${(e as { code?: string }).code ?? ''} ${(e as Error).message}`;
  }
  for (let i = 0; i < 40 && !reported && !/permissions violation/i.test(outcome); i++) await new Promise((r) => setTimeout(r, 25));
  void watch;
  const why = /permissions violation/i.test(outcome) ? outcome : reported;
  assert.ok(why, `${what}: expected the server's permissions violation, got ${outcome}`);
  return why!;
}

let n = 0;
function status(card: string, from: string, to: string, seq = 1): Envelope {
  return {
    v: 1, id: `perm-${process.pid}-${++n}`, type: 'card.status', from, to, key: card, seq, createdAt: '2025-04-01T00:00:00.000Z',
    body: { cardNumber: card, status: 'active', issuer: from.slice(-6), version: seq, changedAt: '2025-04-01T00:00:00.000Z' },
  };
}

describe('NATS permissions per node (nats-server with juki pki nats-config)', () => {
  let db: Database;

  before(async () => {
    ca = await createNetworkCa();
    for (const node of topology.nodes) creds[node.id] = await issueNodeCertificate(ca, node.spec);
    const serverCert = await issueServiceCertificate(ca, 'nats-server');
    server = await startNatsServer({ ...serverCert, caPem: ca.certPem }, (f) => natsServerConfig({ topology, ...f, host: '127.0.0.1' }));
    db = await openTestDb();
  });

  after(async () => {
    for (const c of conns) await c.close().catch(() => {});
    await server?.stop();
    await db?.close();
  });

  test('the configuration maps each node certificate to a user allowed only its own consumer', () => {
    const p = natsPermissions(topology, 'municipality-131024');
    assert.ok(p.publish.allow.includes('juki.net.prefecture-13'));
    assert.ok(!p.publish.allow.includes('juki.net.municipality-131024'));
    assert.ok(p.publish.allow.includes('$JS.API.CONSUMER.MSG.NEXT.JUKI_NET.municipality-131024'));
    assert.ok(!p.publish.allow.some((s) => s.includes('prefecture-13') && s.startsWith('$JS')));
    assert.ok(!p.publish.allow.some((s) => s.includes('DELETE') || s.includes('PURGE') || s.includes('UPDATE')));
    assert.ok(!p.publish.allow.includes('$JS.API.STREAM.CREATE.JUKI_NET'), 'only the national center creates the stream');
    assert.ok(natsPermissions(topology, 'national').publish.allow.includes('$JS.API.STREAM.CREATE.JUKI_NET'));
    assert.deepEqual(p.subscribe.allow, ['_INBOX_municipality-131024.>']);
  });

  test('a node other than the stream creator cannot create the stream; the national center can', async () => {
    const m = await as('municipality-131016');
    const jsm = await m.jetstreamManager();
    await refused(m, 'stream create by a municipality', () => jsm.streams.add({ name: NATS_STREAM, subjects: ['juki.net.>'] }));
    // The national center's receiver creates it (and its own consumer).
    const nat = await as('national');
    const r = await startNatsReceiver({ nc: nat, caPem: ca.certPem, gate: new Gate({ self: { role: 'national' }, inbox: { receive: async () => 'applied' } }) });
    await r.close();
    const info = await (await (await as('national')).jetstreamManager()).streams.info(NATS_STREAM);
    assert.equal(info.config.retention, 'workqueue');
  });

  test('A sends to B; A cannot subscribe to B\'s subject, create or pull from B\'s consumer, listen to B\'s replies or delete the stream; B alone gets the message', async () => {
    const A = 'municipality-131016';
    const B = 'prefecture-13';
    const ncB = await as(B);
    // B's durable consumer exists before anything is sent (its receiver made it; stopped again).
    const applied: string[] = [];
    const audit = new AuditLog(db, B);
    const inbox = new Inbox(new SqlNetStore(db), B, async (_trx, e) => void applied.push(e.id));
    const gate = new Gate({ self: { role: 'prefecture', code: '13' }, inbox, onRefused: auditRefusals(audit) });
    await (await startNatsReceiver({ nc: ncB, caPem: ca.certPem, gate })).close();

    // A can send to B: JetStream stores it.
    const ncA = await as(A);
    const message = status('C0001', A, B);
    assert.equal(await new NatsTransport(ncA, creds[A]!).send(message), 'queued');

    // Everything A might try to read it with is refused by the server.
    const jsA = ncA.jetstream();
    const jsmA = await ncA.jetstreamManager();
    const attempts: [string, () => Promise<unknown>][] = [
      ['subscribe to juki.net.B', async () => {
        const sub = ncA.subscribe(natsSubject(B));
        for await (const _ of sub) break;
      }],
      ['subscribe to B\'s replies', async () => {
        const sub = ncA.subscribe(`_INBOX_${B}.>`);
        for await (const _ of sub) break;
      }],
      ['subscribe to every reply', async () => {
        const sub = ncA.subscribe('_INBOX.>');
        for await (const _ of sub) break;
      }],
      ['pull from B\'s consumer', async () => (await jsA.consumers.get(NATS_STREAM, B)).next({ expires: 1000 })],
      ['pull from B\'s consumer by raw request', () => ncA.request(`$JS.API.CONSUMER.MSG.NEXT.${NATS_STREAM}.${B}`, new TextEncoder().encode('{"batch":1}'), { timeout: 1000 })],
      ['create B\'s consumer', () => jsmA.consumers.add(NATS_STREAM, { durable_name: B, filter_subject: natsSubject(B), ack_policy: 'explicit' as never })],
      ['create a consumer of its own on B\'s subject', () => jsmA.consumers.add(NATS_STREAM, { durable_name: A, filter_subject: natsSubject(B), ack_policy: 'explicit' as never })],
      ['create an unfiltered consumer of its own', () => jsmA.consumers.add(NATS_STREAM, { durable_name: A, ack_policy: 'explicit' as never })],
      ['delete B\'s consumer', () => jsmA.consumers.delete(NATS_STREAM, B)],
      ['delete the stream', () => jsmA.streams.delete(NATS_STREAM)],
      ['purge the stream', () => jsmA.streams.purge(NATS_STREAM)],
    ];
    for (const [what, attempt] of attempts) {
      const why = await refused(ncA, what, attempt);
      assert.match(why, /permissions violation/i, what);
    }

    // The message is still there, for B only: B's receiver applies it once.
    const acked = new Promise<void>((resolve) => {
      void startNatsReceiver({ nc: ncB, caPem: ca.certPem, gate, onHandled: (id, outcome) => { if (id === message.id && outcome === 'ack') resolve(); } }).then((r) => receivers.push(r));
    });
    const receivers: { close(): Promise<void> }[] = [];
    await acked;
    for (const r of receivers) await r.close();
    assert.deepEqual(applied, [message.id]);
    const info = await (await (await as('national')).jetstreamManager()).streams.info(NATS_STREAM);
    assert.equal(info.state.messages, 0, 'acknowledged by B: nothing left in the work queue');
  });

  test('a certificate naming no node of the topology maps to no user and cannot connect', async () => {
    const stranger = await issueNodeCertificate(ca, { role: 'municipality', code: '271004' });
    await assert.rejects(connectNats({ servers: server.url, caPem: ca.certPem, credentials: stranger }).then((c) => { conns.push(c); return c.flush(); }), /authorization|authentication/i);
  });
});
