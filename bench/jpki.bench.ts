/**
 * JPKI signatures on the card against raw node:crypto RSA-2048 PKCS#1 v1.5 signatures in the
 * same run (goal: ratio ≥ 0.9). The card is made by the real flow (test/card/jpki-card.ts:
 * keys generated on the card, certificates from the CA) in a memory store, and driven with
 * Card.transmit exactly as OpenSC drives it (reference/jpki-application.md §6.6–§6.7):
 *
 *   signature only:   80 2A 00 80 33 <DigestInfo(SHA-256)> 00                (PIN verified once)
 *   OpenSC's login:   00 A4 02 0C 02 00 18 · 00 20 00 80 04 <PIN> · 00 A4 02 0C 02 00 17 · 80 2A …
 *
 * The raw baseline is crypto.sign('sha256', data, key) with the same key size, hashing included
 * (the card's caller hashes: each card figure includes the SHA-256 of the data too).
 */
import { constants, createHash, generateKeyPairSync, privateEncrypt, sign } from 'node:crypto';
import { JPKI_AID, type Card } from '../src/card/index.ts';
import { JPKI_PINS, jpkiCard } from '../test/card/jpki-card.ts';
import { measure, report, type Benchmark } from './harness.ts';

const SHA256_PREFIX = Buffer.from('3031300D060960864801650304020105000420', 'hex');
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

function ok(r: Uint8Array, what: string): Uint8Array {
  const sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
  if (sw !== 0x9000) throw new Error(`${what}: SW ${sw.toString(16)}`);
  return r.subarray(0, r.length - 2);
}

function signCommand(data: Uint8Array): Uint8Array {
  const di = Buffer.concat([SHA256_PREFIX, createHash('sha256').update(data).digest()]);
  return Uint8Array.from([0x80, 0x2a, 0x00, 0x80, di.length, ...di, 0x00]);
}

export const benchmarks: Benchmark[] = [
  {
    name: 'jpki: 80 2A signatures on the card (RSA-2048, PKCS#1 v1.5 padding by the card) vs raw node:crypto',
    async run(print) {
      const made = await jpkiCard();
      const card: Card = made.card;
      const data = Uint8Array.from(Buffer.from('juki benchmark: the document to sign'));
      const pin = Buffer.from(JPKI_PINS.auth, 'ascii');
      const SELECT_AP = Uint8Array.from([0x00, 0xa4, 0x04, 0x0c, JPKI_AID.length, ...JPKI_AID]);
      const SELECT_PIN = hex('00A4020C020018');
      const VERIFY = Uint8Array.from([0x00, 0x20, 0x00, 0x80, pin.length, ...pin]);
      const SELECT_KEY = hex('00A4020C020017');
      ok(card.transmit(SELECT_AP), 'SELECT AP');
      ok(card.transmit(SELECT_PIN), 'SELECT 0018');
      ok(card.transmit(VERIFY), 'VERIFY');
      ok(card.transmit(SELECT_KEY), 'SELECT 0017');

      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
      const di = Buffer.concat([SHA256_PREFIX, createHash('sha256').update(data).digest()]);
      const opts = { warmup: 20, batch: 10 };
      const raw = await measure('raw node:crypto sign(sha256, RSA-2048 PKCS#1 v1.5)', () => sign('sha256', data, privateKey), opts);
      const rawPe = await measure('raw node:crypto privateEncrypt(PKCS#1 type 01, DigestInfo)', () => privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, di), opts);
      const onCard = await measure('card: 80 2A (PIN verified once)', () => ok(card.transmit(signCommand(data)), '80 2A'), opts);
      const login = await measure('card: SELECT 0018, VERIFY, SELECT 0017, 80 2A', () => {
        ok(card.transmit(SELECT_PIN), 'SELECT 0018');
        ok(card.transmit(VERIFY), 'VERIFY');
        ok(card.transmit(SELECT_KEY), 'SELECT 0017');
        return ok(card.transmit(signCommand(data)), '80 2A');
      }, opts);
      print(report(raw));
      print(report(rawPe, raw));
      print(report(onCard, raw, 'goal ≥ 0.9×'));
      print(report(login, raw, 'with VERIFY per signature (two retry-counter writes, memory store)'));
      await made.fixture.close();
    },
  },
];
