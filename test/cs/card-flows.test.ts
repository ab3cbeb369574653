/**
 * The CS's card flows on an in-process card, through the terminal agent's relay where a server
 * would drive them: re-keying (R3.1.1a), personalisation (R3.1.2e card, R3.1.2o), the PIN pad
 * (R3.1.2ka/ki, R2.2.1a), PIN services (R3.2.2i card, R3.2.2a), power cuts at every command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { activeCard } from '../card/helpers.ts';
import { InProcessTransport, type CardTransport } from '../../src/reader/index.ts';
import {
  basicCardKeys, CardKeyRequest, changePinByHolder, inspectCard, keyCheckValues, looksIssued, newLoginChallenge, operatorLogin, personaliseCard,
  readCardIdentity, rekeyBlankCard, setPinOnPinPad, unblockPin, verifyOperatorSignature, municipalityCardKeys, KeyStoreBasicKeyService,
} from '../../src/cs/index.ts';
import { SecureSession } from '../../src/cs/card-flows/wire.ts';
import { JukiError } from '../../src/util/index.ts';
import { ascii, contains, counter, CuttingTransport, hexOf, LoggingTransport, PERSON, terminalWith, BASIC_AID, ISD_AID } from './card-flows-fixture.ts';
import type { Terminal } from '../../src/terminal/index.ts';
import { MemoryKeyStore } from '../../src/crypto/index.ts';

const local = (card: { powered: boolean; powerOn(): Uint8Array }) => new InProcessTransport(card as never, { powerOffOnClose: false });

/** The national center reads the resident code through the relay after the holder verified on the pad (R4.2.1). */
async function nationalReadsResidentCode(terminal: Terminal, reader: string, keys: ReturnType<ReturnType<typeof counter>['basicKeysOf']>): Promise<{ sw: number; data: Uint8Array }> {
  const relay = await terminal.relay(reader);
  const s = await SecureSession.open(relay, keys, keys.kvn);
  try {
    return await s.command(0x00, 0xb0, 0x82, 0x00, undefined, 0);
  } finally {
    s.close();
  }
}

async function rejects(p: Promise<unknown>, code: string): Promise<JukiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof JukiError, `expected a JukiError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

test('[R3.1.1a] a delivered blank card is re-keyed from the maker\'s transport keys to the municipality\'s own, and the maker\'s keys no longer open it', async () => {
  const c = counter();
  const { card, serial } = c.blankCard();
  const before = await inspectCard(local(card));
  assert.equal(before.keys, 'maker-transport');
  const r = await rekeyBlankCard(local(card), { makerTransport: c.maker, municipalityTransport: c.keys.transport });
  assert.equal(r.serial, hexOf(serial));
  assert.equal(r.kvn, 0x70);
  assert.equal(r.alreadyRekeyed, false);
  assert.deepEqual(r.kcv, keyCheckValues(c.keys.transport.keysFor(serial)));
  const after = await inspectCard(local(card), [c.keys.transport]);
  assert.deepEqual(after.keyVersions, [0x70]);
  assert.equal(after.keys, 'transport');
  assert.deepEqual(after.applications, []);
  // The maker's keys: the card no longer knows KVN FF.
  const t = local(card);
  await t.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, 0x08, ...ISD_AID));
  await assert.rejects(SecureSession.open(t, c.maker.keysFor(serial), 0xff, ISD_AID), (e: JukiError) => e.code === 'JUKI_ERR_SCP_AUTHENTICATION' && /6A88/.test(e.message));
  // A repeat changes nothing.
  const again = await rekeyBlankCard(local(card), { makerTransport: c.maker, municipalityTransport: c.keys.transport });
  assert.equal(again.alreadyRekeyed, true);
  // Another lot's maker master does not open a card of this lot.
  const other = counter();
  const { card: card2 } = c.blankCard();
  await rejects(rekeyBlankCard(local(card2), { makerTransport: other.maker, municipalityTransport: c.keys.transport }), 'JUKI_ERR_SCP_AUTHENTICATION');
  assert.equal((await inspectCard(local(card2))).keys, 'maker-transport');
});

test('[R3.1.1a] a card still holding the maker\'s keys is not personalised: JUKI_ERR_CARD_STATE with its state', async () => {
  const c = counter();
  const { card, serial } = c.blankCard();
  const e = await rejects(personaliseCard(local(card), c.plan()), 'JUKI_ERR_CARD_STATE');
  const state = e.details['state'] as { serial: string; keys: string; lifecycle: string };
  assert.equal(state.serial, hexOf(serial));
  assert.equal(state.keys, 'maker-transport');
  assert.equal(state.lifecycle, 'blank');
});

test('[R3.1.2e card] one personalisation writes the resident code and basic data, sets the per-card keys and access rights, replaces the transport keys, and leaves the PIN to the holder', async () => {
  const c = counter();
  const { card, serial } = await c.rekeyedCard();
  const { terminal, pad } = terminalWith(card);
  const relay = await terminal.relay('counter-1');
  const r = await personaliseCard(relay, c.plan());
  assert.equal(r.serial, hexOf(serial));
  assert.equal(r.cardNumber, PERSON.cardNumber);
  assert.equal(r.lifecycle, 'personalised');
  assert.equal(r.alreadyPersonalised, false);
  assert.deepEqual(r.foundDone, []);
  assert.deepEqual(r.basicKcv, keyCheckValues(c.basicKeysOf(serial)));
  assert.deepEqual(r.issuerKcv, keyCheckValues(c.keys.issuer.keysFor(serial)));
  const state = await inspectCard(relay, [c.keys.issuer]);
  assert.equal(state.lifecycle, 'personalised');
  assert.deepEqual(state.keyVersions, [0x01], 'the transport keys are gone, the issuer keys are in');
  assert.deepEqual(state.applications, [{ aid: hexOf(BASIC_AID), module: hexOf(BASIC_AID), state: 'personalised' }]);
  // Access rights: without the holder's PIN nothing is read, even with the right keys.
  await rejects(nationalReadsResidentCode(terminal, 'counter-1', c.basicKeysOf(serial)), 'JUKI_ERR_SCP_AUTHENTICATION');
  pad.type('4711');
  pad.type('4711');
  assert.deepEqual(await terminal.setPin('counter-1', 'basic'), { kind: 'set' });
  assert.equal((await inspectCard(relay)).lifecycle, 'active');
  pad.type('4711');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'verified' });
  const read = await nationalReadsResidentCode(terminal, 'counter-1', c.basicKeysOf(serial));
  assert.equal(read.sw, 0x9000);
  assert.equal(Buffer.from(read.data).toString('ascii'), PERSON.residentCode);
  // PIN verified but the wrong keys (another card's): no channel, nothing read.
  pad.type('4711');
  await terminal.verifyPin('counter-1', 'basic');
  const other = c.basicKeysOf(Uint8Array.from(serial).fill(9));
  await rejects(nationalReadsResidentCode(terminal, 'counter-1', other), 'JUKI_ERR_SCP_AUTHENTICATION');
  await terminal.close();
});

test('[R3.1.2o] personal data crosses the relay only encrypted: a logging relay sees no resident code, card number, face record or key bytes, and a flipped byte is refused', async () => {
  const c = counter();
  const { card, serial } = await c.rekeyedCard();
  const { terminal } = terminalWith(card);
  const log = new LoggingTransport(await terminal.relay('counter-1'));
  await personaliseCard(log, c.plan());
  const seen = log.all();
  for (const [what, bytes] of [
    ['resident code', ascii(PERSON.residentCode)],
    ['card number', ascii(PERSON.cardNumber)],
    ['face record', PERSON.faceRecord.subarray(0, 16)],
    ['basic K-ENC', c.basicKeysOf(serial).enc.subarray(0, 8)],
    ['basic K-DEK', c.basicKeysOf(serial).dek.subarray(0, 8)],
    ['issuer K-MAC', c.keys.issuer.keysFor(serial).mac.subarray(0, 8)],
  ] as const) assert.ok(!contains(seen, bytes), `the relay saw the ${what}`);
  // Every command after the channel opened was secured (CLA 84/04).
  const afterOpen = log.commands.slice(log.commands.findIndex((a) => a[1] === 0x82) + 1);
  assert.ok(afterOpen.length > 4);
  for (const a of afterOpen) if (a[1] !== 0xc0) assert.ok(a[0]! & 0x04, `plain command ${hexOf(a.subarray(0, 4))} after the channel opened`);

  // A byte flipped in the relay, in STORE DATA: the card refuses (C-MAC), nothing is written.
  const c2 = counter();
  const { card: card2 } = await c2.rekeyedCard();
  const flipping = new LoggingTransport(local(card2), (a) => {
    if (a[1] === 0xe2 && a.length > 10) a[10]! ^= 0x01;
    return a;
  });
  await rejects(personaliseCard(flipping, c2.plan()), 'JUKI_ERR_CARD_STATUS');
  const st = await inspectCard(local(card2), [c2.keys.transport, c2.keys.issuer]);
  assert.equal(st.lifecycle, 'blank');
  assert.ok(!looksIssued(st));
  assert.notEqual(st.applications?.[0]?.state, 'personalised');
  // A byte flipped in an answer: the host refuses it (R-MAC).
  const c3 = counter();
  const { card: card3 } = await c3.rekeyedCard();
  const flippingBack = new LoggingTransport(local(card3), undefined, (r, i) => {
    if (i > 6 && r.length > 4) r[0]! ^= 0x80;
    return r;
  });
  await rejects(personaliseCard(flippingBack, c3.plan()), 'JUKI_ERR_SCP_INTEGRITY');
  // And the same card then completes on a clean line.
  const done = await personaliseCard(local(card3), c3.plan());
  assert.equal(done.lifecycle, 'personalised');
  await terminal.close();
});

test('[R3.1.2ki] the PIN typed on the PIN pad reaches only the card: not the relay log, not the server, not any returned value', async () => {
  const c = counter();
  const { card, serial } = await c.rekeyedCard();
  const { terminal, pad, relayed } = terminalWith(card);
  const serverSaw = new LoggingTransport(await terminal.relay('counter-1'));
  await personaliseCard(serverSaw, c.plan());
  const PIN = '8264';
  const returned: unknown[] = [];
  pad.type(PIN);
  pad.type(PIN);
  returned.push(await terminal.setPin('counter-1', 'basic'));
  pad.type(PIN);
  returned.push(await terminal.verifyPin('counter-1', 'basic'));
  // The national center reads through the same relay the server side logs.
  const relay = new LoggingTransport(await terminal.relay('counter-1'));
  const k = c.basicKeysOf(serial);
  const s = await SecureSession.open(relay, k, k.kvn);
  returned.push(await s.command(0x00, 0xb0, 0x82, 0x00, undefined, 0));
  s.close();
  returned.push(await readCardIdentity(relay));
  const pinBytes = ascii(PIN);
  assert.ok(!contains(serverSaw.all(), pinBytes) && !contains(relay.all(), pinBytes), 'the PIN crossed the relay');
  const text = JSON.stringify(returned, (_k, v) => (v instanceof Uint8Array ? hexOf(v) : v)) + JSON.stringify(relayed) + JSON.stringify(c.events) + pad.prompts.join('|');
  assert.ok(!text.includes(PIN) && !text.includes(hexOf(pinBytes)), 'the PIN is in a returned value, an event or the relay record');
  // The relay itself refuses to carry a PIN from a server.
  await rejects(relay.transmit(Uint8Array.of(0x00, 0x20, 0x00, 0x81, 0x04, ...pinBytes)), 'JUKI_ERR_TERMINAL_DENIED');
  // ...and it did reach the card: a wrong PIN is refused, the right one accepted.
  pad.type('0000');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'wrong', triesLeft: 2 });
  pad.type(PIN);
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'verified' });
  await terminal.close();
});

test('[R2.2.1a] a personalised card is unusable until the holder sets the PIN on the pad; a mismatch or cancel leaves it unset', async () => {
  const c = counter();
  const { card, serial } = await c.rekeyedCard();
  const { terminal, pad } = terminalWith(card);
  const relay = await terminal.relay('counter-1');
  await personaliseCard(relay, c.plan());
  let id = await readCardIdentity(relay);
  assert.equal(id.lifecycle, 'personalised');
  assert.deepEqual(id.pin, { kind: 'not-set' });
  // Juki-net cannot even open its channel while the PIN is unset (69 85).
  await relay.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, 0x0a, ...BASIC_AID));
  const k = c.basicKeysOf(serial);
  await assert.rejects(SecureSession.open(relay, k, k.kvn), (e: JukiError) => e.code === 'JUKI_ERR_SCP_AUTHENTICATION' && /6985/.test(e.message));
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'not-set' });
  pad.type('1357');
  pad.type('1375');
  assert.deepEqual(await terminal.setPin('counter-1', 'basic'), { kind: 'mismatch' });
  pad.type({ cancel: true });
  assert.deepEqual(await terminal.setPin('counter-1', 'basic'), { kind: 'cancelled' });
  pad.type('12');
  assert.deepEqual(await terminal.setPin('counter-1', 'basic'), { kind: 'invalid', reason: 'length' });
  id = await readCardIdentity(relay);
  assert.equal(id.lifecycle, 'personalised');
  assert.deepEqual(id.pin, { kind: 'not-set' });
  // [R3.1.2ka] the holder (or the staff member typing from the sealed notice) sets it: only then is the card active.
  pad.type('1357');
  pad.type('1357');
  assert.deepEqual(await setPinOnPinPad(await terminal.localTransport('counter-1'), pad, 'basic'), { kind: 'set' });
  id = await readCardIdentity(relay);
  assert.equal(id.lifecycle, 'active');
  assert.deepEqual(id.pin, { kind: 'set', triesLeft: 3 });
  // A second "first setting" is refused without asking the holder anything.
  assert.deepEqual(await terminal.setPin('counter-1', 'basic'), { kind: 'already-set' });
  assert.equal(JSON.stringify(id).includes(PERSON.cardNumber), false, 'readCardIdentity reveals no card number');
  await terminal.close();
});

test('personalisation cut at every command (before the card sees it, and after it answered) is finished by a retry on the same card; nothing half-done reads as issued', async () => {
  const c = counter();
  // Count the commands of one clean run.
  const probe = await c.rekeyedCard();
  const counting = new CuttingTransport(probe.card, local(probe.card), -1, 'before');
  await personaliseCard(counting, c.plan());
  const total = counting.count;
  assert.ok(total >= 12, `expected at least 12 commands, got ${total}`);
  for (const mode of ['before', 'after'] as const) {
    for (let cut = 0; cut < total; cut++) {
      const { card, serial } = await c.rekeyedCard();
      const t = new CuttingTransport(card, local(card), cut, mode);
      const e = await rejects(personaliseCard(t, c.plan()), 'JUKI_ERR_CARD_INTERRUPTED');
      assert.equal(typeof e.details['step'], 'string');
      card.powerOn();
      const state = await inspectCard(local(card), [c.keys.transport, c.keys.issuer]);
      // Issued exactly when SET STATUS ran: cut after it answered, or at the final lifecycle check.
      const lastCommand = (mode === 'after' && cut >= total - 2) || (mode === 'before' && cut === total - 1);
      assert.equal(looksIssued(state), lastCommand, `${mode} ${cut}: ${JSON.stringify(state)}`);
      const r = await personaliseCard(local(card), c.plan());
      assert.equal(r.lifecycle, 'personalised', `${mode} ${cut}`);
      assert.equal(r.alreadyPersonalised, lastCommand, `${mode} ${cut}`);
      assert.deepEqual(r.basicKcv, keyCheckValues(c.basicKeysOf(serial)));
      const end = await inspectCard(local(card), [c.keys.issuer]);
      assert.deepEqual(end.keyVersions, [0x01]);
      assert.equal(end.applications?.[0]?.state, 'personalised');
    }
  }
});

test('a card the CS cannot finish is reported with its exact state so the books can record the blank card spoiled', async () => {
  const c = counter();
  // Re-keyed by another municipality: neither our transport nor our issuer keys open it.
  const other = counter();
  const { card: foreign, serial } = await other.rekeyedCard();
  const e1 = await rejects(personaliseCard(local(foreign), c.plan()), 'JUKI_ERR_CARD_STATE');
  assert.deepEqual(e1.details['state'], { serial: hexOf(serial), lifecycle: 'blank', keyVersions: [0x70], keys: 'transport' });
  // Terminated during issuance.
  const { card, serial: serial2 } = await c.rekeyedCard();
  const t = local(card);
  await t.transmit(Uint8Array.of(0x00, 0xa4, 0x04, 0x0c, 0x08, ...ISD_AID));
  const s = await SecureSession.open(t, c.keys.transport.keysFor(serial2), 0x70, ISD_AID);
  await s.expect('SET STATUS terminated', 0x80, 0xf0, 0x80, 0xff);
  const e2 = await rejects(personaliseCard(local(card), c.plan()), 'JUKI_ERR_CARD_STATE');
  assert.equal((e2.details['state'] as { lifecycle: string }).lifecycle, 'terminated');
  // Already active (issued and in use).
  const { card: active } = await c.rekeyedCard();
  await personaliseCard(local(active), c.plan());
  const { terminal, pad } = terminalWith(active);
  pad.type('2468');
  pad.type('2468');
  await terminal.setPin('counter-1', 'basic');
  await terminal.release('counter-1');
  active.powerOn();
  const e3 = await rejects(personaliseCard(local(active), c.plan()), 'JUKI_ERR_CARD_STATE');
  assert.equal((e3.details['state'] as { lifecycle: string }).lifecycle, 'active');
  // Bad data never reaches the card.
  const { card: fresh } = await c.rekeyedCard();
  await rejects(personaliseCard(local(fresh), c.plan({ ...PERSON, residentCode: '1234567890' })), 'JUKI_ERR_INVALID_RESIDENT_CODE');
  await rejects(personaliseCard(local(fresh), c.plan({ ...PERSON, expires: '20250230' })), 'JUKI_ERR_INVALID_DATE');
  assert.equal((await inspectCard(local(fresh), [c.keys.transport])).applications?.length, 0);
});

test('[R3.2.2i card] a blocked PIN is reset only over the issuer\'s channel, after which the holder sets a new one on the pad', async () => {
  const c = counter();
  const { card } = await c.rekeyedCard();
  const { terminal, pad } = terminalWith(card);
  const relay = await terminal.relay('counter-1');
  await personaliseCard(relay, c.plan());
  pad.type('1111');
  pad.type('1111');
  await terminal.setPin('counter-1', 'basic');
  for (const left of [2, 1]) {
    pad.type('9999');
    assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'wrong', triesLeft: left });
  }
  pad.type('9999');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'blocked' });
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'blocked' }, 'blocked: the pad is not even asked');
  // Keys that are not the issuer's cannot reset it.
  const stranger = municipalityCardKeys(new MemoryKeyStore()).issuer;
  await rejects(unblockPin(relay, stranger), 'JUKI_ERR_SCP_AUTHENTICATION');
  assert.deepEqual((await readCardIdentity(relay)).pin, { kind: 'blocked' });
  const r = await unblockPin(relay, c.keys.issuer, { observer: (e) => c.events.push(e) });
  assert.equal(r.before, 'blocked');
  assert.equal(r.pin, 'unset');
  assert.deepEqual((await readCardIdentity(relay)).pin, { kind: 'not-set' });
  pad.type('2222');
  pad.type('2222');
  assert.deepEqual(await terminal.setPin('counter-1', 'basic'), { kind: 'set' });
  pad.type('1111');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'wrong', triesLeft: 2 });
  pad.type('2222');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'verified' });
  await terminal.close();
});

test('[R3.2.2a] after recorded identity verification the holder sets a new PIN on the pad without the old one', async () => {
  const c = counter();
  const { card } = await c.rekeyedCard();
  const { terminal, pad } = terminalWith(card);
  const relay = await terminal.relay('counter-1');
  await personaliseCard(relay, c.plan());
  pad.type('3141');
  pad.type('3141');
  await terminal.setPin('counter-1', 'basic');
  await rejects(changePinByHolder(relay, { issuerKeys: c.keys.issuer, identityVerification: { id: '', method: '' }, setPinOnPad: () => terminal.setPin('counter-1', 'basic') }), 'JUKI_ERR_INVALID_INPUT');
  assert.deepEqual((await readCardIdentity(relay)).pin, { kind: 'set', triesLeft: 3 }, 'nothing changed without the verification record');
  pad.type('2718');
  pad.type('2718');
  const r = await changePinByHolder(relay, { issuerKeys: c.keys.issuer, identityVerification: { id: 'idv-0001', method: 'card-photo' }, setPinOnPad: () => terminal.setPin('counter-1', 'basic') });
  assert.deepEqual(r.outcome, { kind: 'set' });
  assert.equal(r.identityVerification, 'idv-0001');
  pad.type('3141');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'wrong', triesLeft: 2 });
  pad.type('2718');
  assert.deepEqual(await terminal.verifyPin('counter-1', 'basic'), { kind: 'verified' });
  // A cancelled pad step leaves the PIN unset: the card is unusable until the holder sets it.
  pad.type({ cancel: true });
  const r2 = await changePinByHolder(relay, { issuerKeys: c.keys.issuer, identityVerification: { id: 'idv-0002', method: 'card-photo' }, setPinOnPad: () => terminal.setPin('counter-1', 'basic') });
  assert.deepEqual(r2.outcome, { kind: 'cancelled' });
  assert.deepEqual((await readCardIdentity(relay)).pin, { kind: 'not-set' });
  await terminal.close();
});

test('operator login: the operator card signs the server\'s challenge after the PIN on the pad; the server verifies it', async () => {
  const m = activeCard({ operator: true, pin: '1234', pins: { D392F0004A554B490002: '24680' } });
  const { terminal, pad } = terminalWith(m.card);
  const challenge = newLoginChallenge();
  pad.type('24680');
  const r = await terminal.operatorLogin('counter-1', challenge);
  assert.equal(r.kind, 'signed');
  if (r.kind !== 'signed') return;
  assert.equal(r.staffId, 'STAFF-0042');
  assert.ok(verifyOperatorSignature(r.publicKey, challenge, r.signature));
  assert.ok(!verifyOperatorSignature(r.publicKey, newLoginChallenge(), r.signature));
  assert.ok(!verifyOperatorSignature(ascii('not a key'), challenge, r.signature));
  pad.type('11111');
  const wrong = await operatorLogin(await terminal.localTransport('counter-1'), pad, challenge);
  assert.deepEqual(wrong, { kind: 'wrong', triesLeft: 2 });
  await terminal.close();
});

test('the key service: the CS gets one card\'s basic keys wrapped for one request; another card, an altered answer or a second use is refused; no key bytes reach the CS\'s store, results or events', async () => {
  const c = counter();
  const { card, serial } = await c.rekeyedCard();
  const expected = c.basicKeysOf(serial);
  const keys = await basicCardKeys(c.basicService, serial);
  assert.deepEqual([hexOf(keys.enc), hexOf(keys.mac), hexOf(keys.dek), keys.kvn], [hexOf(expected.enc), hexOf(expected.mac), hexOf(expected.dek), 0x30]);
  const req = new CardKeyRequest(serial);
  const wrapped = await c.basicService.wrappedCardKeys(serial, req.publicKey);
  for (const k of [expected.enc, expected.mac, expected.dek]) assert.ok(!JSON.stringify(wrapped).includes(hexOf(k)));
  const tampered = { ...wrapped, ciphertext: (wrapped.ciphertext[0] === '0' ? '1' : '0') + wrapped.ciphertext.slice(1) };
  assert.throws(() => new CardKeyRequest(serial).unwrap(tampered), (e: JukiError) => e.code === 'JUKI_ERR_KEY_UNWRAP');
  assert.throws(() => req.unwrap({ ...wrapped, serial: hexOf(new Uint8Array(10)) }), (e: JukiError) => e.code === 'JUKI_ERR_KEY_UNWRAP');
  assert.throws(() => req.unwrap(wrapped), (e: JukiError) => e.code === 'JUKI_ERR_KEY_UNWRAP' && /already used/.test(e.message));
  // Wrapped for another request: refused.
  const w2 = await c.basicService.wrappedCardKeys(serial, new CardKeyRequest(serial).publicKey);
  assert.throws(() => new CardKeyRequest(serial).unwrap(w2), (e: JukiError) => e.code === 'JUKI_ERR_KEY_UNWRAP');
  await assert.rejects(c.basicService.wrappedCardKeys(serial.subarray(0, 8), req.publicKey), (e: JukiError) => e.code === 'JUKI_ERR_INVALID_INPUT');
  // The service can refuse a card (authorisation hook).
  const picky = new KeyStoreBasicKeyService(c.national, { authorise: () => { throw new JukiError('JUKI_ERR_NET_DENIED', 'not your card'); } });
  await assert.rejects(picky.wrappedCardKeys(serial, new CardKeyRequest(serial).publicKey), (e: JukiError) => e.code === 'JUKI_ERR_NET_DENIED');

  // A whole personalisation: the CS's key store, result and events hold none of the basic keys.
  const namesBefore = ['master:basic:enc', 'master:basic:mac', 'master:basic:dek'].map((n) => c.cs.hasKey(n));
  const result = await personaliseCard(local(card), c.plan());
  assert.deepEqual(namesBefore, [false, false, false]);
  assert.deepEqual(['master:basic:enc', 'master:basic:mac', 'master:basic:dek'].map((n) => c.cs.hasKey(n)), [false, false, false]);
  const visible = JSON.stringify([result, c.events]) + inspect(result, { depth: 5 });
  for (const k of [expected.enc, expected.mac, expected.dek]) {
    assert.ok(!visible.includes(hexOf(k)) && !visible.toLowerCase().includes(hexOf(k).toLowerCase()), 'basic key bytes in a CS-visible value');
  }
  assert.equal(c.basicService.issued, 4, 'one wrapped answer per request, one for the personalisation');
});
