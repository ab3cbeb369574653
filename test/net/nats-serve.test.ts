/**
 * `juki serve --transport nats`: four `juki serve` processes whose Juki-net messages travel over
 * a real nats-server run with the configuration `juki pki nats-config` wrote (per-node
 * permissions, verify_and_map). A municipality started before the server keeps its message
 * pending, with the reason in `juki net pending`, and delivers it once the server is up; the
 * identity-record query of the agency desk stays on HTTPS.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { connectNats, NATS_STREAM } from '../../src/net/index.ts';
import { juki, startJuki, stop } from '../helpers/cli.ts';
import { parseNatsUrl, serveCommand } from '../../src/cli/commands/serve.ts';
import type { JukiError } from '../../src/util/index.ts';
import { tempSqlitePath } from '../helpers/db.ts';
import { identityRecord } from './harness.ts';
import { startNatsServer, type NatsServer } from './nats-server.ts';
import { freePort } from '../helpers/ports.ts';

async function until<T>(what: string, ask: () => Promise<T> | T, done: (v: T) => boolean, deadlineMs = 90_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await ask();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last answer ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'juki-nats-serve-'));
let server: NatsServer | undefined;
after(async () => {
  for (const c of children) await stop(c);
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('juki serve --transport nats: usage errors are precise, before anything starts', async () => {
  const run = (values: Record<string, unknown>) => serveCommand.run({ values: { transport: 'https', host: '127.0.0.1', json: false, ...values }, positionals: [], stdout: process.stdout, stderr: process.stderr } as never);
  await assert.rejects(run({ role: 'national', transport: 'nats' }), (e: JukiError) => e.code === 'JUKI_ERR_USAGE' && /--transport nats: give the server with --nats tls:\/\/host:port/.test(e.message));
  await assert.rejects(run({ role: 'national', transport: 'amqp' }), (e: JukiError) => e.code === 'JUKI_ERR_USAGE' && /--transport: expected https or nats, got "amqp"/.test(e.message));
  await assert.rejects(run({ role: 'national', transport: 'nats', nats: 'tls://127.0.0.1:4222' }), (e: JukiError) => e.code === 'JUKI_ERR_USAGE' && /--pki DIR and --peers FILE/.test(e.message));
  await assert.rejects(run({ role: 'national', nats: 'tls://127.0.0.1:4222' }), (e: JukiError) => e.code === 'JUKI_ERR_USAGE' && /--nats: only with --transport nats/.test(e.message));
  await assert.rejects(run({ role: 'agency', code: 'passport', desks: 'desks.json' }), (e: JukiError) => e.code === 'JUKI_ERR_USAGE' && /--desks: needs the node certificate and the peers/.test(e.message));
  for (const bad of ['nats://127.0.0.1:4222', 'tls://127.0.0.1', 'tls://u:p@127.0.0.1:4222', 'tls://127.0.0.1:4222/x', 'not a url']) {
    assert.throws(() => parseNatsUrl(bad), (e: JukiError) => e.code === 'JUKI_ERR_USAGE' && /--nats: expected tls:\/\/host:port/.test(e.message), bad);
  }
  assert.equal(parseNatsUrl('tls://nats.example:4222'), 'tls://nats.example:4222');
});

test('[R3.2.1u] [R3.2.1e] [R3.2.1o] juki serve over NATS JetStream: pending while the server is down, then delivered through every hop; queries stay on HTTPS', async () => {
  const ids = ['national', 'prefecture-13', 'municipality-131016', 'agency-passport'];
  const ports = await Promise.all(ids.map(() => freePort()));
  const topology = {
    version: 1,
    nodes: [
      { role: 'national', address: `https://127.0.0.1:${ports[0]}` },
      { role: 'prefecture', code: '13', address: `https://127.0.0.1:${ports[1]}` },
      { role: 'municipality', code: '131016', address: `https://127.0.0.1:${ports[2]}` },
      { role: 'agency', code: 'passport', address: `https://127.0.0.1:${ports[3]}` },
    ],
  };
  const peers = join(dir, 'peers.json');
  writeFileSync(peers, JSON.stringify(topology));
  const pki = join(dir, 'pki');
  const init = juki(['pki', 'init', '--topology', peers, '--out', pki, '--json']);
  assert.equal(init.status, 0, init.stderr);
  const natsPort = await freePort();
  const conf = join(dir, 'nats.conf');
  const made = juki(['pki', 'nats-config', '--pki', pki, '--topology', peers, '--out', conf, '--port', String(natsPort), '--store', join(dir, 'js'), '--json']);
  assert.equal(made.status, 0, made.stderr);
  assert.match(readFileSync(conf, 'utf8'), /verify_and_map: true/);
  const natsUrl = `tls://127.0.0.1:${natsPort}`;
  const dbs: Record<string, string> = Object.fromEntries(ids.map((id) => [id, tempSqlitePath(id)]));
  const urls: Record<string, string> = {};
  const serve = async (id: string) => {
    const [role, code] = id.includes('-') ? [id.slice(0, id.indexOf('-')), id.slice(id.indexOf('-') + 1)] : [id, undefined];
    const { child, match } = await startJuki(
      ['serve', '--role', role!, ...(code ? ['--code', code] : []), '--db', dbs[id]!, '--pki', pki, '--peers', peers, '--transport', 'nats', '--nats', natsUrl, '--port', '0', '--keystore', join(dir, `ks-${id}`), '--json'],
      /^\{"url":"([^"]+)"/,
    );
    children.push(child);
    urls[id] = match[1]!;
  };

  // Every node starts while nats-server is down: the municipality's messages stay pending, saying why.
  await Promise.all(ids.map(serve));
  const enqueue = (type: string, to: string, body: unknown) => {
    const r = juki(['net', 'enqueue', '--node', 'municipality-131016', '--db', dbs['municipality-131016']!, '--type', type, '--to', to, '--body', JSON.stringify(body)]);
    assert.equal(r.status, 0, r.stderr);
  };
  const resident = '10000000017';
  enqueue('identity.changed', 'prefecture-13', { residentCode: resident, municipality: '131016', version: 1, record: identityRecord(resident, '131016') });
  enqueue('card.status', 'prefecture-13', { cardNumber: 'NATS-0001', status: 'active', issuer: '131016', version: 1, changedAt: new Date().toISOString(), residentCode: resident });
  const pending = () => JSON.parse(juki(['net', 'pending', '--db', dbs['municipality-131016']!, '--json']).stdout) as { pending: { lastError: string | null }[]; dead: unknown[] };
  const waiting = await until('the outbox to record the failed attempt', pending, (p) => p.pending.length === 2 && p.pending.every((m) => m.lastError !== null));
  assert.match(waiting.pending[0]!.lastError!, new RegExp(`nats: ${natsUrl.replace(/[.]/g, '\\.')}: not connected`));
  assert.equal(waiting.dead.length, 0);
  // /healthz says so: 503, degraded, the NATS link not connected and why.
  const health = async () => {
    const res = await fetch(`${urls['municipality-131016']}/healthz`);
    return { status: res.status, body: (await res.json()) as { status: string; nodes: { transport?: string; connected?: boolean; lastError?: string }[] } };
  };
  const down = await health();
  assert.equal(down.status, 503);
  assert.equal(down.body.status, 'degraded');
  assert.equal(down.body.nodes[0]!.transport, 'nats');
  assert.equal(down.body.nodes[0]!.connected, false);
  assert.ok(down.body.nodes[0]!.lastError);

  // The server comes up with juki's configuration; the nodes connect (retrying with backoff).
  const cert = { certPem: readFileSync(join(pki, 'nats-server.crt'), 'utf8'), keyPem: readFileSync(join(pki, 'nats-server.key'), 'utf8'), caPem: readFileSync(join(pki, 'ca.crt'), 'utf8') };
  server = await startNatsServer(cert, () => readFileSync(conf, 'utf8'), { port: natsPort });

  const check = async () => {
    const res = await fetch(`${urls['agency-passport']}/agency-passport/check`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ residentCode: resident, cardNumber: 'NATS-0001', affair: 'agency.passport-issuance' }),
    });
    return { status: res.status, body: (await res.json()) as { accepted?: boolean; source?: string; status?: string } };
  };
  await until('the agency to accept the card (record via NATS, query via HTTPS)', check, (r) => r.status === 200);
  assert.deepEqual((await until('the municipality to consume', health, (h) => h.status === 200)).body, { status: 'ok', nodes: [{ id: 'municipality-131016', transport: 'nats', connected: true }] });
  enqueue('card.status', 'prefecture-13', { cardNumber: 'NATS-0001', status: 'suspended', issuer: '131016', version: 2, changedAt: new Date().toISOString(), residentCode: resident });
  const refused = await until('the agency to hold the notice', check, (r) => r.status === 409 && r.body.source === 'notice-list');
  assert.equal(refused.body.status, 'suspended');
  assert.deepEqual(await until('the outbox to drain', pending, (p) => p.pending.length === 0), { pending: [], dead: [], held: [] });

  // It went through JetStream: each receiver's durable consumer delivered and acknowledged.
  const nc = await connectNats({ servers: natsUrl, caPem: cert.caPem, credentials: { certPem: readFileSync(join(pki, 'nodes', 'national.crt'), 'utf8'), keyPem: readFileSync(join(pki, 'nodes', 'national.key'), 'utf8') } });
  try {
    const info = await (await nc.jetstreamManager()).consumers.info(NATS_STREAM, 'national');
    assert.ok(info.delivered.stream_seq > 0, 'the national center consumed from JetStream');
    assert.equal(info.num_pending + info.num_ack_pending, 0);
  } finally {
    await nc.close();
  }
});
