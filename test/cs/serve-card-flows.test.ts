/**
 * `juki serve` card flows over the network (docs/counter.md "Card flows under juki serve"): in
 * this one process but each node as `juki serve` starts it (startNodes with the HTTPS network
 * plan: its own database, key store and Juki-net listener with mutual TLS on loopback), the
 * national center, the jpki node and the municipality CS of 131016 with a terminals file, plus a
 * `juki terminal` agent (serveTerminalHttps with a virtual reader and a scripted PIN pad, admitting
 * the CS only). A blank card is delivered and re-keyed through the remote terminal, personalised
 * with its JPKI area (basic-area keys from the remote national key service, the JPKI area by the
 * remote jpki relay step by step), the holder sets the PINs on the pad, the card is active.
 * Then the refusals: a terminal refuses a CS not its own; the national key service refuses an
 * agency's and a prefecture's certificate; the jpki relay refuses a non-municipality; bad input
 * on each new route is a precise 400 that changes nothing (no audit entry, no session).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Card, CARD_MODULES, cardIdOf, cardSerial, manufactureBlankCard, MemoryCardStore } from '../../src/card/index.ts';
import { onlyNode, terminalCredentials } from '../../src/cli/commands/terminal.ts';
import { ensurePki, type NetworkPki } from '../../src/cli/network.ts';
import { startNodes, type Runtime } from '../../src/cli/runtime.ts';
import { loadTerminals, parseTerminals } from '../../src/cli/terminals-file.ts';
import { SoftwareKeyStore } from '../../src/crypto/index.ts';
import {
  CARD_KEYS_PATH, CardKeyRequest, HttpsBasicKeyService, HttpsJpkiRelay, lotMasterKeyName, openCounter, readCardIdentity,
} from '../../src/cs/index.ts';
import { openDatabase, type Database } from '../../src/db/index.ts';
import { JPKI_RELAY_PATHS, JpkiAuthority, JpkiRelayService, jpkiInitialMaster, SoftwareSigningKeyStore } from '../../src/jpki/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { MemoryKeyStore } from '../../src/crypto/index.ts';
import { inProcessJpki } from '../../src/cs/index.ts';
import { loadTopology, mtlsJson, mtlsPool, type NodeSpec } from '../../src/net/index.ts';
import { VirtualReader } from '../../src/reader/index.ts';
import { HttpsTerminalClient, ScriptedPinPad, serveTerminalHttps, Terminal, type TerminalHttpsServer } from '../../src/terminal/index.ts';
import { JukiError, toHex } from '../../src/util/index.ts';
import { juki } from '../helpers/cli.ts';
import { existsSync } from 'node:fs';
import { ADMIN, resident } from './fixtures.ts';
import { freePort } from '../helpers/ports.ts';

const CODE = '131016';
const CS = `municipality-${CODE}`;
const TERMINAL = '131016-counter-1';
const READER = 'reader-1';
const HOLDER = '10000000001';
const PIN = '8642';
const JPKI_SIGN = 'AB12CD34';

const dir = mkdtempSync(join(tmpdir(), 'juki-serve-cards-'));
const runtimes: Runtime[] = [];
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  for (const r of runtimes.reverse()) await r.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

interface Net {
  pki: NetworkPki;
  addresses: Record<string, string>;
  muniUrl: string;
  reader: VirtualReader;
  pad: ScriptedPinPad;
  terminal: Terminal;
  agent: TerminalHttpsServer;
  staffKeys: Map<string, KeyObject>;
  dbs: { national: Database; jpki: Database; muni: Database };
  cards: Map<string, Card>;
}

async function startNetwork(): Promise<Net> {
  const ids = ['national', 'prefecture-13', CS, 'municipality-131024', 'agency-passport', 'jpki'];
  const ports = await Promise.all(ids.map(() => freePort()));
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `https://127.0.0.1:${ports[i]}`]));
  const topologyFile = join(dir, 'peers.json');
  writeFileSync(topologyFile, JSON.stringify({
    version: 1,
    nodes: [
      { role: 'national', address: addresses['national'] },
      { role: 'prefecture', code: '13', address: addresses['prefecture-13'] },
      { role: 'municipality', code: CODE, address: addresses[CS] },
      { role: 'municipality', code: '131024', address: addresses['municipality-131024'] },
      { role: 'agency', code: 'passport', address: addresses['agency-passport'] },
      { role: 'jpki', address: addresses['jpki'] },
    ],
  }));
  const topology = loadTopology(topologyFile);
  const pki = await ensurePki(join(dir, 'pki'), topology);
  const network = { kind: 'https' as const, pki, topology };
  const ks = (id: string) => join(dir, `ks-${id}`);
  const db = (id: string) => join(dir, `${id}.sqlite`);

  // The municipality's books before it serves: staff with operator-card key pairs, the terminal, a resident.
  const staffKeys = new Map<string, KeyObject>();
  {
    const database = await openDatabase(db(CS));
    const counter = openCounter(database, CODE);
    for (const [id, role, serial] of [['admin1', 'administrator', 'OPC0001'], ['keeper1', 'stock-keeper', 'OPC0002'], ['clerk1', 'clerk', 'OPC0003']] as const) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      staffKeys.set(id, privateKey);
      const input = { staffId: id, name: `staff ${id}`, cardSerial: serial, publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
      if (role === 'administrator') await counter.staff.enrollFirstAdministrator(input);
      else await counter.staff.enroll(ADMIN, { ...input, role });
    }
    await counter.terminals.register(ADMIN, { terminalId: TERMINAL, name: 'counter 1', reader: READER, pinPad: 'pad-1' });
    await counter.ctx.register.register(resident(HOLDER), { reason: 'entry', date: '2020-04-01' });
    await database.close();
  }

  // The maker's lot: the lot master handed over into the CS's key store, the JPKI initial set from the jpki side.
  const cards = new Map<string, Card>();
  {
    const csKeys = new SoftwareKeyStore(ks(CS));
    const jpkiKeys = new SoftwareKeyStore(ks('jpki'));
    const master = csKeys.secretKey(lotMasterKeyName('LOT1'), true);
    const jpkiInitial = jpkiInitialMaster(jpkiKeys);
    for (let i = 1; i <= 2; i++) {
      const serial = cardSerial(0x4a4b, 901, i);
      const store = new MemoryCardStore(cardIdOf(serial));
      manufactureBlankCard(store, { serial, transportMaster: { enc: master, mac: master, dek: master }, jpkiInitial: { master: jpkiInitial } });
      cards.set(toHex(serial), new Card({ store, types: CARD_MODULES }));
    }
    master.fill(0);
    csKeys.close();
    jpkiKeys.close();
  }

  // The terminal agent: its own certificate terminal-<id>, admitting the CS only.
  const reader = new VirtualReader(READER);
  const pad = new ScriptedPinPad();
  const terminal = new Terminal({ id: `terminal-${TERMINAL}`, readers: [reader], pinPad: pad });
  // As `juki terminal --pki DIR` gets it: nodes/terminal-<id>.crt, issued with ca.key on first start.
  const termCreds = await terminalCredentials({ pki: join(dir, 'pki') }, { role: 'terminal', code: TERMINAL });
  const agent = await serveTerminalHttps(terminal, { keyPem: termCreds.keyPem, certPem: termCreds.certPem, caPem: pki.caPem, authorisePeer: onlyNode(CS) });
  closers.push(async () => {
    await agent.close();
    await terminal.close();
  });
  const terminalsFile = join(dir, 'terminals.json');
  writeFileSync(terminalsFile, JSON.stringify({ version: 1, terminals: [{ id: TERMINAL, url: agent.url }] }));

  const start = async (spec: NodeSpec, id: string, extra: object = {}) => {
    const r = await startNodes([{ spec, db: db(id) }], { host: '127.0.0.1', port: 0, keystoreDir: ks(id), network, ...extra });
    runtimes.push(r);
    return r;
  };
  await start({ role: 'national' }, 'national');
  await start({ role: 'jpki' }, 'jpki');
  const muni = await start({ role: 'municipality', code: CODE }, CS, { terminals: loadTerminals(terminalsFile) });
  assert.ok(muni.notes.some((n) => n.includes(`${TERMINAL} at ${agent.url}`)), muni.notes.join('\n'));

  const dbs = { national: await openDatabase(db('national')), jpki: await openDatabase(db('jpki')), muni: await openDatabase(db(CS)) };
  closers.push(async () => {
    for (const d of Object.values(dbs)) await d.close();
  });
  return { pki, addresses, muniUrl: `${muni.url}/${CS}`, reader, pad, terminal, agent, staffKeys, dbs, cards };
}

const net = await startNetwork();

async function call(method: 'GET' | 'POST', path: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${net.muniUrl}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function signIn(staffId: string): Promise<string> {
  const c = await call('POST', '/login/challenge', undefined, { staffId });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const signature = sign('sha256', Buffer.from(c.body.challenge, 'base64'), { key: net.staffKeys.get(staffId)!, dsaEncoding: 'der' }).toString('base64');
  const r = await call('POST', '/login', undefined, { challengeId: c.body.challengeId, signature, terminalId: TERMINAL });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.token as string;
}

function put(serial: string): void {
  net.reader.remove();
  net.reader.insert(net.cards.get(serial)!);
}

async function auditRows(database: Database, type: string): Promise<{ actor: string; outcome: string | null; reason: string | null; details: string }[]> {
  return database.db.selectFrom('audit_entries').select(['actor', 'outcome', 'reason', 'details']).where('event_type', '=', type).orderBy('seq').execute();
}

async function auditCount(database: Database): Promise<number> {
  const r = await database.db.selectFrom('audit_entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** A client with another node's certificate, to the node `to`. */
function poolAs(as: NodeSpec, to: string) {
  return mtlsPool({ address: net.addresses[to]!, expect: to, caPem: net.pki.caPem, credentials: net.pki.credentials(as) });
}

test('[R3.1.1a] [R3.1.2e] [R3.1.2ka] juki serve: a municipality CS issues a card through its remote juki terminal, the national center\'s key service and the jpki relay, all over mutual TLS', async () => {
  const [serial] = [...net.cards.keys()] as [string];
  const keeper = await signIn('keeper1');
  const clerk = await signIn('clerk1');

  // Delivery: re-keyed through the remote terminal's reader before it enters the safe.
  put(serial);
  const lot = await call('POST', '/stock/lots', keeper, { lot: 'LOT1', transportKeyRef: 'LOT1', serials: [serial] });
  assert.equal(lot.status, 200, JSON.stringify(lot.body));
  assert.deepEqual(lot.body.results.map((x: { state: string }) => x.state), ['in-safe']);

  // Application, then personalisation with the JPKI area.
  assert.equal((await call('POST', '/stock/take-out', clerk, { terminalId: TERMINAL, serial })).status, 200);
  const app = await call('POST', '/applications', clerk, { kind: 'new', residentCode: HOLDER, terminalId: TERMINAL });
  assert.equal(app.status, 201, JSON.stringify(app.body));
  const iss = await call('POST', '/issuances', clerk, { applicationId: app.body.applicationId, serial, terminalId: TERMINAL, jpki: true });
  assert.equal(iss.status, 201, JSON.stringify(iss.body));
  assert.equal(iss.body.status, 'issued-awaiting-pin');
  const cardNumber = iss.body.cardNumber as string;

  // The card, read locally at the terminal: personalised under the issuer keys, its basic area waiting for the PIN.
  const id = await readCardIdentity(await net.terminal.relay(READER));
  await net.terminal.release(READER);
  assert.deepEqual([id.lifecycle, id.keys, id.basicArea, id.pin?.kind], ['personalised', 'issuer', 'present', 'not-set']);

  // The national center handed this card's keys to this CS only, wrapped, and audited it.
  const keys = await auditRows(net.dbs.national, 'net.card-keys.decided');
  assert.equal(keys.length, 1);
  assert.equal(keys[0]!.outcome, 'success');
  assert.deepEqual(JSON.parse(keys[0]!.details).by, CS);
  assert.equal(JSON.parse(keys[0]!.details).serial, serial);

  // The jpki node: a session started and finished for this CS; two certificates (auth, sign: the holder is an adult).
  const relay = await auditRows(net.dbs.jpki, 'jpki.relay.decided');
  const ops = relay.map((r) => [JSON.parse(r.details).operation, r.outcome]);
  assert.deepEqual(ops, [['personalise', 'success'], ['personalise-end', 'success']]);
  assert.ok(JSON.parse(relay[1]!.details).steps > 3);
  const certs = await net.dbs.jpki.db.selectFrom('jpki_certificates').select(['status']).execute();
  assert.deepEqual(certs.map((c) => c.status), ['good', 'good']);
  const jpkiRow = await net.dbs.muni.db.selectFrom('cs_card_jpki').selectAll().where('card_number', '=', cardNumber).executeTakeFirstOrThrow();
  assert.equal(jpkiRow.sign, 1);

  // The PINs on the remote pad (basic, JPKI auth, JPKI signature password): active.
  for (const entry of [PIN, PIN, PIN, PIN, JPKI_SIGN, JPKI_SIGN]) net.pad.type(entry);
  const pin = await call('POST', `/cards/${cardNumber}/pin`, clerk, { terminalId: TERMINAL, setBy: 'holder' });
  assert.equal(pin.status, 200, JSON.stringify(pin.body));
  assert.equal(pin.body.card.status, 'active');
  net.pad.type(PIN);
  assert.equal((await net.terminal.verifyPin(READER, 'basic')).kind, 'verified');
  await net.terminal.release(READER);

  // No PIN and no key in any audit entry of the three nodes.
  for (const d of Object.values(net.dbs)) {
    const all = JSON.stringify(await d.db.selectFrom('audit_entries').selectAll().execute());
    assert.ok(!all.includes(PIN) && !all.includes(JPKI_SIGN));
  }
});

test('a juki terminal admits its own CS only: another municipality\'s certificate is refused, touching nothing', async () => {
  const other = net.pki.credentials({ role: 'municipality', code: '131024' });
  const client = new HttpsTerminalClient({ url: net.agent.url, terminalId: TERMINAL, caPem: net.pki.caPem, certPem: other.certPem, keyPem: other.keyPem });
  try {
    await assert.rejects(client.readers(), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
    await assert.rejects(client.transmit(READER, Uint8Array.of(0x00, 0xa4, 0x04, 0x00)), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
  } finally {
    await client.close();
  }
  // And the CS's own certificate with a malformed APDU: a precise 400.
  const own = net.pki.credentials({ role: 'municipality', code: CODE });
  const pool = mtlsPool({ address: net.agent.url, expect: `terminal-${TERMINAL}`, caPem: net.pki.caPem, credentials: own });
  try {
    const bad = await mtlsJson(pool, 'terminal', { method: 'POST', path: `/terminal/v1/readers/${READER}/transmit`, body: { apdu: 'ZZ' } });
    assert.equal(bad.status, 400);
    assert.equal((bad.json as { code: string }).code, 'JUKI_ERR_INVALID_INPUT');
  } finally {
    await pool.close();
  }
});

test('the national key service refuses an agency\'s and a prefecture\'s certificate (deny by default, audited at the national center)', async () => {
  const before = (await auditRows(net.dbs.national, 'net.card-keys.decided')).length;
  const serial = Uint8Array.from(Buffer.from([...net.cards.keys()][1]!, 'hex'));
  for (const as of [{ role: 'agency', code: 'passport' }, { role: 'prefecture', code: '13' }] as const) {
    const svc = new HttpsBasicKeyService({ address: net.addresses['national']!, caPem: net.pki.caPem, credentials: net.pki.credentials(as) });
    const request = new CardKeyRequest(serial);
    try {
      await assert.rejects(svc.wrappedCardKeys(serial, request.publicKey), (e: JukiError) => e.code === 'JUKI_ERR_NET_CARD_KEYS_DENIED');
    } finally {
      request.dispose();
      await svc.close();
    }
  }
  const after = await auditRows(net.dbs.national, 'net.card-keys.decided');
  assert.deepEqual(after.slice(before).map((r) => [JSON.parse(r.details).by, r.outcome, r.reason]), [
    ['agency-passport', 'refused', 'JUKI_ERR_NET_CARD_KEYS_DENIED'],
    ['prefecture-13', 'refused', 'JUKI_ERR_NET_CARD_KEYS_DENIED'],
  ]);
});

test('the jpki relay refuses a non-municipality, for personalisation and revocation (audited at the jpki node)', async () => {
  const before = (await auditRows(net.dbs.jpki, 'jpki.relay.decided')).length;
  const relay = new HttpsJpkiRelay({ address: net.addresses['jpki']!, caPem: net.pki.caPem, credentials: net.pki.credentials({ role: 'agency', code: 'passport' }) });
  const transport = await net.terminal.relay(READER);
  const sent: Uint8Array[] = [];
  const watching = { atr: transport.atr, transmit: (a: Uint8Array) => (sent.push(a), transport.transmit(a)), close: () => transport.close() };
  try {
    await assert.rejects(relay.personalise(watching), (e: JukiError) => e.code === 'JUKI_ERR_JPKI_RELAY_DENIED');
    await assert.rejects(relay.revokeForCard([...net.cards.keys()][0]!, 'lost'), (e: JukiError) => e.code === 'JUKI_ERR_JPKI_RELAY_DENIED');
  } finally {
    await transport.close();
    await relay.close();
  }
  assert.equal(sent.length, 0, 'nothing reached the card');
  const rows = (await auditRows(net.dbs.jpki, 'jpki.relay.decided')).slice(before);
  assert.deepEqual(rows.map((r) => [JSON.parse(r.details).operation, JSON.parse(r.details).by, r.outcome]), [['personalise', 'agency-passport', 'refused'], ['revoke', 'agency-passport', 'refused']]);
  // The certificates are still good.
  const certs = await net.dbs.jpki.db.selectFrom('jpki_certificates').select(['status']).execute();
  assert.ok(certs.every((c) => c.status === 'good'));
});

test('bad input on the new routes: a precise 400 naming the field, nothing audited, no session opened; another node\'s session is not found', async () => {
  const me = { role: 'municipality', code: CODE } as const;
  const national = poolAs(me, 'national');
  const jpki = poolAs(me, 'jpki');
  const nBefore = await auditCount(net.dbs.national);
  const jBefore = await auditCount(net.dbs.jpki);
  try {
    const cases: [typeof national, string, string, unknown, string][] = [
      [national, 'national', CARD_KEYS_PATH, { serial: 'XYZ', ephemeralPublicKey: `04${'00'.repeat(64)}` }, 'serial'],
      [national, 'national', CARD_KEYS_PATH, { serial: '00'.repeat(10), ephemeralPublicKey: '05' }, 'ephemeralPublicKey'],
      [national, 'national', CARD_KEYS_PATH, { serial: '00'.repeat(10), ephemeralPublicKey: `04${'00'.repeat(64)}`, pin: '1234' }, 'body.pin'],
      [national, 'national', CARD_KEYS_PATH, 'not json', 'body'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.start, { holder: { name: 'x', sex: 'x', birthDate: '1980-01-15', address: 'a' } }, 'holder.sex'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.start, { holder: { name: 'x', sex: 'male', birthDate: '15/01/1980', address: 'a' } }, 'holder.birthDate'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.start, { extra: 1 }, 'body.extra'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.step.replace(':session', 'nope'), { response: '9000' }, 'session'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.step.replace(':session', 'a'.repeat(32)), { response: '9' }, 'response'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.revoke, { cardSerial: 'ABC', cause: 'stolen' }, 'cause'],
      [jpki, 'jpki', JPKI_RELAY_PATHS.revoke, { cardSerial: '', cause: 'lost' }, 'cardSerial'],
    ];
    for (const [pool, to, path, body, field] of cases) {
      const a = await mtlsJson(pool, to, { method: 'POST', path, body });
      assert.equal(a.status, 400, `${path} ${JSON.stringify(body)}: ${a.text}`);
      const j = a.json as { code: string; details: { field: string } };
      assert.equal(j.code, 'JUKI_ERR_INVALID_INPUT');
      assert.equal(j.details.field, field, a.text);
    }
    assert.equal(await auditCount(net.dbs.national), nBefore, 'nothing written at the national center');
    assert.equal(await auditCount(net.dbs.jpki), jBefore, 'nothing written at the jpki node');

    // A session started by this CS cannot be stepped by another municipality: "no such session".
    const started = await mtlsJson(jpki, 'jpki', { method: 'POST', path: JPKI_RELAY_PATHS.start, body: {} });
    assert.equal(started.status, 200, started.text);
    const session = (started.json as { session: string }).session;
    const other = poolAs({ role: 'municipality', code: '131024' }, 'jpki');
    try {
      const stolen = await mtlsJson(other, 'jpki', { method: 'POST', path: JPKI_RELAY_PATHS.step.replace(':session', session), body: { response: '9000' } });
      assert.equal(stolen.status, 404, stolen.text);
      assert.equal((stolen.json as { code: string }).code, 'JUKI_ERR_JPKI_RELAY_SESSION');
    } finally {
      await other.close();
    }
    // Its owner ends it with a card error (the card does not know the JPKI AP): 502 with the card's code, the session gone.
    const ended = await mtlsJson(jpki, 'jpki', { method: 'POST', path: JPKI_RELAY_PATHS.step.replace(':session', session), body: { response: '6A82' } });
    assert.ok(ended.status >= 400, ended.text);
    const again = await mtlsJson(jpki, 'jpki', { method: 'POST', path: JPKI_RELAY_PATHS.step.replace(':session', session), body: { response: '9000' } });
    assert.equal(again.status, 404, again.text);
  } finally {
    await national.close();
    await jpki.close();
  }
});

test('terminals file: each mistake refused naming the entry', () => {
  const ok = parseTerminals(JSON.stringify({ version: 1, terminals: [{ id: 'a-1', url: 'https://127.0.0.1:8394' }, { id: 'b', url: 'https://h.example:1' }], rekeyTerminal: 'b' }));
  assert.deepEqual([ok.terminals.map((t) => t.url), ok.rekeyTerminal], [['https://127.0.0.1:8394', 'https://h.example:1'], 'b']);
  assert.equal(parseTerminals(JSON.stringify({ version: 1, terminals: [{ id: 'a', url: 'https://x:1' }] })).rekeyTerminal, 'a');
  const bad: [unknown, string][] = [
    ['{', 'terminals.(file)'],
    [{ version: 2, terminals: [] }, 'terminals.version'],
    [{ version: 1, terminals: [] }, 'terminals.terminals'],
    [{ version: 1, terminals: [{ id: 'a b', url: 'https://x:1' }] }, 'terminals.terminals[0].id'],
    [{ version: 1, terminals: [{ id: 'a', url: 'http://x:1' }] }, 'terminals.terminals[0].url'],
    [{ version: 1, terminals: [{ id: 'a', url: 'https://x' }] }, 'terminals.terminals[0].url'],
    [{ version: 1, terminals: [{ id: 'a', url: 'https://x:1/path' }] }, 'terminals.terminals[0].url'],
    [{ version: 1, terminals: [{ id: 'a', url: 'https://x:1' }, { id: 'a', url: 'https://y:1' }] }, 'terminals.terminals[1].id'],
    [{ version: 1, terminals: [{ id: 'a', url: 'https://x:1', reader: 'r' }] }, 'terminals.terminals[0].reader'],
    [{ version: 1, terminals: [{ id: 'a', url: 'https://x:1' }], rekeyTerminal: 'z' }, 'terminals.rekeyTerminal'],
    [{ version: 1, terminals: [{ id: 'a', url: 'https://x:1' }], extra: true }, 'terminals.extra'],
  ];
  for (const [input, field] of bad) {
    assert.throws(() => parseTerminals(typeof input === 'string' ? input : JSON.stringify(input), 't.json'), (e: JukiError) => e.code === 'JUKI_ERR_INVALID_INPUT' && e.details['field'] === field, `${JSON.stringify(input)} → ${field}`);
  }
  assert.throws(() => loadTerminals(join(dir, 'no-such.json')), (e: JukiError) => e.code === 'JUKI_ERR_FILE');
  assert.ok(readFileSync(join(dir, 'terminals.json'), 'utf8').includes(TERMINAL));
});

test('the jpki relay\'s bounds: sessions at once, steps per session, the idle timeout (the session ends there, audited)', async () => {
  const database = await openDatabase(':memory:');
  const signing = SoftwareSigningKeyStore.inMemory();
  const audit = new AuditLog(database, 'jpki');
  const authority = await JpkiAuthority.open({ database, audit, keys: signing, baseUrl: 'http://jpki.juki.test/jpki' });
  const cards = inProcessJpki({ authority, hostKeys: new MemoryKeyStore() });
  const cs = { role: 'municipality', code: CODE };
  try {
    // One session at a time; the second is refused while the first is open.
    const bounded = new JpkiRelayService({ cards, audit, maxSessions: 1, maxSteps: 1 });
    const first = await bounded.start(cs, {});
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.match(String(first.body['command']), /^00A4040C/, 'SELECT the JPKI AP first');
    const second = await bounded.start(cs, {});
    assert.deepEqual([second.status, second.body['code']], [409, 'JUKI_ERR_JPKI_RELAY_SESSION']);
    // One step allowed: the second answer ends the session.
    const session = String(first.body['session']);
    const one = await bounded.step(cs, session, { response: '9000' });
    assert.equal(one.status, 200, JSON.stringify(one.body));
    const two = await bounded.step(cs, session, { response: '00'.repeat(28) + '9000' });
    assert.deepEqual([two.status, two.body['code']], [409, 'JUKI_ERR_JPKI_RELAY_SESSION']);
    assert.equal(bounded.openSessions, 0);
    // Idle too long: the session is gone, and its end audited.
    const idle = new JpkiRelayService({ cards, audit, idleTimeoutMs: 50 });
    const s = await idle.start(cs, {});
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(idle.openSessions, 0);
    const late = await idle.step(cs, String(s.body['session']), { response: '9000' });
    assert.deepEqual([late.status, late.body['code']], [404, 'JUKI_ERR_JPKI_RELAY_SESSION']);
    const ends = await database.db.selectFrom('audit_entries').select(['outcome', 'details']).where('event_type', '=', 'jpki.relay.decided').execute();
    assert.ok(ends.some((e) => e.outcome === 'refused' && JSON.parse(e.details).why.startsWith('expired')), JSON.stringify(ends));
    assert.equal(await authority.revokeForCard('ABC', 'lost').then((c) => c.length), 0, 'no certificate was issued by any of these sessions');
    bounded.close();
    idle.close();
  } finally {
    await signing.close();
    await database.close();
  }
});

test('juki serve --terminals: a municipality only, with --pki/--peers, and a bad file refused before anything is opened', () => {
  const notMuni = juki(['serve', '--role', 'national', '--terminals', join(dir, 'terminals.json')]);
  assert.equal(notMuni.status, 2, notMuni.stderr);
  assert.match(notMuni.stderr, /--terminals: only a municipality's CS drives counter terminals, not national/);
  const bad = join(dir, 'bad-terminals.json');
  writeFileSync(bad, JSON.stringify({ version: 1, terminals: [{ id: TERMINAL, url: 'http://127.0.0.1:8394' }] }));
  const db = join(dir, 'never.sqlite');
  const r = juki(['serve', '--role', 'municipality', '--code', CODE, '--db', db, '--pki', join(dir, 'pki'), '--peers', join(dir, 'peers.json'), '--terminals', bad, '--port', '0']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /terminals\[0\]\.url: expected https:\/\/host:port/);
  assert.equal(existsSync(db), false, 'no database opened');
});
