/**
 * The JPKI area byte by byte (reference/jpki-application.md): OpenSC's detection, bind,
 * certificate read, login and signature replayed with the exact status words, the other
 * clients' forms (SFI, extended Le, 5-byte status query), PIN blocking, key generation on the
 * card (R5.2.1) and the schema that refuses personal data (R5.2.2).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, verify as verifySig, X509Certificate } from 'node:crypto';
import { BASIC_FOUR_ARC_DER, JPKI_AID, SW, cardSerial, checkCertificate, concat, dgi, jpkiApplication, jpkiArea, jpkiTokenFile } from '../../src/card/index.ts';
import { spkiFromPublicKeyTemplate } from '../../src/jpki/index.ts';
import { openFixture, type Fixture } from '../jpki/fixtures.ts';
import { activeCard, ascii, hex, sw, type Host } from './helpers.ts';
import { HOLDER, JPKI_PINS, installJpki, jpkiCard, jpkiFinalKeys, jpkiInitialFor, privateKeysInImage, setJpkiPins, type JpkiMadeCard } from './jpki-card.ts';
import { TestKeyStore } from './helpers.ts';

const SHA256_PREFIX = hex('3031300D060960864801650304020105000420');
const digestInfo = (data: Uint8Array) => concat(SHA256_PREFIX, new Uint8Array(createHash('sha256').update(data).digest()));

let f: Fixture;
let c: JpkiMadeCard;

before(async () => {
  f = await openFixture();
  c = await jpkiCard({ fixture: f });
});
after(async () => {
  await f.close();
});

/** Send raw APDU hex, return [data hex, SW hex] without following 61xx (OpenSC's view on T=1 with short APDUs). */
function apdu(host: Host, h: string): { data: Uint8Array; sw: string } {
  const r = host.card.transmit(hex(h));
  return { data: r.subarray(0, r.length - 2), sw: Buffer.from(r.subarray(r.length - 2)).toString('hex').toUpperCase() };
}

const SELECT_AP = '00A4040C0AD392F000260100000001';

/** OpenSC's certificate read (reference §6.5): 4 bytes to size it, then 256-byte chunks. */
function openscRead(host: Host, fid: string): { der: Uint8Array; sws: string[] } {
  const sws: string[] = [];
  let r = apdu(host, `00A4020C02${fid}`);
  sws.push(r.sw);
  r = apdu(host, '00B0000004');
  sws.push(r.sw);
  if (r.sw !== '9000') return { der: new Uint8Array(0), sws };
  const size = ((r.data[2]! << 8) | r.data[3]!) + 4;
  const parts: Uint8Array[] = [];
  for (let off = 0; off < size; off += 256) {
    const n = Math.min(256, size - off);
    r = apdu(host, `00B0${off.toString(16).padStart(4, '0')}${(n & 0xff).toString(16).padStart(2, '0')}`);
    sws.push(r.sw);
    parts.push(r.data);
  }
  return { der: concat(...parts), sws };
}

test('reference §6.1 detection: unknown AIDs and foreign probes are refused, the JPKI AID answers 90 00 to SELECT with P2=0C', () => {
  const { host, card } = c;
  card.reset();
  // The probes seen from Debian 12's opensc 0.23.0 before the jpki driver's turn (reference §6.1.3)
  assert.equal(apdu(host, '00A4040007627601FF000000').sw, '6A82');
  assert.equal(apdu(host, 'B03C0100').sw, '6E00');
  assert.equal(apdu(host, '00A4040006A00000000101').sw, '6A82');
  assert.equal(apdu(host, 'B03C000040').sw, '6E00');
  assert.equal(apdu(host, '00A4040000').sw, '6A82');
  assert.equal(apdu(host, '00A4040009A0000003080000100000').sw, '6A82'); // PIV
  const r = apdu(host, SELECT_AP);
  assert.deepEqual([r.sw, r.data.length], ['9000', 0]);
  assert.equal(apdu(host, '00A4020C020005').sw, '6A82'); // an EF of unknown meaning on the real card: absent here
  assert.equal(apdu(host, '00CA004500').sw, '6D00');
});

test('reference §6.4 bind: SELECT 0018 + empty VERIFY → 63 C3, SELECT 001B + empty VERIFY → 63 C5', () => {
  const { host, card } = c;
  card.reset();
  const seq = [SELECT_AP, '00A4020C020018', '00200080', '00A4020C02001B', '00200080'].map((h) => apdu(host, h).sw);
  assert.deepEqual(seq, ['9000', '9000', '63C3', '9000', '63C5']);
  // the 5-byte form of old apdu-rs builds, and VERIFY by short EF id (jsapdu, soltia48)
  assert.equal(apdu(host, '0020008000').sw, '63C5');
  assert.equal(apdu(host, '00200098').sw, '63C3');
  assert.equal(apdu(host, '0020009B').sw, '63C5');
});

test('reference §1.2 token EF 0006: 160 bytes, "JPKIAPICCTOKEN" space-padded; TRET reads 20, myna 32', () => {
  const { host } = c;
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, '00A4020C020006').sw, '9000');
  const r32 = apdu(host, '00B0000020');
  assert.equal(r32.sw, '9000');
  assert.equal(Buffer.from(r32.data).toString('ascii'), 'JPKIAPICCTOKEN' + ' '.repeat(18));
  assert.equal(Buffer.from(apdu(host, '00B0000014').data).toString('ascii').trim(), 'JPKIAPICCTOKEN');
  const all = apdu(host, '00B0000000');
  assert.equal(all.data.length, 160);
  assert.deepEqual(all.data, jpkiTokenFile());
  assert.equal(apdu(host, '00B000A001').sw, '6B00'); // offset 160 = EOF
  // EF 0008: both certificates present
  assert.equal(apdu(host, '00A4020C020008').sw, '9000');
  assert.equal(Buffer.from(apdu(host, '00B0000003').data).toString('hex'), '8f8f00');
});

test('reference §6.5 reading certificates: auth 000A and both CA certificates free, 30 82 LL LL header, 256-byte chunks, EOF → 6B00', () => {
  const { host, card, result } = c;
  card.reset();
  apdu(host, SELECT_AP);
  for (const [fid, der] of [['000A', result.auth.der], ['000B', result.auth.caCertificate], ['0002', result.sign!.caCertificate]] as const) {
    const r = openscRead(host, fid);
    assert.ok(r.sws.every((s) => s === '9000'), `${fid}: ${r.sws.join(' ')}`);
    assert.deepEqual(r.der, der, fid);
    assert.equal(der[0], 0x30);
    assert.equal(der[1], 0x82);
    assert.equal(apdu(host, `00B0${der.length.toString(16).padStart(4, '0')}01`).sw, '6B00');
  }
  // myna: 7 bytes, then from offset 7; fewer bytes than Le at the end of the file
  apdu(host, '00A4020C02000A');
  assert.equal(apdu(host, '00B0000007').data.length, 7);
  const tail = apdu(host, `00B0${(result.auth.der.length - 10).toString(16).padStart(4, '0')}00`);
  assert.deepEqual([tail.sw, tail.data.length], ['9000', 10]);
  // short EF id: 00 B0 8A 00 00 (soltia48) and jsapdu's extended Le 00 00 00 (the whole file at once)
  assert.deepEqual(apdu(host, '00B08A0000').data, result.auth.der.subarray(0, 256));
  const ext = apdu(host, '00B08B00000000');
  assert.deepEqual([ext.sw, ext.data.length], ['9000', result.auth.caCertificate.length]);
  assert.deepEqual(ext.data, result.auth.caCertificate);
});

test('reference §2 note 1: the sign certificate 0001 reads 69 82 until the sign password is verified (pkcs15-tool -r 2 -a 2 --verify-pin)', () => {
  const { host, card, result } = c;
  card.reset();
  apdu(host, SELECT_AP);
  assert.deepEqual(openscRead(host, '0001').sws, ['9000', '6982']);
  assert.equal(apdu(host, '00B0810000').sw, '6982');
  // the auth PIN does not open it
  assert.deepEqual(['00A4020C020018', `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`].map((h) => apdu(host, h).sw), ['9000', '9000']);
  assert.deepEqual(openscRead(host, '0001').sws, ['9000', '6982']);
  assert.equal(apdu(host, '00A4020C02001B').sw, '9000');
  assert.equal(apdu(host, `00200080${ascii(JPKI_PINS.sign).length.toString(16).padStart(2, '0')}${Buffer.from(JPKI_PINS.sign).toString('hex')}`).sw, '9000');
  const r = openscRead(host, '0001');
  assert.ok(r.sws.every((s) => s === '9000'));
  assert.deepEqual(r.der, result.sign!.der);
  // the certificate carries the basic four (R5.2.2 allows it here)
  assert.ok(Buffer.from(r.der).includes(Buffer.from(BASIC_FOUR_ARC_DER)));
  assert.ok(Buffer.from(r.der).includes(Buffer.from(HOLDER.name, 'utf8')));
});

test('reference §6.6 login and §5.1: VERIFY 90 00, then the empty VERIFY still answers 63 C3; a wrong PIN 63 C2; a correct one restores the counter', () => {
  const { host, card } = c;
  card.reset();
  const pinHex = Buffer.from(JPKI_PINS.auth).toString('hex');
  const seq = [SELECT_AP, '00A4020C020018', `0020008004${pinHex}`, '00200080', '0020008003393939', '002000800439393939', '00200080', `0020009804${pinHex}`, '00200080'].map((h) => apdu(host, h).sw);
  // a 3-byte PIN against a 4-digit PIN counts as a wrong PIN (the card compares; it never hints at the length)
  assert.deepEqual(seq, ['9000', '9000', '9000', '63C3', '63C2', '63C1', '63C1', '9000', '63C3']);
});

test('reference §6.7 signing: SELECT 0017, 80 2A 00 80 33 <DigestInfo> 00 → 256 bytes 90 00, verified by node:crypto with the certificate\'s key', () => {
  const { host, card, result } = c;
  card.reset();
  const data = ascii('the holder logs in to a government portal');
  const di = digestInfo(data);
  const sign = `802A0080${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`;
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, '00A4020C020017').sw, '9000');
  assert.equal(apdu(host, sign).sw, '6982'); // no PIN yet
  // OpenSC: VERIFY, then a status query (SELECT 0018 again), then SELECT of the key: the verification survives EF selection
  for (const h of ['00A4020C020018', `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`, '00A4020C020018', '00200080', '00A4020C020017']) apdu(host, h);
  const r = apdu(host, sign);
  assert.equal(r.sw, '9000');
  assert.equal(r.data.length, 256);
  const pub = new X509Certificate(result.auth.der).publicKey;
  assert.ok(verifySig('sha256', data, pub, r.data));
  // the card pads whatever DigestInfo it gets: SHA-1 (jpki-rs) works too
  const sha1 = concat(hex('3021300906052B0E03021A05000414'), new Uint8Array(createHash('sha1').update(data).digest()));
  const r1 = apdu(host, `802A0080${sha1.length.toString(16)}${Buffer.from(sha1).toString('hex')}00`);
  assert.equal(r1.sw, '9000');
  assert.ok(verifySig('sha1', data, pub, r1.data));
  // the key by P2 = 97 (soltia48), without SELECT
  assert.equal(apdu(host, `802A0097${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '9000');
  // the auth PIN does not unlock the sign key
  assert.equal(apdu(host, `802A009A${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '6982');
  // wrong forms
  assert.equal(apdu(host, `002A0080${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '6E00');
  assert.equal(apdu(host, `802A0180${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '6A86');
  assert.equal(apdu(host, `802A0080F6${'00'.repeat(246)}00`).sw, '6700');
  // re-selecting the AP clears the verification (OpenSC's logout), and so does a reset
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, `802A0097${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '6982');
  for (const h of ['00A4020C020018', `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`]) apdu(host, h);
  card.reset();
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, `802A0097${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '6982');
  // SELECT of a non-key EF, then 80 2A 00 80: no key selected
  for (const h of ['00A4020C020018', `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`]) apdu(host, h);
  assert.equal(apdu(host, `802A0080${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`).sw, '6985');
});

test('the sign key: 001A signs after the sign password (OpenSC id 02), and the signature verifies against the sign certificate', () => {
  const { host, card, result } = c;
  card.reset();
  const data = ascii('契約書 / contract');
  const di = digestInfo(data);
  for (const h of [SELECT_AP, '00A4020C02001B', `0020008008${Buffer.from(JPKI_PINS.sign).toString('hex')}`, '00A4020C02001A']) assert.equal(apdu(host, h).sw, '9000');
  const r = apdu(host, `802A0080${di.length.toString(16)}${Buffer.from(di).toString('hex')}00`);
  assert.equal(r.sw, '9000');
  assert.ok(verifySig('sha256', data, new X509Certificate(result.sign!.der).publicKey, r.data));
});

test('reference §5.2 blocking: 63 C2, 63 C1, then 63 C0 on the exhausting try, 69 84 after (even for the right PIN); the status query answers 63 C0', async () => {
  const m = await jpkiCard({ fixture: f });
  const { host } = m;
  apdu(host, SELECT_AP);
  apdu(host, '00A4020C020018');
  assert.deepEqual(['002000800430303030', '002000800430303030', '002000800430303030', '002000800430303030'].map((h) => apdu(host, h).sw), ['63C2', '63C1', '63C0', '6984']);
  assert.equal(apdu(host, `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`).sw, '6984');
  assert.equal(apdu(host, '00200080').sw, '63C0');
  m.card.reset();
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, '00200098').sw, '63C0'); // durable
  // the sign password is a separate counter: 5 tries
  assert.equal(apdu(host, '0020009B').sw, '63C5');
  assert.equal(apdu(host, '0020009B06414243313233').sw, '63C4');
});

test('PINs: CHANGE REFERENCE DATA after VERIFY; format rules when set (4 digits; 6-16 of A-Z 0-9 with a letter and a digit); unset PINs answer 63 Cx to the status query and 69 84 to VERIFY', async () => {
  const m = await jpkiCard({ fixture: f, pins: false });
  const { host } = m;
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, '00200098').sw, '63C3');
  assert.equal(apdu(host, '002000980431323334').sw, '6984');
  assert.equal(apdu(host, '00A4020C020017').sw, '9000');
  assert.equal(apdu(host, '802A008003010203' + '00').sw, '6982');
  apdu(host, '00A4020C020018');
  for (const bad of ['123', '12345', '12a4', '123 ']) assert.equal(apdu(host, `00240180${bad.length.toString(16).padStart(2, '0')}${Buffer.from(bad).toString('hex')}`).sw, '6A80', bad);
  apdu(host, '00A4020C02001B');
  for (const bad of ['ABC12', 'abc123', 'ABCDEF', '123456', 'ABC-123', 'A'.repeat(16) + '1']) assert.equal(apdu(host, `00240180${bad.length.toString(16).padStart(2, '0')}${Buffer.from(bad).toString('hex')}`).sw, '6A80', bad);
  setJpkiPins(host);
  // change after VERIFY (myna change_pin: 00 24 01 80 Lc new)
  apdu(host, SELECT_AP);
  apdu(host, '00A4020C020018');
  assert.equal(apdu(host, '00240180043536373839'.slice(0, 18)).sw, '6982'); // not verified
  assert.equal(apdu(host, `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`).sw, '9000');
  assert.equal(apdu(host, '002401800435363738').sw, '9000');
  assert.equal(apdu(host, '00200098').sw, '63C3');
  assert.equal(apdu(host, '0020009804' + Buffer.from('5678').toString('hex')).sw, '9000');
});

test('[R5.2.1 card] the key pair is generated on the card and no command returns the private key', async () => {
  const m = await jpkiCard({ fixture: f });
  const { host, card, result } = m;
  const keys = privateKeysInImage(m);
  assert.equal(keys.length, 2);
  // the certificates certify exactly the keys in the card's sealed image
  const certKeys = [result.auth.der, result.sign!.der].map((d) => Buffer.from(new X509Certificate(d).publicKey.export({ format: 'der', type: 'spki' })).toString('hex'));
  const imageKeys = keys.map((k) => Buffer.from(createPublicKey(createPrivateKey({ key: Buffer.from(k), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })).toString('hex'));
  assert.deepEqual(new Set(certKeys), new Set(imageKeys));
  // secrets to look for in every answer: a window of d and of each prime
  const needles = keys.flatMap((k) => {
    const jwk = createPrivateKey({ key: Buffer.from(k), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
    return [jwk.d!, jwk.p!, jwk.q!].map((x) => Buffer.from(x, 'base64url').subarray(8, 24));
  });
  const seen: Buffer[] = [];
  const send = (h: string) => {
    const r = card.transmit(hex(h));
    seen.push(Buffer.from(r));
    return r;
  };
  // With both PINs verified, every INS × both key EFs × P1/P2 forms, plain and in ISO SM classes
  send(SELECT_AP);
  send(`00A4020C020018`);
  send(`0020008004${Buffer.from(JPKI_PINS.auth).toString('hex')}`);
  send(`00A4020C02001B`);
  send(`0020008008${Buffer.from(JPKI_PINS.sign).toString('hex')}`);
  let n = 0;
  for (const fid of ['0017', '001A']) {
    for (let ins = 0; ins < 256; ins++) {
      if (ins === 0xa4) continue;
      for (const cla of [0x00, 0x80]) {
        for (const [p1, p2] of [[0, 0], [0, 0x80], [0x80, 0], [0x97, 0], [0x9a, 0], [0, 0x97], [0, 0x9a], [0xb6, 0], [0xb8, 0], [0xa4, 0]]) {
          send(`00A4020C02${fid}`);
          send(Buffer.from([cla, ins, p1!, p2!, 0]).toString('hex'));
          n++;
        }
      }
    }
  }
  assert.ok(n > 10000);
  // READ BINARY of a key EF: no read path; GENERATE KEY PAIR without the JPKI channel: refused
  send('00A4020C020017');
  for (const r of seen) for (const needle of needles) assert.equal(r.includes(needle), false, 'a response contains private-key material');
  const ro = card.transmit(hex('00B0000000'));
  assert.equal(Buffer.from(ro).toString('hex'), '6981');
  assert.equal(Buffer.from(card.transmit(hex('00460097'))).toString('hex'), '6982');
  assert.equal(Buffer.from(card.transmit(hex('0046009700'))).toString('hex'), '6982');
  // the image's keys are unchanged (nothing regenerated them)
  assert.deepEqual(privateKeysInImage(m), keys);
});

test('[R5.2.1 card] GENERATE KEY PAIR over the JPKI channel returns only the public key; a new key deletes the certificate of the old one', async () => {
  const m = await jpkiCard({ fixture: f });
  const { host } = m;
  assert.equal(host.select(JPKI_AID).sw, 0x9000);
  assert.equal(host.open(jpkiFinalKeys(m.jpkiKeys, m.serial), 0x33), 0x9000);
  const r = host.secure(0x00, 0x46, 0x00, 0x97, undefined, 256);
  assert.equal(sw(r.sw), '9000');
  assert.equal(r.data.length, 5 + 4 + 256 + 5); // 7F49 82 0109 { 81 82 0100 <n> 82 03 010001 }
  const spki = spkiFromPublicKeyTemplate(r.data);
  assert.equal(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength, 2048);
  const keys = privateKeysInImage(m);
  assert.ok(keys.some((k) => Buffer.from(createPublicKey(createPrivateKey({ key: Buffer.from(k), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' })).equals(Buffer.from(spki))));
  host.select(JPKI_AID);
  assert.equal(apdu(host, '00A4020C02000A').sw, '9000');
  assert.equal(apdu(host, '00B0000004').sw, '6B00'); // the old certificate is gone
  assert.equal(apdu(host, '00B0880003').data[1], 0x00); // EF 0008: auth certificate absent
  // the wrong key reference, and the issuer's channel, are refused
  host.open(jpkiFinalKeys(m.jpkiKeys, m.serial), 0x33);
  assert.equal(sw(host.secure(0x00, 0x46, 0x00, 0x98, undefined, 256).sw), '6A88');
});

test('[R5.2.2] the JPKI area refuses personal data beyond the signing key, its certificate and the PIN: no other EF, no personal data in the auth-side EFs', async () => {
  const m = await jpkiCard({ fixture: f });
  const { host, result } = m;
  const open = () => {
    assert.equal(host.select(JPKI_AID).sw, 0x9000);
    assert.equal(host.open(jpkiFinalKeys(m.jpkiKeys, m.serial), 0x33), 0x9000);
  };
  const store = (d: Uint8Array) => {
    open();
    return sw(host.secure(0x80, 0xe2, 0x80, 0x00, d).sw);
  };
  const authSpki = new Uint8Array(new X509Certificate(result.auth.der).publicKey.export({ format: 'der', type: 'spki' }));
  // a certificate of the sign profile (basic four in subjectAltName) for the auth key: refused in 000A
  const personal = await f.authority.issueSignCertificate(authSpki, { ...HOLDER, cardSerial: result.cardSerial });
  assert.equal(storeBlocks(host, open, dgi(0x000a, personal.der)), '6A80');
  // the right auth certificate is accepted again (the refusal changed nothing)
  const fresh = await f.authority.issueAuthCertificate(authSpki, { cardSerial: result.cardSerial });
  assert.equal(storeBlocks(host, open, dgi(0x000a, fresh.der)), '9000');
  // trailing bytes after the certificate, an end-entity certificate as a CA certificate, a certificate for another key
  assert.equal(storeBlocks(host, open, dgi(0x000a, concat(fresh.der, ascii(HOLDER.address)))), '6A80');
  assert.equal(storeBlocks(host, open, dgi(0x000b, fresh.der)), '6A80');
  assert.equal(storeBlocks(host, open, dgi(0x0002, personal.der)), '6A80');
  assert.equal(storeBlocks(host, open, dgi(0x0001, personal.der)), '6A80'); // sign EF: only for the sign key
  // any other EF, known or not, and raw personal data anywhere
  for (const fid of [0x0003, 0x0005, 0x0006, 0x0008, 0x0010, 0x0018, 0x001b, 0x0017, 0x001e, 0x0100]) assert.equal(store(dgi(fid, Buffer.from(HOLDER.name))), '6A80', fid.toString(16));
  for (const fid of [0x0001, 0x0002, 0x000a, 0x000b]) assert.equal(store(dgi(fid, Buffer.from(`${HOLDER.name} ${HOLDER.birthDate}`))), '6A80');
  // UPDATE BINARY has no write path, even over the channel; no command creates a file
  open();
  for (const fid of ['000A', '0006', '0001']) {
    host.secure(0x00, 0xa4, 0x02, 0x0c, hex(fid));
    assert.equal(sw(host.secure(0x00, 0xd6, 0x00, 0x00, ascii(HOLDER.name)).sw), '6982');
  }
  assert.equal(sw(host.secure(0x00, 0xe0, 0x00, 0x00, hex('6208820101830200 30'.replace(' ', ''))).sw), '6D00');
  // the ISD cannot write any JPKI file at install (the municipality's channel, R5.1)
  const keys = new TestKeyStore();
  const otherSerial = cardSerial(0x4a50, 27, 1);
  const other = activeCard({ serial: otherSerial, jpkiInitial: jpkiInitialFor(keys, otherSerial), extra: () => undefined });
  assert.equal(installJpki(other.host, dgi(0x000a, fresh.der)), 0x6a80);
  // the rule itself, on DER
  assert.equal(checkCertificate(0x000a, personal.der, () => authSpki), SW.INCORRECT_DATA);
  assert.equal(checkCertificate(0x000a, fresh.der, () => authSpki), SW.OK);
  assert.equal(checkCertificate(0x000a, fresh.der, () => undefined), SW.CONDITIONS_NOT_SATISFIED);
  assert.equal(checkCertificate(0x000b, result.auth.caCertificate, () => undefined), SW.OK);
  // what reads back is exactly the accepted certificate
  host.select(JPKI_AID);
  assert.deepEqual(openscRead(host, '000A').der, fresh.der);
});

function storeBlocks(host: Host, open: () => void, data: Uint8Array): string {
  open();
  const n = Math.ceil(data.length / 200);
  let last = '';
  for (let b = 0; b < n; b++) {
    last = sw(host.secure(0x80, 0xe2, b === n - 1 ? 0x80 : 0x00, b, data.subarray(b * 200, (b + 1) * 200)).sw);
    if (last !== '9000') return last;
  }
  return last;
}

test('SET SESSION KEY 80 AE is refused with 69 82 and secure-messaging CLAs 08/0C are not supported (reference §9)', () => {
  const { host } = c;
  apdu(host, SELECT_AP);
  assert.equal(apdu(host, '80AE000000').sw, '6982');
  assert.equal(apdu(host, '0CB0000004').sw, '6882');
  assert.equal(apdu(host, '00B0000004').sw, '6986'); // no current EF after SELECT of the AP
});

test('reference §14.1 token switch: jpkiApplication({ token: "JPKIAPICCTOKEN2" }) answers as a My Number card; the Juki card default is "JPKIAPICCTOKEN"', () => {
  const two = jpkiApplication({ token: 'JPKIAPICCTOKEN2' }).personalise!([], { serial: new Uint8Array(10), random: (n) => new Uint8Array(n) }).files![0x0006]!;
  assert.equal(Buffer.from(two.subarray(0, 32)).toString('ascii'), 'JPKIAPICCTOKEN2' + ' '.repeat(17));
  assert.equal(two.length, 160);
  assert.equal(Buffer.from(jpkiArea.personalise!([], { serial: new Uint8Array(10), random: (n) => new Uint8Array(n) }).files![0x0006]!.subarray(0, 20)).toString('ascii').trim(), 'JPKIAPICCTOKEN');
  assert.throws(() => jpkiArea.personalise!([{ dgi: 0x000a, value: new Uint8Array(4) }], { serial: new Uint8Array(10), random: (n) => new Uint8Array(n) }));
});
