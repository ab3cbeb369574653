/**
 * R3.1.2e (the card's part) and R3.1.2o: personalise a re-keyed blank card at the CS. Every
 * command after the channel opens is C-MAC + C-DECRYPTION (level 33), so the resident's data
 * and the keys cross any relay encrypted, from this process to the card.
 *
 *   00 A4 04 0C 08 A000000151000000 ; 80 CA 00 45 / 9F 70 / 00 E0           serial, lifecycle, KVNs
 *   80 50 70 00 08 .. 00 ; 84 82 33 00 10 ..                                open with the municipality's transport keys
 *   84 F2 40 02 .. 4F 00 ..                                                 what is installed (resume)
 *   84 D8 70 81 Lc E(01 {88 .. E_DEK(key) 03 KCV} ×3) ..                     transport keys → issuer keys
 *   84 E6 0C 00 Lc E(00 0A <basic> 0A <basic> 01 00 02 C900 00) .. 00        INSTALL the basic area
 *   84 E6 20 00 Lc E(00 00 0A <basic> 00 00 00) .. 00                         INSTALL for personalization
 *   84 E2 00|80 nn Lc E(8F01 <basic keys> 0002 <resident code> 0003 .. 0006 <face record>) ..
 *   84 F0 80 07 08 <C-MAC>                                                  SET STATUS personalised
 *   80 CA 9F 70 00 → 9F 70 01 07                                            check
 *
 * The basic area's keys come from the national center's key service wrapped for this one
 * request (key-service.ts), are unwrapped in memory, travel only inside the encrypted STORE
 * DATA (DGI 8F01: the card takes an application's key set there; PUT KEY is the ISD's own
 * keys only, docs/card-protocol.md) and are wiped. The PIN is not set here: the holder sets
 * it on the PIN pad (setPinOnPinPad), which makes the card active (R2.2.1a).
 *
 * Restartable: every run starts by reading what the card holds and skips what is done, so a
 * run cut at any command (power, reader, relay) is finished by running it again on the same
 * card. A card it cannot finish is answered JUKI_ERR_CARD_STATE with the card's state.
 */
import { concatBytes, wipe, type Scp03StaticKeys } from '../../crypto/index.ts';
import type { CardTransport } from '../../reader/index.ts';
import { invalid, JukiError, toHex } from '../../util/index.ts';
import { BASIC_KVN, basicCardKeys, type BasicKeyService } from '../key-service.ts';
import { wipeKeys, type CardKeySource } from './card-keys.ts';
import { applicationStates, cardStateError, readIsdFacts, type CardApplicationState, type CardState } from './card-state.ts';
import { checkPutKeyAnswer, keyCheckValues, putKeyData, type KeyCheckValues } from './rekey.ts';
import { FlowSteps, type CardFlowObserver } from './steps.ts';
import { BASIC_AID, BASIC_FILES, cardRefused, dgi, DGI_KEYSET, findTlv, ISD_AID, parseTlvs, SecureSession, type CardLifecycle } from './wire.ts';

/** What the basic area holds (docs/card-protocol.md, "Basic area"). */
export interface BasicAreaData {
  /** 11 digits. */
  readonly residentCode: string;
  /** ASCII 0-9 A-Z, 1 to 16. */
  readonly cardNumber: string;
  /** The issuing municipality's 6-digit code. */
  readonly municipality: string;
  /** YYYYMMDD. */
  readonly issued: string;
  /** YYYYMMDD, after `issued`. */
  readonly expires: string;
  /** The signed face record (src/face), 1 to 8192 bytes. */
  readonly faceRecord: Uint8Array;
}

export interface PersonalisationPlan {
  readonly data: BasicAreaData;
  /** The municipality's transport keys (KVN 70..7F) the card was re-keyed to on delivery. */
  readonly transportKeys: CardKeySource;
  /** The municipality's issuer keys (KVN 01..6F) that replace them. */
  readonly issuerKeys: CardKeySource;
  /** The national center's key service for the basic area's per-card keys. */
  readonly basicKeys: BasicKeyService;
  readonly basicKvn?: number;
  readonly observer?: CardFlowObserver;
  /** STORE DATA plain bytes per block (default 200: padded and MACed it stays a short APDU). */
  readonly blockSize?: number;
}

export interface PersonalisationResult {
  readonly serial: string;
  readonly cardNumber: string;
  readonly lifecycle: 'personalised';
  readonly issuerKvn: number;
  readonly issuerKcv: KeyCheckValues;
  readonly basicKvn: number;
  readonly basicKcv: KeyCheckValues;
  /** Steps an earlier, interrupted run had already done on this card (empty for a fresh card). */
  readonly foundDone: readonly string[];
  /** The card was already personalised when this run began (an earlier run finished but its answer was lost). */
  readonly alreadyPersonalised: boolean;
}

const DIGITS = /^[0-9]+$/;

/** Validate the plan's data with exact messages; nothing reaches the card before this passes. */
export function checkBasicAreaData(d: BasicAreaData): void {
  if (typeof d.residentCode !== 'string' || d.residentCode.length !== 11 || !DIGITS.test(d.residentCode)) {
    throw invalid('residentCode', `expected 11 digits, got ${typeof d.residentCode === 'string' ? `${d.residentCode.length} characters` : typeof d.residentCode}`, 'JUKI_ERR_INVALID_RESIDENT_CODE');
  }
  if (typeof d.cardNumber !== 'string' || !/^[0-9A-Z]{1,16}$/.test(d.cardNumber)) throw invalid('cardNumber', `expected 1 to 16 characters 0-9 A-Z, got ${JSON.stringify(String(d.cardNumber).slice(0, 20))}`);
  if (typeof d.municipality !== 'string' || !/^[0-9]{6}$/.test(d.municipality)) throw invalid('municipality', `expected 6 digits, got ${JSON.stringify(String(d.municipality).slice(0, 10))}`, 'JUKI_ERR_INVALID_MUNICIPALITY');
  for (const f of ['issued', 'expires'] as const) {
    const v = d[f];
    if (typeof v !== 'string' || !/^[0-9]{8}$/.test(v) || !realDate(v)) throw invalid(f, `expected a date YYYYMMDD, got ${JSON.stringify(String(v).slice(0, 12))}`, 'JUKI_ERR_INVALID_DATE');
  }
  if (d.expires <= d.issued) throw invalid('expires', `expected a date after issued ${d.issued}, got ${d.expires}`, 'JUKI_ERR_INVALID_DATE');
  if (!(d.faceRecord instanceof Uint8Array) || d.faceRecord.length < 1 || d.faceRecord.length > 8192) {
    throw invalid('faceRecord', `expected 1 to 8192 bytes, got ${d.faceRecord instanceof Uint8Array ? d.faceRecord.length : typeof d.faceRecord}`);
  }
}

function realDate(s: string): boolean {
  const y = +s.slice(0, 4), m = +s.slice(4, 6), d = +s.slice(6, 8);
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));

/** The basic area's STORE DATA content: DGI 8F01 key set, then its five files. The caller wipes it. */
export function basicAreaDgis(d: BasicAreaData, keys: Scp03StaticKeys): Uint8Array {
  const keyset = concatBytes(Uint8Array.of(keys.kvn), keys.enc, keys.mac, keys.dek);
  const out = concatBytes(
    dgi(DGI_KEYSET, keyset),
    dgi(BASIC_FILES.residentCode, ascii(d.residentCode)),
    dgi(BASIC_FILES.cardNumber, ascii(d.cardNumber)),
    dgi(BASIC_FILES.municipality, ascii(d.municipality)),
    dgi(BASIC_FILES.validity, ascii(d.issued + d.expires)),
    dgi(BASIC_FILES.faceRecord, d.faceRecord),
  );
  wipe(keyset);
  return out;
}

/** INSTALL [for install and make selectable] data: 00 | Lm module | La instance | 01 00 | 02 C9 00 | 00. */
export function installData(module: Uint8Array, aid: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(0, module.length), module, Uint8Array.of(aid.length), aid, Uint8Array.of(0x01, 0x00, 0x02, 0xc9, 0x00, 0x00));
}

/** Personalise the card behind `transport` (R3.1.2e card, R3.1.2o), resuming whatever an interrupted run left. */
export async function personaliseCard(transport: CardTransport, plan: PersonalisationPlan): Promise<PersonalisationResult> {
  checkBasicAreaData(plan.data);
  const { transportKeys, issuerKeys } = plan;
  const basicKvn = plan.basicKvn ?? BASIC_KVN;
  const blockSize = plan.blockSize ?? 200;
  if (!Number.isInteger(blockSize) || blockSize < 16 || blockSize > 223) throw invalid('blockSize', `expected 16 to 223 bytes, got ${blockSize}`);
  const steps = new FlowSteps('personaliseCard', plan.observer);
  const { serial, state } = await steps.run('read card', () => readIsdFacts(transport));
  const base = { serial: state.serial, cardNumber: plan.data.cardNumber, lifecycle: 'personalised' as const, issuerKvn: issuerKeys.kvn, basicKvn };

  if (state.lifecycle === 'active' || state.lifecycle === 'terminated') throw cardStateError(`expected a blank card, it is ${state.lifecycle}`, state);
  if (state.keys === 'maker-transport') throw cardStateError('the maker\'s transport keys were never replaced (R3.1.1a): re-key the card on delivery first', state);
  const opening = state.keys === 'transport' ? transportKeys : issuerKeys;
  if (state.keys === 'none' || state.keyVersions.length !== 1 || state.keyVersions[0] !== opening.kvn) {
    throw cardStateError(`expected ${opening.label} keys (KVN ${hex2(opening.kvn)}), the card holds KVN ${state.keyVersions.map(hex2).join(', ') || 'none'}`, state);
  }
  const foundDone: string[] = [];
  if (state.keys === 'issuer') foundDone.push('issuer keys in place');

  const openingKeys = opening.keysFor(serial);
  const issuer = issuerKeys.keysFor(serial);
  let session: SecureSession;
  try {
    session = await steps.run(`open with ${opening.label} keys`, async () => {
      try {
        return await SecureSession.open(transport, openingKeys, opening.kvn, ISD_AID);
      } catch (e) {
        if (e instanceof JukiError && e.code === 'JUKI_ERR_SCP_AUTHENTICATION') throw cardStateError(`the ${opening.label} keys this CS holds do not open the card (${e.message})`, state);
        throw e;
      }
    }, { serial: state.serial, kvn: opening.kvn });
  } catch (e) {
    wipeKeys(openingKeys);
    wipeKeys(issuer);
    throw e;
  }
  let basicKeys: Scp03StaticKeys | undefined;
  try {
    const apps = await steps.run('GET STATUS applications', () => applicationStates(session));
    const basicHex = toHex(BASIC_AID);
    const others = apps.filter((a) => a.aid !== basicHex);
    if (others.length) throw cardStateError(`unexpected applications on a card being personalised: ${others.map((a) => a.aid).join(', ')}`, { ...state, applications: apps });
    const basic: CardApplicationState | undefined = apps.find((a) => a.aid === basicHex);
    if (basic?.state === 'locked' || basic?.state === 'unknown') throw cardStateError(`the basic area is ${basic.state}`, { ...state, applications: apps });

    if (state.lifecycle === 'personalised') {
      if (basic?.state !== 'personalised') throw cardStateError('the card is personalised but its basic area is not', { ...state, applications: apps });
      steps.skip('all', { serial: state.serial });
      basicKeys = await basicCardKeys(plan.basicKeys, serial, basicKvn);
      return { ...base, issuerKcv: keyCheckValues(issuer), basicKcv: keyCheckValues(basicKeys), foundDone: ['issuer keys in place', 'basic area personalised', 'status personalised'], alreadyPersonalised: true };
    }

    if (state.keys === 'transport') {
      const answer = await steps.run('PUT KEY issuer keys', () => session.expect('PUT KEY (issuer keys)', 0x80, 0xd8, transportKeys.kvn, 0x81, putKeyData(issuer, openingKeys.dek), 0), { kvn: issuer.kvn });
      checkPutKeyAnswer(answer, issuer);
    } else steps.skip('PUT KEY issuer keys');

    if (!basic) {
      await steps.run('INSTALL basic area', () => session.expect('INSTALL [install and make selectable]', 0x80, 0xe6, 0x0c, 0x00, installData(BASIC_AID, BASIC_AID), 0));
    } else {
      foundDone.push('basic area installed');
      steps.skip('INSTALL basic area');
    }

    if (basic?.state !== 'personalised') {
      basicKeys = await steps.run('basic-area keys from the key service', () => basicCardKeys(plan.basicKeys, serial, basicKvn), { kvn: basicKvn });
      await steps.run('INSTALL for personalization', () => session.expect('INSTALL [for personalization]', 0x80, 0xe6, 0x20, 0x00, concatBytes(Uint8Array.of(0, 0, BASIC_AID.length), BASIC_AID, Uint8Array.of(0, 0, 0)), 0));
      const all = basicAreaDgis(plan.data, basicKeys);
      try {
        const n = Math.ceil(all.length / blockSize);
        for (let b = 0; b < n; b++) {
          const last = b === n - 1;
          await steps.run(`STORE DATA block ${b + 1}/${n}`, () => session.expect(`STORE DATA block ${b}`, 0x80, 0xe2, last ? 0x80 : 0x00, b & 0xff, all.subarray(b * blockSize, (b + 1) * blockSize)));
        }
      } finally {
        wipe(all);
      }
    } else {
      foundDone.push('basic area personalised');
      steps.skip('STORE DATA');
      basicKeys = await basicCardKeys(plan.basicKeys, serial, basicKvn);
    }

    await steps.run('SET STATUS personalised', () => session.expect('SET STATUS personalised', 0x80, 0xf0, 0x80, 0x07));
    const lifecycle = await steps.run('check lifecycle', async () => {
      const r = await session.expect('GET DATA lifecycle', 0x80, 0xca, 0x9f, 0x70, undefined, 0);
      return findTlv(parseTlvs(r), 0x9f70)?.[0];
    });
    if (lifecycle !== 0x07) throw cardRefused('after SET STATUS the lifecycle is not 07', lifecycle ?? 0);
    return { ...base, issuerKcv: keyCheckValues(issuer), basicKcv: keyCheckValues(basicKeys), foundDone, alreadyPersonalised: false };
  } finally {
    session.close();
    wipeKeys(openingKeys);
    wipeKeys(issuer);
    if (basicKeys) wipeKeys(basicKeys);
  }
}

/** Whether a card state reads as issued (personalised or active); a half-personalised card never does. */
export function looksIssued(state: Pick<CardState, 'lifecycle'>): boolean {
  const issued: readonly CardLifecycle[] = ['personalised', 'active'];
  return issued.includes(state.lifecycle);
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
