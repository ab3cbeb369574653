/**
 * The terminal agent: the PIN pad's opaque entries, the relay's PIN filter, reader sessions,
 * and the agent over HTTPS with mutual TLS driving a whole issuance from a CS.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { Pool } from 'undici';
import { carriesPin, HttpsTerminalClient, relayTransport, ScriptedPinPad, serveTerminalHttps, setPinWithPad, transmitPinCommand, type PinEntry, type TerminalHttpsServer } from '../../src/terminal/index.ts';
import { createNetworkCa, issueNodeCertificate, peerIdentity, nodeId } from '../../src/net/index.ts';
import { personaliseCard, readCardIdentity, unblockPin } from '../../src/cs/index.ts';
import { JukiError } from '../../src/util/index.ts';
import { ascii, contains, counter, hexOf, LoggingTransport, PERSON, terminalWith } from '../cs/card-flows-fixture.ts';

async function entryOf(pad: ScriptedPinPad, digits: string): Promise<PinEntry> {
  pad.type(digits);
  const r = await pad.collect({ prompt: 'PIN', minLength: 4, maxLength: 8 });
  assert.equal(r.kind, 'entered');
  return (r as { entry: PinEntry }).entry;
}

test('[R3.1.2ki] a PIN pad entry is opaque: it prints, serialises and inspects without its digits, and is spent by the one command that carries it', async () => {
  const pad = new ScriptedPinPad();
  const entry = await entryOf(pad, '5823');
  const shown = [String(entry), JSON.stringify({ entry }), inspect(entry, { showHidden: true, depth: 5 }), inspect({ entry }), Object.keys(entry).join(), JSON.stringify(Object.getOwnPropertyNames(entry).map((k) => (entry as never)[k]))];
  for (const s of shown) assert.ok(!s.includes('5823') && !s.includes('35383233'), s);
  const seen: Uint8Array[] = [];
  const fake = { atr: new Uint8Array(0), transmit: async (a: Uint8Array) => (seen.push(a.slice()), Uint8Array.of(0x90, 0x00)), close: async () => undefined };
  assert.equal(await transmitPinCommand(fake, [0x00, 0x20, 0x00, 0x81], entry), 0x9000);
  assert.equal(hexOf(seen[0]!), '0020008104' + hexOf(ascii('5823')));
  assert.equal(entry.spent, true);
  await assert.rejects(transmitPinCommand(fake, [0x00, 0x20, 0x00, 0x81], entry), (e: JukiError) => e.code === 'JUKI_ERR_PIN_PAD');
  // The pad compares the confirmation itself and answers only "mismatch".
  pad.type('1234');
  pad.type('4321');
  assert.deepEqual(await pad.collect({ prompt: 'New PIN', minLength: 4, maxLength: 4, confirm: true }), { kind: 'mismatch' });
  pad.type('12a4');
  assert.deepEqual(await pad.collect({ prompt: 'PIN', minLength: 4, maxLength: 4 }), { kind: 'invalid', reason: 'characters' });
  await assert.rejects(pad.collect({ prompt: 'PIN', minLength: 0, maxLength: 4 }), (e: JukiError) => e.code === 'JUKI_ERR_PIN_PAD');
  assert.ok(pad.prompts.every((p) => !/[0-9]{4}/.test(p)));
  // A person typing while the pad waits.
  const prompted = pad.nextPrompt();
  const waiting = pad.collect({ prompt: 'Operator PIN', minLength: 4, maxLength: 8 });
  assert.equal(await prompted, 'Operator PIN');
  pad.type('7777');
  assert.equal((await waiting).kind, 'entered');
});

test('the relay refuses commands that would carry a PIN and unknown readers; status queries and secured commands pass', async () => {
  assert.equal(carriesPin(Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34)), true);
  assert.equal(carriesPin(Uint8Array.of(0x00, 0x24, 0x01, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34)), true);
  assert.equal(carriesPin(Uint8Array.of(0x00, 0x2c, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34)), true);
  assert.equal(carriesPin(Uint8Array.of(0x00, 0x20, 0x00, 0x81)), false, 'status query');
  assert.equal(carriesPin(Uint8Array.of(0x04, 0x2c, 0x03, 0x81, 0x08, 1, 2, 3, 4, 5, 6, 7, 8)), false, 'RESET RETRY COUNTER under SCP03 (C-MAC only)');
  assert.equal(carriesPin(Uint8Array.of(0x00, 0xb0, 0x82, 0x00, 0x00)), false);
  const c = counter();
  const { card } = await c.rekeyedCard();
  const { terminal } = terminalWith(card);
  await assert.rejects(terminal.transmit('counter-1', Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34)), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
  await assert.rejects(terminal.transmit('counter-9', Uint8Array.of(0x00, 0xa4, 0x04, 0x0c)), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
  assert.deepEqual(await terminal.readers(), [{ name: 'counter-1', cardPresent: true }]);
  await terminal.close();
});

test('a card pulled mid-flow fails the session with JUKI_ERR_CARD_INTERRUPTED; reinserted, the agent reconnects and the flow resumes', async () => {
  const c = counter();
  const { card } = await c.rekeyedCard();
  const { terminal, reader, pad } = terminalWith(card);
  const relay = await terminal.relay('counter-1');
  let sent = 0;
  const pulling = { atr: relay.atr, close: () => relay.close(), transmit: async (a: Uint8Array) => {
    if (++sent === 9) reader.remove();
    return relay.transmit(a);
  } };
  await assert.rejects(personaliseCard(pulling, c.plan()), (e: JukiError) => e.code === 'JUKI_ERR_CARD_INTERRUPTED');
  assert.deepEqual(await terminal.readers(), [{ name: 'counter-1', cardPresent: false }]);
  reader.insert(card);
  const r = await personaliseCard(await terminal.relay('counter-1'), c.plan());
  assert.equal(r.lifecycle, 'personalised');
  assert.ok(r.foundDone.length > 0, 'the second run found work already done');
  pad.type('6543');
  pad.type('6543');
  assert.deepEqual(await setPinWithPad(await terminal.localTransport('counter-1'), pad, 'basic'), { kind: 'set' });
  await terminal.close();
});

test('[R3.1.2o] [R3.1.2ki] the agent over HTTPS with mutual TLS: only its CS may drive it; a whole issuance runs through it and no PIN crosses the wire', async () => {
  const ca = await createNetworkCa();
  const terminalCreds = await issueNodeCertificate(ca, { role: 'terminal', code: '131016-counter-1' }, ['localhost', '127.0.0.1']);
  const cs = await issueNodeCertificate(ca, { role: 'municipality', code: '131016' });
  const otherCs = await issueNodeCertificate(ca, { role: 'municipality', code: '011002' });
  const c = counter();
  const { card, serial } = await c.rekeyedCard();
  const { terminal, pad } = terminalWith(card);
  const servers: TerminalHttpsServer[] = [];
  const clients: HttpsTerminalClient[] = [];
  after(async () => {
    await Promise.all(clients.map((cl) => cl.close()));
    await Promise.all(servers.map((s) => s.close()));
    await terminal.close();
  });
  const server = await serveTerminalHttps(terminal, {
    keyPem: terminalCreds.keyPem,
    certPem: terminalCreds.certPem,
    caPem: ca.certPem,
    authorisePeer: (cert) => nodeId(peerIdentity(cert)) === 'municipality-131016',
  });
  servers.push(server);
  const client = (creds: { certPem: string; keyPem: string }) => {
    const cl = new HttpsTerminalClient({
      url: server.url, terminalId: 'terminal-131016-counter-1', caPem: ca.certPem, certPem: creds.certPem, keyPem: creds.keyPem,
      checkServer: (cert: X509Certificate) => nodeId(peerIdentity(cert)) === 'terminal-131016-counter-1',
    });
    clients.push(cl);
    return cl;
  };
  // Another municipality's CS, with a valid network certificate, is refused.
  await assert.rejects(client(otherCs).readers(), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
  // No client certificate: the TLS handshake itself fails.
  const bare = new Pool(server.url, { connect: { ca: ca.certPem } });
  await assert.rejects(bare.request({ method: 'GET', path: '/terminal/v1/readers' }).then((res) => res.body.text()));
  await bare.close();

  const agent = client(cs);
  assert.deepEqual(await agent.readers(), [{ name: 'counter-1', cardPresent: true }]);
  const wire = new LoggingTransport(await relayTransport(agent, 'counter-1'));
  const r = await personaliseCard(wire, c.plan());
  assert.equal(r.serial, hexOf(serial));
  pad.type('9182');
  pad.type('9182');
  const set = await agent.setPin('counter-1', 'basic');
  assert.deepEqual(set, { kind: 'set' });
  pad.type('9182');
  assert.deepEqual(await agent.verifyPin('counter-1', 'basic'), { kind: 'verified' });
  assert.equal((await readCardIdentity(wire)).lifecycle, 'active');
  // Bad requests are answered with a code, not a crash.
  await assert.rejects(agent.transmit('counter-1', Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, 0x39, 0x31, 0x38, 0x32)), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
  await assert.rejects(agent.transmit('nope', Uint8Array.of(0x00, 0xa4, 0x04, 0x00)), (e: JukiError) => e.code === 'JUKI_ERR_TERMINAL_DENIED');
  // The issuer side of an unblock runs through the same relay.
  const u = await unblockPin(wire, c.keys.issuer);
  assert.equal(u.before, 'set');
  const seen = wire.all();
  for (const bytes of [ascii('9182'), ascii(PERSON.residentCode), ascii(PERSON.cardNumber)]) assert.ok(!contains(seen, bytes), 'secret bytes crossed the HTTPS relay');
  assert.ok(!JSON.stringify(set).includes('9182'));
  await agent.release('counter-1');
});
