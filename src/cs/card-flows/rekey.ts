/**
 * R3.1.1a: on receipt of a delivery, the municipality replaces each blank card's maker
 * transport keys (KVN FF, diversified from the lot's maker transport master) with its own
 * transport keys (KVN 70..7F, diversified from its own transport master), before the cards
 * enter the safe. Runs on the CS; the transport may be a terminal's relay.
 *
 *   00 A4 04 0C 08 A000000151000000 ; 80 CA 00 45 00 → serial ; 80 CA 9F 70 00 ; 80 CA 00 E0 00
 *   80 50 FF 00 08 .. 00 ; 84 82 33 00 10 ..                       open with the maker's keys
 *   84 D8 FF 81 Lc E(70 {88 11 10 E(key) 03 KCV} ×3) <C-MAC> 00    → E(70 KCV×3) R-MAC 90 00
 *   80 50 70 00 08 .. 00 ; 84 82 33 00 10 ..                       the new keys open it
 *   84 CA 00 E0 00 ..                                              only KVN 70 left
 *   80 50 FF 00 08 .. 00                                           → 6A 88: the maker's keys are gone
 */
import { concatBytes, dekEncrypt, equalBytes, keyCheckValue, secureRandom, type Scp03StaticKeys } from '../../crypto/index.ts';
import type { CardTransport } from '../../reader/index.ts';
import { JukiError, toHex } from '../../util/index.ts';
import { wipeKeys, type CardKeySource } from './card-keys.ts';
import { cardStateError, classifyKeys, readIsdFacts } from './card-state.ts';
import { FlowSteps, type CardFlowObserver } from './steps.ts';
import { cardRefused, findTlv, ISD_AID, parseTlvs, plain, SecureSession } from './wire.ts';

export interface RekeyOptions {
  /** The delivery lot's maker transport keys (KVN FF). */
  readonly makerTransport: CardKeySource;
  /** The municipality's own transport keys (KVN 70..7F). */
  readonly municipalityTransport: CardKeySource;
  readonly observer?: CardFlowObserver;
}

/** Key check values of a key set, upper-case hex. */
export interface KeyCheckValues {
  readonly enc: string;
  readonly mac: string;
  readonly dek: string;
}

export interface RekeyResult {
  readonly serial: string;
  /** The KVN of the municipality's transport set now on the card. */
  readonly kvn: number;
  readonly kcv: KeyCheckValues;
  /** The card already held the municipality's keys (a repeated run): nothing was changed. */
  readonly alreadyRekeyed: boolean;
}

/**
 * PUT KEY data (GP CS 2.3 §11.8.2.3, AES per Amd D §7.2): new KVN ‖ {88 <1+n> <n> E(key) 03 KCV} for ENC, MAC, DEK,
 * each key AES-CBC-encrypted under the static K-DEK of the channel's key set (zero ICV).
 */
export function putKeyData(newKeys: Scp03StaticKeys, dek: Uint8Array): Uint8Array {
  const part = (k: Uint8Array) => concatBytes(Uint8Array.of(0x88, k.length + 1, k.length), dekEncrypt(dek, k), Uint8Array.of(0x03), keyCheckValue(k));
  return concatBytes(Uint8Array.of(newKeys.kvn), part(newKeys.enc), part(newKeys.mac), part(newKeys.dek));
}

export function keyCheckValues(k: Scp03StaticKeys): KeyCheckValues {
  return { enc: toHex(keyCheckValue(k.enc)), mac: toHex(keyCheckValue(k.mac)), dek: toHex(keyCheckValue(k.dek)) };
}

/** Check PUT KEY's answer: new KVN ‖ KCV ENC ‖ KCV MAC ‖ KCV DEK. */
export function checkPutKeyAnswer(answer: Uint8Array, k: Scp03StaticKeys): void {
  const expected = concatBytes(Uint8Array.of(k.kvn), keyCheckValue(k.enc), keyCheckValue(k.mac), keyCheckValue(k.dek));
  if (!equalBytes(answer, expected)) throw new JukiError('JUKI_ERR_CARD_STATUS', `PUT KEY: the card confirmed ${toHex(answer)}, expected ${toHex(expected)}`);
}

/** R3.1.1a: replace a blank card's maker transport keys with the municipality's (per card). Repeating it on a re-keyed card changes nothing. */
export async function rekeyBlankCard(transport: CardTransport, options: RekeyOptions): Promise<RekeyResult> {
  const { makerTransport: maker, municipalityTransport: own } = options;
  if (own.kvn < 0x70 || own.kvn > 0x7f) throw new JukiError('JUKI_ERR_INVALID_INPUT', `municipality transport KVN: expected 70..7F, got ${own.kvn.toString(16).toUpperCase()}`, { field: 'municipalityTransport.kvn' });
  const steps = new FlowSteps('rekeyBlankCard', options.observer);
  const facts = await steps.run('read card', () => readIsdFacts(transport));
  const { serial, state } = facts;
  if (state.lifecycle !== 'blank') throw cardStateError(`expected a blank card, it is ${state.lifecycle}`, state);
  const next = own.keysFor(serial);
  try {
    if (state.keys === 'transport' && state.keyVersions.length === 1 && state.keyVersions[0] === own.kvn) {
      // A repeated run (or one whose answer was lost): prove the card holds our keys, change nothing.
      await steps.run('open with municipality transport keys', async () => (await SecureSession.open(transport, next, own.kvn, ISD_AID)).close());
      return { serial: state.serial, kvn: own.kvn, kcv: keyCheckValues(next), alreadyRekeyed: true };
    }
    if (state.keys !== 'maker-transport' || !state.keyVersions.includes(maker.kvn)) {
      throw cardStateError(`expected the maker's transport keys (KVN ${maker.kvn.toString(16).toUpperCase()}), the card holds KVN ${state.keyVersions.map((k) => k.toString(16).toUpperCase()).join(', ') || 'none'}`, state);
    }
    const old = maker.keysFor(serial);
    try {
      const session = await steps.run('open with maker transport keys', () => SecureSession.open(transport, old, maker.kvn, ISD_AID));
      try {
        const answer = await steps.run('PUT KEY municipality transport keys', () => session.expect('PUT KEY', 0x80, 0xd8, maker.kvn, 0x81, putKeyData(next, old.dek), 0));
        checkPutKeyAnswer(answer, next);
      } finally {
        session.close();
      }
    } finally {
      wipeKeys(old);
    }
    await steps.run('verify the new keys open the card', async () => {
      const s = await SecureSession.open(transport, next, own.kvn, ISD_AID);
      try {
        const info = await s.expect('GET DATA key information', 0x80, 0xca, 0x00, 0xe0, undefined, 0);
        const kvns = parseTlvs(findTlv(parseTlvs(info), 0xe0) ?? new Uint8Array(0)).filter((t) => t.tag === 0xc0).map((t) => t.value[1]!);
        if (!kvns.every((k) => k === own.kvn) || classifyKeys(kvns) !== 'transport') {
          throw new JukiError('JUKI_ERR_CARD_STATUS', `after PUT KEY the card holds KVN ${kvns.map((k) => k.toString(16)).join(', ')}, expected only ${own.kvn.toString(16)}`);
        }
      } finally {
        s.close();
      }
    });
    await steps.run('verify the maker keys no longer open it', async () => {
      const r = await plain(transport, { cla: 0x80, ins: 0x50, p1: maker.kvn, p2: 0x00, data: secureRandom(8), le: 0 });
      if (r.sw !== 0x6a88) throw cardRefused(`INITIALIZE UPDATE with the maker's KVN after re-keying (expected 6A88)`, r.sw);
    });
    return { serial: state.serial, kvn: own.kvn, kcv: keyCheckValues(next), alreadyRekeyed: false };
  } finally {
    wipeKeys(next);
  }
}
