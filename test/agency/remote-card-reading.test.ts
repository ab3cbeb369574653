/**
 * Agency card reading under `juki serve` (R4.2.1 over HTTPS, docs/network.md "Agency card reading
 * under juki serve"): the agency's desk is a `juki terminal` served over mutual TLS; the agency
 * drives its PIN steps with its own certificate; it asks the national center (POST
 * /juki-net/v1/card-reads on the national Juki-net listener) to read the card; the national
 * center connects to the terminal with its own certificate, admitted to the relay only, and
 * reads the basic area under its channel. All on real HTTPS on loopback, wired by prepareNodeNet
 * exactly as `juki serve --desks FILE` wires it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { juki, startJuki, stop } from '../helpers/cli.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { prepareNodeNet, type NetworkPki, type StartedNodeNet } from '../../src/cli/network.ts';
import { parseDesks } from '../../src/cli/desks-file.ts';
import { terminalPeers } from '../../src/cli/terminal-peers.ts';
import { onCardNumber, personaliseCard } from '../../src/cs/index.ts';
import type { Database } from '../../src/db/index.ts';
import {
  HttpsCardReadingClient, createNetworkCa, issueNodeCertificate, nodeId, parseTopology, recordIdentity,
  type CardRelay, type NetworkCa, type NodeCredentials, type NodeSpec,
} from '../../src/net/index.ts';
import { mtlsJson, mtlsPool } from '../../src/net/mtls.ts';
import { InProcessTransport, VirtualReader } from '../../src/reader/index.ts';
import { HttpsTerminalClient, PIN_APPLICATIONS, ScriptedPinPad, selectApplication, Terminal, serveTerminalHttps, type TerminalAgentApi, type TerminalHttpsServer } from '../../src/terminal/index.ts';
import type { JukiError } from '../../src/util/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { identityRecord } from '../net/harness.ts';
import { ascii, counter, hexOf } from '../cs/card-flows-fixture.ts';
import { freePort } from '../helpers/ports.ts';

const ALICE = '10000000017';
const PIN = '4821';
const AFFAIR = 'agency.passport-issuance';
const TERMINAL = 'terminal-passport-desk-1';

describe('agency card reading through a remote terminal (HTTPS, mutual TLS)', () => {
  let ca: NetworkCa;
  const creds = new Map<string, NodeCredentials>();
  let foreign: NodeCredentials;
  let pad: ScriptedPinPad;
  let terminal: Terminal;
  let served: TerminalHttpsServer;
  let national: StartedNodeNet;
  let agency: StartedNodeNet;
  let nationalDb: Database;
  let agencyDb: Database;
  let cardNumber: string;
  let nationalUrl: string;
  const clients: { close(): Promise<void> }[] = [];
  let transmits = 0;

  const cred = (id: string) => creds.get(id)!;
  const nationalAudit = async () => (await new AuditLog(nationalDb, 'national').list({ limit: 1000 })).filter((e) => e.type === 'net.card.read');

  before(async () => {
    const [pn, pa, pp] = [await freePort(), await freePort(), await freePort()];
    const topology = parseTopology({
      version: 1,
      nodes: [
        { role: 'national', address: `https://127.0.0.1:${pn}` }, { role: 'prefecture', code: '13', address: `https://127.0.0.1:${pp}` },
        { role: 'municipality', code: '131016' }, { role: 'agency', code: 'passport', address: `https://127.0.0.1:${pa}` }, { role: 'agency', code: 'pension' },
      ],
    });
    nationalUrl = `https://127.0.0.1:${pn}`;
    ca = await createNetworkCa();
    const specs: NodeSpec[] = [...topology.nodes.map((n) => n.spec), { role: 'terminal', code: 'passport-desk-1' }];
    for (const spec of specs) creds.set(nodeId(spec), await issueNodeCertificate(ca, spec));
    foreign = await issueNodeCertificate(await createNetworkCa(), { role: 'national' });
    const pki: NetworkPki = { dir: '(memory)', caPem: ca.certPem, credentials: (spec) => cred(nodeId(spec)) };

    // The card: personalised with the basic-area keys of the national center's key store; the holder set the PIN.
    const c = counter();
    const made = await c.rekeyedCard();
    cardNumber = `131016-${hexOf(made.serial)}`;
    await personaliseCard(new InProcessTransport(made.card, { powerOffOnClose: false }), c.plan({
      residentCode: ALICE, cardNumber: onCardNumber(hexOf(made.serial)), municipality: '131016', issued: '20250401', expires: '20350331', faceRecord: ascii('FACE:test'),
    }));
    made.card.powerOff();
    const reader = new VirtualReader('desk-1');
    reader.insert(made.card);
    pad = new ScriptedPinPad();
    terminal = new Terminal({ id: TERMINAL, readers: [reader], pinPad: pad });
    pad.type(PIN);
    pad.type(PIN);
    assert.deepEqual(await terminal.setPin('desk-1', 'basic'), { kind: 'set' });
    await terminal.release('desk-1');

    // The desk's `juki terminal`: the agency drives it, the national center is admitted to the relay.
    const t = cred(TERMINAL);
    // What the `juki terminal` serves: the agent, counting the APDUs it relays to the card.
    const t0 = terminal;
    const counted: TerminalAgentApi = {
      terminalId: t0.terminalId,
      readers: () => t0.readers(),
      connect: (r) => t0.connect(r),
      transmit: (r, a) => {
        transmits++;
        return t0.transmit(r, a);
      },
      setPin: (r, a, p) => t0.setPin(r, a, p),
      verifyPin: (r, a, p) => t0.verifyPin(r, a, p),
      operatorLogin: (r, c) => t0.operatorLogin(r, c),
      release: (r) => t0.release(r),
    };
    served = await serveTerminalHttps(counted, { certPem: t.certPem, keyPem: t.keyPem, caPem: ca.certPem, authorisePeer: terminalPeers('agency-passport', ['national']) });
    const desks = parseDesks(JSON.stringify({ version: 1, desks: [{ agency: 'agency-passport', terminal: 'passport-desk-1', url: served.url, reader: 'desk-1' }] }), 'desks.json', topology);
    const plan = { kind: 'https' as const, pki, topology, desks };

    nationalDb = await openTestDb();
    agencyDb = await openTestDb();
    national = prepareNodeNet(plan, { role: 'national' }, nationalDb, { keyStore: c.national, autoRelay: false });
    agency = prepareNodeNet(plan, { role: 'agency', code: 'passport' }, agencyDb, { autoRelay: false });
    await national.start({});
    await agency.start({});
    // The national center holds Alice's identity record (as the prefecture would have forwarded it).
    await nationalDb.db.transaction().execute((trx) => recordIdentity(trx, { residentCode: ALICE, municipality: '131016', version: 1, record: identityRecord(ALICE, '131016') } as never, new Date().toISOString()));
  });

  after(async () => {
    for (const cl of clients) await cl.close().catch(() => {});
    await agency?.close();
    await national?.close();
    await served?.close();
    await terminal?.close();
    await nationalDb?.close();
    await agencyDb?.close();
  });

  test('[R4.2.1] over HTTPS: the PIN on the desk\'s pad locally, the national center reads the resident code through the remote relay, audited at the national center', async () => {
    const cards = agency.net.agency!.cards!;
    assert.ok(cards, 'the agency has its desk from --desks');
    pad.type(PIN);
    const r = await cards.verify(AFFAIR);
    assert.equal(r.accepted, true, JSON.stringify(r));
    assert.deepEqual(r.steps.map((s) => s.step), ['pin', 'read', 'notices', 'record']);
    if (r.accepted) {
      assert.equal(r.card.residentCode, ALICE);
      assert.equal(r.card.cardNumber, cardNumber);
      assert.equal(r.record.residentCode, ALICE);
    }
    assert.ok(!JSON.stringify(r.steps).includes(PIN));
    const reads = await nationalAudit();
    const last = reads.at(-1)!;
    assert.equal(last.outcome, 'success');
    assert.equal(last.actor, 'node:agency-passport');
    assert.deepEqual([JSON.parse(last.details).terminal, JSON.parse(last.details).card], [TERMINAL, cardNumber]);
  });

  test('[R4.2.1] without the PIN verified on the pad, the remote read gets nothing (the card answers 69 82)', async () => {
    await terminal.release('desk-1');
    assert.equal(await selectApplication(await terminal.localTransport('desk-1'), PIN_APPLICATIONS.basic.aid), 0x9000, 'the basic area selected, no PIN');
    const reading = new HttpsCardReadingClient({ credentials: cred('agency-passport'), caPem: ca.certPem, addressOf: () => nationalUrl });
    clients.push(reading);
    await assert.rejects(reading.read('national', { affair: AFFAIR, relay: { terminalId: TERMINAL } as CardRelay, reader: 'desk-1' }), (e: JukiError) => e.code === 'JUKI_ERR_CARD_STATUS' && /6982/.test(e.message));
    await terminal.release('desk-1');
    assert.equal((await nationalAudit()).at(-1)!.outcome, 'error');
  });

  test('[R4.2.1] the terminal refuses an unknown certificate, and admits the national center to the relay only: PIN entry stays with the agency', async () => {
    const client = (c: NodeCredentials) => {
      const cl = new HttpsTerminalClient({ url: served.url, terminalId: TERMINAL, caPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem, timeoutMs: 5000 });
      clients.push(cl);
      return cl;
    };
    // Another CA's certificate fails the handshake; a node of this network that is not the desk's agency nor the national center is refused.
    await assert.rejects(client(foreign).readers(), (e: JukiError) => e.code === 'JUKI_ERR_READER' && /unreachable/.test(e.message));
    await assert.rejects(client(cred('agency-pension')).readers(), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
    await assert.rejects(client(cred('prefecture-13')).connect('desk-1'), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
    // The national center: relay yes, PIN steps and release no.
    const nat = client(cred('national'));
    assert.ok((await nat.connect('desk-1')).length > 0);
    await assert.rejects(nat.verifyPin('desk-1', 'basic'), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
    await assert.rejects(nat.setPin('desk-1', 'basic'), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
    await assert.rejects(nat.release('desk-1'), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
    // The agency: everything.
    await client(cred('agency-passport')).release('desk-1');
  });

  test('[R4.2.1] a prefecture cannot ask for a card read; an agency cannot have another agency\'s desk read; nothing reaches the card and each refusal is audited', async () => {
    const ask = async (as: string, terminalId = TERMINAL) => {
      const reading = new HttpsCardReadingClient({ credentials: cred(as), caPem: ca.certPem, addressOf: () => nationalUrl });
      clients.push(reading);
      return reading.read('national', { affair: AFFAIR, relay: { terminalId } as CardRelay, reader: 'desk-1' });
    };
    const before = (await nationalAudit()).length;
    pad.type(PIN);
    assert.equal((await terminal.verifyPin('desk-1', 'basic')).kind, 'verified'); // a verified card sits in the reader: still nothing for them
    const transmitted = terminalTransmits();
    await assert.rejects(ask('prefecture-13'), (e: JukiError) => e.code === 'JUKI_ERR_NET_CARD_READ_DENIED' && /prefecture node may not ask/.test(e.message));
    await assert.rejects(ask('agency-pension'), (e: JukiError) => e.code === 'JUKI_ERR_NET_CARD_READ_DENIED');
    await assert.rejects(ask('agency-passport', 'terminal-unknown-desk'), (e: JukiError) => e.code === 'JUKI_ERR_NET_CARD_READ_DENIED' && /not an agency desk terminal known/.test(e.message));
    assert.equal(terminalTransmits(), transmitted, 'no command reached the card');
    const audited = (await nationalAudit()).slice(before);
    assert.deepEqual(audited.map((e) => [e.actor, e.outcome, e.reason]), [
      ['node:prefecture-13', 'refused', 'JUKI_ERR_NET_CARD_READ_DENIED'],
      ['node:agency-pension', 'refused', 'JUKI_ERR_NET_CARD_READ_DENIED'],
      ['node:agency-passport', 'refused', 'JUKI_ERR_NET_CARD_READ_DENIED'],
    ]);
    await terminal.release('desk-1');
  });

  test('[R4.2.1] the card-read route answers bad input with a precise error and reads nothing', async () => {
    const pool = mtlsPool({ address: nationalUrl, expect: 'national', caPem: ca.certPem, credentials: cred('agency-passport') });
    clients.push(pool);
    const before = (await nationalAudit()).length;
    for (const [body, field] of [
      [{ affair: AFFAIR, reader: 'desk-1' }, 'terminal'],
      [{ affair: AFFAIR, terminal: 'passport-desk-1', reader: 'desk-1' }, 'terminal'],
      [{ affair: '', terminal: TERMINAL, reader: 'desk-1' }, 'affair'],
      [{ affair: AFFAIR, terminal: TERMINAL, reader: 'desk\n1' }, 'reader'],
      [{ affair: AFFAIR, terminal: TERMINAL, reader: 'desk-1', pin: '1234' }, 'pin'],
    ] as const) {
      const r = await mtlsJson(pool, 'national', { method: 'POST', path: '/juki-net/v1/card-reads', body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.deepEqual([(r.json as { code: string }).code, (r.json as { message: string }).message.startsWith(`card read.${field}:`)], ['JUKI_ERR_INVALID_INPUT', true], r.text);
    }
    assert.equal((await nationalAudit()).length, before);
  });

  test('[R4.2.1] juki terminal --cs agency-passport --relay-for national: the national center on the relay only; a bad --relay-for is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'juki-desk-'));
    const t = await issueNodeCertificate(ca, { role: 'terminal', code: 'passport-desk-2' });
    writeFileSync(join(dir, 't.crt'), t.certPem);
    writeFileSync(join(dir, 't.key'), t.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    const files = ['--cert', join(dir, 't.crt'), '--key', join(dir, 't.key'), '--ca', join(dir, 'ca.crt')];
    const bad = juki(['terminal', '--id', 'passport-desk-2', '--cs', 'agency-passport', '--relay-for', 'nobody here', ...files, '--pin-pad', 'virtual']);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, /--relay-for: expected a node id/);
    const { child, match } = await startJuki(['terminal', '--id', 'passport-desk-2', '--cs', 'agency-passport', '--relay-for', 'national', ...files, '--reader', 'virtual:desk-2', '--pin-pad', 'virtual', '--port', '0', '--json'], /^\{"url":"([^"]+)"/);
    try {
      const client = (c: NodeCredentials) => {
        const cl = new HttpsTerminalClient({ url: match[1]!, terminalId: 'terminal-passport-desk-2', caPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem, timeoutMs: 10_000 });
        clients.push(cl);
        return cl;
      };
      assert.deepEqual((await client(cred('national')).readers()).map((r) => r.name), ['desk-2']);
      await assert.rejects(client(cred('national')).verifyPin('desk-2', 'basic'), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
      await assert.rejects(client(cred('agency-pension')).readers(), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
      assert.deepEqual((await client(cred('agency-passport')).readers()).map((r) => r.name), ['desk-2']);
    } finally {
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** APDUs relayed by the served terminal so far. */
  function terminalTransmits(): number {
    return transmits;
  }
});
