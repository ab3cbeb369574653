/**
 * One contract, three transports: in-process, HTTPS push over mutual TLS, NATS JetStream (a
 * real nats-server with TLS client certificates). The receiver is prefecture-13 with a real
 * inbox on a real database and its refusals in its audit log; the sender is municipality-131016.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { NatsConnection } from 'nats';
import { openTestDb } from '../helpers/db.ts';
import { AuditLog } from '../../src/audit/index.ts';
import type { Database } from '../../src/db/index.ts';
import {
  Gate, Inbox, InProcessNetwork, SqlNetStore, auditRefusals, createNetworkCa, encodeEnvelope, issueNodeCertificate,
  type Envelope, type NetworkCa, type NodeCredentials, type Refusal,
} from '../../src/net/index.ts';
import { HttpsTransport, MAX_BATCH, MESSAGE_BATCHES_PATH, startHttpsReceiver } from '../../src/net/transports/https.ts';
import { NatsTransport, connectNats, natsSubject, signedWire, startNatsReceiver } from '../../src/net/transports/nats.ts';
import { issueServiceCertificate } from '../../src/net/pki.ts';
import { mtlsPool } from '../../src/net/mtls.ts';
import { isJukiError } from '../../src/util/index.ts';
import { startNatsServer, type NatsServer } from './nats-server.ts';

/** Whose certificate the sender presents. */
type As = 'valid' | 'none' | 'foreign' | 'other-node' | 'bad-signature';

interface Fixture {
  /** Resolves once the receiver acknowledged; rejects with the refusal or failure. */
  deliver(e: Envelope, as?: As): Promise<void>;
  /** Deliver, retrying after failures the way the outbox would, until acknowledged. */
  deliverUntilAcked(e: Envelope): Promise<void>;
  close(): Promise<void>;
  /** NATS: connect to the server presenting no client certificate (must fail). */
  connectWithoutCertificate?: () => Promise<unknown>;
}

interface Pki {
  ca: NetworkCa;
  foreignCa: NetworkCa;
  m131016: NodeCredentials;
  m131024: NodeCredentials;
  foreign131016: NodeCredentials;
  p13: NodeCredentials;
}

class Receiver {
  readonly receipts: string[] = [];
  readonly refusals: Refusal[] = [];
  crashNext = false;
  readonly gate: Gate;
  constructor(readonly database: Database, readonly audit: AuditLog) {
    const inbox = new Inbox(new SqlNetStore(database), 'prefecture-13', async (trx, e) => {
      // `n` numbered explicitly: an integer primary key auto-increments on SQLite only.
      await sql`insert into t_effects (n, message_id) select coalesce(max(n), 0) + 1, ${e.id} from t_effects`.execute(trx);
    });
    this.gate = new Gate({
      self: { role: 'prefecture', code: '13' },
      inbox: {
        receive: async (e) => {
          const r = await inbox.receive(e);
          this.receipts.push(r);
          if (this.crashNext) {
            this.crashNext = false;
            this.receipts.push('crash');
            throw new Error('crashed after the commit, before the acknowledgement');
          }
          return r;
        },
      },
      onRefused: async (r) => {
        this.refusals.push(r);
        await auditRefusals(audit)(r);
      },
    });
  }
  async effects(): Promise<string[]> {
    return (await sql<{ message_id: string }>`select message_id from t_effects order by n`.execute(this.database.db)).rows.map((r) => r.message_id);
  }
  async audited(): Promise<string[]> {
    return (await this.audit.list()).filter((e) => e.type === 'net.message.refused').map((e) => `${e.actor} ${JSON.parse(e.details).why}`);
  }
}

let n = 0;
function status(card: string, seq: number, from = 'municipality-131016'): Envelope {
  return {
    v: 1, id: `msg-${process.pid}-${++n}`, type: 'card.status', from, to: 'prefecture-13', key: card, seq, createdAt: '2025-04-01T00:00:00.000Z',
    body: { cardNumber: card, status: seq % 2 ? 'active' : 'suspended', issuer: from.slice(-6), version: seq, changedAt: '2025-04-01T00:00:00.000Z' },
  };
}

function credsFor(pki: Pki, as: As): NodeCredentials | undefined {
  return as === 'none' ? undefined : as === 'foreign' ? pki.foreign131016 : as === 'other-node' ? pki.m131024 : pki.m131016;
}

async function retrying(fx: Fixture, e: Envelope): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await fx.deliver(e);
    } catch (err) {
      if (i >= 4 || !isJukiError(err, 'JUKI_ERR_NET_DELIVERY')) throw err;
    }
  }
}

/** An HTTPS receiver, and a transport per identity that delivers with `send` (single or batch route). */
async function httpsFixture(pki: Pki, rx: Receiver, send: (t: HttpsTransport, e: Envelope) => Promise<unknown>): Promise<Fixture> {
  const receiver = await startHttpsReceiver({ credentials: pki.p13, caPem: pki.ca.certPem, gate: rx.gate, onRefused: (r) => void rx.refusals.push(r) });
  const transports = new Map<As, HttpsTransport>();
  const fx: Fixture = {
    deliver: async (e, as = 'valid') => {
      if (as === 'bad-signature') throw new Error('not applicable');
      let t = transports.get(as);
      if (!t) {
        const creds = credsFor(pki, as);
        t = new HttpsTransport({ ...(creds ? { credentials: creds } : {}), caPem: pki.ca.certPem, addressOf: () => receiver.url, timeoutMs: 5000 });
        transports.set(as, t);
      }
      await send(t, e);
    },
    deliverUntilAcked: (e) => retrying(fx, e),
    close: async () => {
      for (const t of transports.values()) await t.close();
      await receiver.close();
    },
  };
  return fx;
}

const transports: Record<string, (pki: Pki, rx: Receiver) => Promise<Fixture>> = {
  'in-process': async (pki, rx) => {
    const network = new InProcessNetwork(pki.ca.certPem);
    network.attach(rx.gate);
    const fx: Fixture = {
      deliver: async (e, as = 'valid') => {
        if (as === 'bad-signature') throw new Error('not applicable');
        await network.connect(credsFor(pki, as)?.certPem).send(e);
      },
      deliverUntilAcked: (e) => retrying(fx, e),
      close: async () => {},
    };
    return fx;
  },
  https: (pki, rx) => httpsFixture(pki, rx, (t, e) => t.send(e)),
  // The same HTTPS receiver through its batch route (a batch of one: the per-message semantics
  // must be those of the single route; mixed batches are tested below).
  'https (batch route)': (pki, rx) => httpsFixture(pki, rx, async (t, e) => {
    const [r] = await t.sendBatch([e]);
    if (!r!.ok) throw r!.error;
  }),
  'NATS JetStream': async (pki, rx) => {
    const serverCert = await issueServiceCertificate(pki.ca, 'nats-server');
    const server: NatsServer = await startNatsServer({ ...serverCert, caPem: pki.ca.certPem });
    const conns: NatsConnection[] = [];
    try {
      const rxConn = await connectNats({ servers: server.url, caPem: pki.ca.certPem, credentials: pki.p13 });
      conns.push(rxConn);
      const txConn = await connectNats({ servers: server.url, caPem: pki.ca.certPem, credentials: pki.m131016 });
      conns.push(txConn);
      const waiters = new Map<string, { resolve: () => void; reject: (e: Error) => void; untilAck: boolean }>();
      const receiver = await startNatsReceiver({
        nc: rxConn, caPem: pki.ca.certPem, gate: rx.gate, retryMs: 50, ackWaitMs: 5000,
        onHandled: (id, outcome) => {
          const w = id === undefined ? undefined : waiters.get(id);
          if (!w) return;
          if (outcome === 'ack') w.resolve();
          else if (outcome === 'term') w.reject(Object.assign(new Error('refused: terminated'), { code: 'JUKI_ERR_NET_DENIED' }));
          else if (!w.untilAck) w.reject(Object.assign(new Error('not acknowledged'), { code: 'JUKI_ERR_NET_DELIVERY' }));
          if (outcome !== 'nak' || !w.untilAck) waiters.delete(id!);
        },
      });
      const transport = new NatsTransport(txConn, pki.m131016);
      const js = txConn.jetstream();
      const send = async (e: Envelope, as: As, untilAck: boolean): Promise<void> => {
        const done = new Promise<void>((resolve, reject) => waiters.set(e.id, { resolve, reject, untilAck }));
        done.catch(() => {}); // the receiver may answer before the publish acknowledgement returns
        let published: string;
        if (as === 'valid') published = await transport.send(e);
        else {
          const text = encodeEnvelope(e);
          const wire =
            as === 'none' ? text
            : as === 'bad-signature' ? JSON.stringify({ ...JSON.parse(signedWire(e, pki.m131016)), envelope: text.replace('"active"', '"abolished"') })
            : signedWire(e, credsFor(pki, as)!);
          await js.publish(natsSubject(e.to), wire, { msgID: `${e.id}-${as}` });
          published = 'queued';
        }
        if (published === 'duplicate') {
          waiters.delete(e.id);
          return;
        }
        await done;
      };
      return {
        deliver: (e, as = 'valid') => send(e, as, false),
        deliverUntilAcked: (e) => send(e, 'valid', true),
        connectWithoutCertificate: async () => {
          const c = await connectNats({ servers: server.url, caPem: pki.ca.certPem });
          conns.push(c);
          // The TLS handshake may complete before the server checks the certificate: a
          // connection it refuses fails at the first round trip.
          await c.flush();
          return c;
        },
        close: async () => {
          await receiver.close();
          for (const c of conns) await c.close();
          await server.stop();
        },
      };
    } catch (e) {
      for (const c of conns) await c.close().catch(() => {});
      await server.stop();
      throw e;
    }
  },
};

const pki: Pki = await (async () => {
  const ca = await createNetworkCa();
  const foreignCa = await createNetworkCa();
  return {
    ca, foreignCa,
    m131016: await issueNodeCertificate(ca, { role: 'municipality', code: '131016' }),
    m131024: await issueNodeCertificate(ca, { role: 'municipality', code: '131024' }),
    foreign131016: await issueNodeCertificate(foreignCa, { role: 'municipality', code: '131016' }),
    p13: await issueNodeCertificate(ca, { role: 'prefecture', code: '13' }),
  };
})();

for (const [name, make] of Object.entries(transports)) {
  describe(`transport contract: ${name}`, () => {
    let database: Database;
    let rx: Receiver;
    let fx: Fixture;
    before(async () => {
      database = await openTestDb();
      await sql`create table t_effects (n integer primary key, message_id text not null)`.execute(database.db);
      rx = new Receiver(database, new AuditLog(database, 'prefecture-13'));
      fx = await make(pki, rx);
    });
    after(async () => {
      await fx?.close();
      await database?.close();
    });
    const reset = async () => {
      await sql`delete from t_effects`.execute(database.db);
      rx.receipts.length = 0;
      rx.refusals.length = 0;
    };

    test('delivers a message, the receiver applies it and acknowledges', async () => {
      await reset();
      const e = status('D1', 1);
      await fx.deliver(e);
      assert.deepEqual(await rx.effects(), [e.id]);
      assert.deepEqual(rx.receipts, ['applied']);
    });

    test('after a crash between the inbox commit and the acknowledgement, the message is redelivered and applied once', async () => {
      await reset();
      const e = status('D2', 1);
      rx.crashNext = true;
      await fx.deliverUntilAcked(e);
      assert.deepEqual(rx.receipts, ['applied', 'crash', 'duplicate']);
      assert.deepEqual(await rx.effects(), [e.id]);
    });

    test('a duplicate is acknowledged and not applied again', async () => {
      await reset();
      const e = status('D3', 1);
      await fx.deliver(e);
      await fx.deliver(e);
      assert.deepEqual(await rx.effects(), [e.id]);
    });

    test('messages of one card are applied in sequence order whatever order they arrive in', async () => {
      await reset();
      const [e1, e2, e3] = [status('D4', 1), status('D4', 2), status('D4', 3)];
      await fx.deliver(e3!);
      await fx.deliver(e2!);
      assert.deepEqual(await rx.effects(), []);
      await fx.deliver(e1!);
      assert.deepEqual(await rx.effects(), [e1!.id, e2!.id, e3!.id]);
      assert.deepEqual(rx.receipts, ['held', 'held', 'applied']);
    });

    test('a peer with no certificate, or one from another CA, gets nothing and nothing is applied', async () => {
      await reset();
      for (const as of ['none', 'foreign'] as const) {
        await assert.rejects(fx.deliver(status('D5', 1), as));
      }
      if (name === 'NATS JetStream') {
        await assert.rejects(fx.deliver(status('D5', 1), 'bad-signature'), /refused/);
        // And without a client certificate the server does not even let a client connect.
        await assert.rejects(fx.connectWithoutCertificate!());
      }
      assert.deepEqual(await rx.effects(), []);
      assert.deepEqual(rx.receipts, [], 'the inbox never saw them');
      if (!name.startsWith('https')) {
        // (over HTTPS the TLS handshake itself refuses; see the next test for the audited path)
        assert.ok((await rx.audited()).some((l) => l.startsWith('system ')), 'refusals of unauthenticated peers are audited');
      }
    });

    test('a node claiming another node\'s identity in `from` is refused, audited, and nothing is applied', async () => {
      await reset();
      const e = status('D6', 1); // declared from municipality-131016
      await assert.rejects(fx.deliver(e, 'other-node'), (err: unknown) => /denied|refused|not the certificate's node|403/i.test(String((err as Error).message)) || isJukiError(err, 'JUKI_ERR_NET_DENIED'));
      assert.deepEqual(await rx.effects(), []);
      const audited = await rx.audited();
      assert.ok(audited.some((l) => l === `node:municipality-131024 the declared sender "municipality-131016" is not the certificate's node municipality-131024`), audited.join('\n'));
    });
  });
}

describe('HTTPS batch route: several messages in one request, each on its own', () => {
  let database: Database;
  let rx: Receiver;
  let receiver: Awaited<ReturnType<typeof startHttpsReceiver>>;
  let t: HttpsTransport;
  before(async () => {
    database = await openTestDb();
    await sql`create table t_effects (n integer primary key, message_id text not null)`.execute(database.db);
    rx = new Receiver(database, new AuditLog(database, 'prefecture-13'));
    receiver = await startHttpsReceiver({ credentials: pki.p13, caPem: pki.ca.certPem, gate: rx.gate });
    t = new HttpsTransport({ credentials: pki.m131016, caPem: pki.ca.certPem, addressOf: () => receiver.url, timeoutMs: 5000 });
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
    await database?.close();
  });

  test('a refused or malformed message is refused alone; the rest are applied in order, duplicates once', async () => {
    const [a1, a2, a3] = [status('B1', 1), status('B1', 2), status('B1', 3)];
    const b1 = status('B2', 1);
    const forged = status('B3', 1, 'municipality-131024'); // the certificate is municipality-131016's
    const malformed = { ...status('B4', 1), body: { cardNumber: 'B4', status: 'lost' } } as unknown as Envelope;
    await t.send(a1!);
    // a1 again (duplicate), a3 before a2 (held, then applied when a2 arrives in the same batch)
    const results = await t.sendBatch([a1!, a3!, forged, b1, malformed, a2!]);
    assert.deepEqual(results.map((r) => (r.ok ? r.ack : r.error.code)), ['duplicate', 'held', 'JUKI_ERR_NET_DENIED', 'applied', 'JUKI_ERR_INVALID_INPUT', 'applied']);
    assert.ok(results.every((r) => r.ok || r.error.details?.permanent === true), 'both refusals are permanent');
    assert.deepEqual(await rx.effects(), [a1!.id, b1.id, a2!.id, a3!.id]);
    const audited = await rx.audited();
    assert.ok(audited.some((l) => l.startsWith('node:municipality-131016 the declared sender "municipality-131024"')), audited.join('\n'));
  });

  test('a malformed batch is refused whole, permanently, and nothing is received', async () => {
    const before = (await rx.effects()).length;
    const tooMany = Array.from({ length: MAX_BATCH + 1 }, (_, i) => status('B5', i + 1));
    await assert.rejects(t.sendBatch(tooMany), /a batch holds/);
    const pool = mtlsPool({ address: receiver.url, expect: 'prefecture-13', caPem: pki.ca.certPem, credentials: pki.m131016 });
    try {
      for (const body of ['{"envelopes": "x"}', '{"envelopes": []}', 'not json', JSON.stringify({ envelopes: tooMany })]) {
        const res = await pool.request({ path: MESSAGE_BATCHES_PATH, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        assert.equal(res.statusCode, 400, body.slice(0, 40));
        assert.equal(((await res.body.json()) as { code: string }).code, 'JUKI_ERR_INVALID_INPUT');
      }
    } finally {
      await pool.close();
    }
    assert.equal((await rx.effects()).length, before);
  });
});
