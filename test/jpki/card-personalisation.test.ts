/**
 * The jpki role personalising a card's JPKI area through a relay it does not trust (R5.1,
 * R5.2.1): the relay logs every byte and sees no private key and no personal data; a relay
 * that changes one byte is refused by the card, which closes the channel; nobody but the
 * jpki role's keys opens the JPKI domain.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { JPKI_AID, ISD_AID } from '../../src/card/index.ts';
import { InProcessTransport, type CardTransport } from '../../src/reader/index.ts';
import { JpkiCardSession, jpkiInitialKeys, personaliseJpkiCard } from '../../src/jpki/index.ts';
import { dekEncrypt } from '../../src/crypto/index.ts';
import { JukiError } from '../../src/util/index.ts';
import { openFixture, type Fixture } from './fixtures.ts';
import { HOLDER, JPKI_PINS, jpkiCard, privateKeysInImage } from '../card/jpki-card.ts';
import { activeCard, hex, KEYS, putKeyData, TestKeyStore } from '../card/helpers.ts';
import { installJpki, jpkiFinalKeys, jpkiInitialFor } from '../card/jpki-card.ts';

/** A counter's relay: passes APDUs through, keeps a copy of every byte, and may tamper with one command. */
class LoggingRelay implements CardTransport {
  readonly log: Buffer[] = [];
  n = 0;
  constructor(
    private readonly inner: CardTransport,
    private readonly tamper?: { command?: number; response?: number },
  ) {}
  get atr(): Uint8Array {
    return this.inner.atr;
  }
  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    const i = this.n++;
    const cmd = Uint8Array.from(apdu);
    if (this.tamper?.command === i) cmd[cmd.length - 3]! ^= 0x01;
    this.log.push(Buffer.from(cmd));
    const r = Uint8Array.from(await this.inner.transmit(cmd));
    if (this.tamper?.response === i && r.length > 2) r[0]! ^= 0x80;
    this.log.push(Buffer.from(r));
    return r;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  sawAny(needles: Buffer[]): boolean {
    return this.log.some((b) => needles.some((n) => b.includes(n)));
  }
}

let f: Fixture;
before(async () => {
  f = await openFixture();
});
after(async () => {
  await f.close();
});

test('[R5.1 jpki] the relay carries the whole personalisation and sees no private key, no certificate in clear and none of the holder\'s data', async () => {
  let relay: LoggingRelay | undefined;
  const m = await jpkiCard({ fixture: f, relay: (t) => (relay = new LoggingRelay(t)) });
  assert.ok(relay && relay.log.length > 20);
  const keys = privateKeysInImage(m);
  assert.equal(keys.length, 2);
  const secrets = keys.flatMap((k) => {
    const jwk = createPrivateKey({ key: Buffer.from(k), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    return [Buffer.from(k).subarray(40, 72), ...[jwk.d!, jwk.p!, jwk.q!, jwk.dp!, jwk.dq!].map((x) => Buffer.from(x, 'base64url').subarray(4, 20))];
  });
  assert.equal(relay.sawAny(secrets), false, 'private-key material crossed the relay');
  // certificates went encrypted (C-DECRYPTION): neither the DER nor the basic four in it are visible
  const sign = Buffer.from(m.result.sign!.der);
  assert.equal(relay.sawAny([sign.subarray(200, 232), Buffer.from(m.result.auth.der).subarray(200, 232)]), false);
  for (const item of [HOLDER.name, HOLDER.address]) assert.equal(relay.sawAny([Buffer.from(item, 'utf8')]), false, item);
  // public keys came back R-ENC'd as well: the modulus is not in the log in clear
  const n = Buffer.from(new X509Certificate(m.result.auth.der).publicKey.export({ format: 'jwk' }).n!, 'base64url');
  assert.equal(relay.sawAny([n.subarray(16, 48)]), false);
  // and yet the card holds exactly what the CA certified
  assert.equal(m.result.cardSerial, Buffer.from(m.serial).toString('hex').toUpperCase());
  const recorded = await f.authority.certificatesForCard(m.result.cardSerial);
  assert.deepEqual(recorded.map((r) => r.kind).sort(), ['auth', 'sign']);
  // the holder's PINs never travelled: they are set locally afterwards (jpkiCard did, outside the relay)
  assert.equal(relay.sawAny([Buffer.from(JPKI_PINS.sign), Buffer.from(JPKI_PINS.auth)].map((b) => Buffer.concat([Buffer.of(b.length), b]))), false);
});

/** The jpki role's first opening of a fresh area: the maker's initial set is replaced by its own (so later command numbers are the personalisation's). */
async function replaceInitialKeys(transport: CardTransport, keyStore: TestKeyStore): Promise<void> {
  const s = await JpkiCardSession.open(transport, keyStore);
  assert.equal(s.replacedInitialKeys, true);
  s.close();
}

for (const at of [3, 5, 7]) {
  test(`[R5.1 jpki] a relay that flips one byte of command ${at} is refused by the card, the channel closes, and nothing is written`, async () => {
    const keyStore = new TestKeyStore();
    const serial = hex('4A50001A0000000000' + at.toString(16).padStart(2, '0'));
    const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
    const inner = new InProcessTransport(made.card, { powerOffOnClose: false });
    await replaceInitialKeys(inner, keyStore);
    const relay = new LoggingRelay(inner, { command: at });
    // (the initial set already replaced:) 0 SELECT, 1 INITIALIZE UPDATE, 2 EXTERNAL AUTHENTICATE, 3 GENERATE KEY PAIR (auth), 4 GET RESPONSE, 5 GENERATE KEY PAIR (sign), 6 GET RESPONSE, 7 STORE DATA block 0
    await assert.rejects(personaliseJpkiCard({ transport: relay, keyStore, authority: f.authority, holder: HOLDER }), (e: unknown) => e instanceof JukiError);
    // nothing of the tampered step landed, and the card closed the channel: a correct session must start over
    made.host.select(JPKI_AID);
    const avail = made.host.send(0x00, 0xb0, 0x88, 0x00, undefined, 3);
    assert.equal(Buffer.from(avail.data).toString('hex'), '000000');
    // a fresh, untampered run succeeds
    const ok = await personaliseJpkiCard({ transport: inner, keyStore, authority: f.authority, holder: HOLDER });
    assert.ok(ok.sign);
  });
}

test('[R5.1 jpki] after a forged command the same channel is dead: the card refuses the next correctly MACed command too', async () => {
  const keyStore = new TestKeyStore();
  const serial = hex('4A50001B000000000001');
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
  const inner = new InProcessTransport(made.card, { powerOffOnClose: false });
  await replaceInitialKeys(inner, keyStore);
  const relay = new LoggingRelay(inner, { command: 3 });
  const session = await JpkiCardSession.open(relay, keyStore);
  const forged = await session.command(0x00, 0x46, 0x00, 0x97, undefined, 0);
  assert.ok(forged.sw === 0x6982 || forged.sw === 0x6988, forged.sw.toString(16));
  const next = await session.command(0x00, 0x46, 0x00, 0x97, undefined, 0);
  assert.equal(next.sw, 0x6982);
  assert.deepEqual(privateKeysInImage(made), []);
});

test('[R5.1 jpki] a relay that alters a response is caught by the R-MAC (JUKI_ERR_SCP_INTEGRITY)', async () => {
  const keyStore = new TestKeyStore();
  const serial = hex('4A50001C000000000001');
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
  const inner = new InProcessTransport(made.card, { powerOffOnClose: false });
  await replaceInitialKeys(inner, keyStore);
  const relay = new LoggingRelay(inner, { response: 4 });
  await assert.rejects(personaliseJpkiCard({ transport: relay, keyStore, authority: f.authority, holder: HOLDER }), (e: unknown) => e instanceof JukiError && (e.code === 'JUKI_ERR_SCP_INTEGRITY' || e.code === 'JUKI_ERR_CARD_STATUS'));
});

test('[R5.1 jpki] only the jpki role\'s keys open the JPKI domain: another JPKI master, the issuer keys and the basic keys are refused', async () => {
  const keyStore = new TestKeyStore();
  const serial = hex('4A50001D000000000001');
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
  const transport = new InProcessTransport(made.card, { powerOffOnClose: false });
  await assert.rejects(JpkiCardSession.open(transport, new TestKeyStore()), (e: unknown) => e instanceof JukiError && e.code === 'JUKI_ERR_SCP_AUTHENTICATION');
  for (const keys of [KEYS.issuer, KEYS.basic]) {
    made.host.select(JPKI_AID);
    assert.notEqual(made.host.open(keys, 0x33, 0), 0x9000);
  }
  // and the ISD's channel cannot reach into the JPKI area
  made.host.select(ISD_AID);
  assert.equal(made.host.open(KEYS.issuer, 0x33), 0x9000);
  assert.notEqual(made.host.secure(0x00, 0x46, 0x00, 0x97, undefined, 256).sw, 0x9000);
});

test('[R5.1 jpki] the jpki role\'s first opening replaces the maker\'s initial set with its own: afterwards the initial set (what a maker has) opens nothing, the final set does; the relay sees the keys only encrypted', async () => {
  const keyStore = new TestKeyStore();
  const serial = hex('4A50001E000000000001');
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
  const initial = jpkiInitialKeys(keyStore, serial);
  const final = jpkiFinalKeys(keyStore, serial);
  // before: the maker's set opens the area, the jpki role's does not exist on the card yet
  made.host.select(JPKI_AID);
  assert.equal(made.host.open(initial, 0x33), 0x9000);
  made.host.select(JPKI_AID);
  assert.notEqual(made.host.open(final, 0x33), 0x9000);
  const relay = new LoggingRelay(new InProcessTransport(made.card, { powerOffOnClose: false }));
  const r = await personaliseJpkiCard({ transport: relay, keyStore, authority: f.authority, holder: HOLDER });
  assert.ok(r.sign);
  // after: only the jpki role's set
  made.host.select(JPKI_AID);
  assert.equal(made.host.open(initial, 0x33), 0x6a88, 'the initial set is gone (no KVN 4F on the card)');
  made.host.select(JPKI_AID);
  assert.equal(made.host.open({ ...initial, kvn: 0x50 }, 0x33), -1, 'the initial keys do not pass for KVN 50');
  made.host.select(JPKI_AID);
  assert.equal(made.host.open(final, 0x33), 0x9000);
  // the relay: PUT KEY 4F → 50 went secured (84 D8 4F 81); no key of either set, nor a key under the initial DEK, in its log
  const commands = relay.log.filter((_, i) => i % 2 === 0);
  assert.ok(commands.some((c) => c[0] === 0x84 && c[1] === 0xd8 && c[2] === 0x4f && c[3] === 0x81));
  const underDek = [final.enc, final.mac, final.dek].map((k) => Buffer.from(dekEncrypt(initial.dek, k)));
  assert.equal(relay.sawAny([final.enc, final.mac, final.dek, initial.enc, initial.mac, initial.dek].map((k) => Buffer.from(k))), false);
  assert.equal(relay.sawAny(underDek), false, 'the PUT KEY data is encrypted again by the session (C-DECRYPTION)');
  // restartable: the next opening finds KVN 50 and replaces nothing
  const again = await JpkiCardSession.open(new InProcessTransport(made.card, { powerOffOnClose: false }), keyStore);
  assert.equal(again.replacedInitialKeys, false);
  again.close();
});

test('[R5.1 jpki] a relay that flips a byte of the PUT KEY is refused by the card: the initial set stays, and a clean run replaces it', async () => {
  const keyStore = new TestKeyStore();
  const serial = hex('4A50001F000000000001');
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
  const inner = new InProcessTransport(made.card, { powerOffOnClose: false });
  // 0 SELECT, 1 INITIALIZE UPDATE, 2 EXTERNAL AUTHENTICATE, 3 PUT KEY
  await assert.rejects(JpkiCardSession.open(new LoggingRelay(inner, { command: 3 }), keyStore), (e: unknown) => e instanceof JukiError);
  made.host.select(JPKI_AID);
  assert.equal(made.host.open(jpkiInitialKeys(keyStore, serial), 0x33), 0x9000, 'the initial set is still there');
  const s = await JpkiCardSession.open(inner, keyStore);
  assert.equal(s.replacedInitialKeys, true);
  s.close();
});

test('[R5.1 jpki] a JPKI domain holding a set neither 4F nor 50 is refused with JUKI_ERR_CARD_STATE, and nothing is sent after INITIALIZE UPDATE', async () => {
  const keyStore = new TestKeyStore();
  const serial = hex('4A500020000000000001');
  const made = activeCard({ serial, jpkiInitial: jpkiInitialFor(keyStore, serial), extra: (host) => assert.equal(installJpki(host), 0x9000) });
  // the jpki role moves the domain on to 51 (a later key version) with its own PUT KEY
  made.host.select(JPKI_AID);
  assert.equal(made.host.open(jpkiInitialKeys(keyStore, serial), 0x33), 0x9000);
  assert.equal(made.host.secure(0x80, 0xd8, 0x4f, 0x81, putKeyData({ ...jpkiFinalKeys(keyStore, serial), kvn: 0x51 }, jpkiInitialKeys(keyStore, serial).dek), 256).sw, 0x9000);
  const relay = new LoggingRelay(new InProcessTransport(made.card, { powerOffOnClose: false }));
  await assert.rejects(JpkiCardSession.open(relay, keyStore), (e: unknown) => e instanceof JukiError && e.code === 'JUKI_ERR_CARD_STATE' && /key version 51/.test(e.message));
  assert.equal(relay.log.length, 4, 'SELECT and INITIALIZE UPDATE only');
});
