/**
 * What a card holds, read from the card itself: the public GET DATA objects of the issuer
 * security domain (serial, lifecycle, key versions) and, with a key set this CS holds, GET
 * STATUS of the applications. Used to resume an interrupted flow and, when it cannot be
 * resumed, to tell the books exactly what the card is (so a blank card can be recorded spoiled).
 *
 *   00 A4 04 0C 08 A0000001 51000000 → 90 00
 *   80 CA 00 45 00 → 45 0A <serial> 90 00
 *   80 CA 9F 70 00 → 9F 70 01 <01 | 07 | 0F | FF> 90 00
 *   80 CA 00 E0 00 → E0 { C0 04 <id> <KVN> 88 <len> } .. 90 00
 *   [channel]  84 F2 40 02 .. 4F 00 → E3 { 4F <AID> 9F70 <07 | 0F | 83> .. 84 <module> } .. 90 00 | 6A 88 (none)
 */
import type { CardTransport } from '../../reader/index.ts';
import { JukiError, toHex } from '../../util/index.ts';
import { wipeKeys, type CardKeySource } from './card-keys.ts';
import {
  cardRefused, findTlv, ISD_AID, isTransportKvn, LIFECYCLE_BY_CODE, MAKER_TRANSPORT_KVN, parseTlvs, plain, SecureSession, select, type CardLifecycle,
} from './wire.ts';

/** Which kind of key set the issuer domain holds now. */
export type IsdKeys = 'maker-transport' | 'transport' | 'issuer' | 'none';

/** An application as GET STATUS lists it. */
export interface CardApplicationState {
  readonly aid: string;
  readonly module: string;
  readonly state: 'installed' | 'personalised' | 'locked' | 'unknown';
}

/** A card as it is now (serial in upper-case hex). */
export interface CardState {
  readonly serial: string;
  readonly lifecycle: CardLifecycle;
  /** The issuer domain's key versions (GET DATA E0). */
  readonly keyVersions: readonly number[];
  readonly keys: IsdKeys;
  /** Present when a channel could be opened with a key set this system holds. */
  readonly applications?: readonly CardApplicationState[];
}

const APP_STATE: Readonly<Record<number, CardApplicationState['state']>> = { 0x07: 'installed', 0x0f: 'personalised', 0x83: 'locked' };

/** The public part: SELECT the ISD and three GET DATA. Leaves the ISD selected. */
export async function readIsdFacts(transport: CardTransport): Promise<{ serial: Uint8Array; state: CardState }> {
  const sel = await select(transport, ISD_AID);
  if (sel !== 0x9000) throw cardRefused('SELECT the issuer security domain', sel);
  const get = async (p1: number, p2: number, tag: number, what: string) => {
    const r = await plain(transport, { cla: 0x80, ins: 0xca, p1, p2, data: new Uint8Array(0), le: 0 });
    if (r.sw !== 0x9000) throw cardRefused(`GET DATA ${what}`, r.sw);
    const v = findTlv(parseTlvs(r.data), tag);
    if (!v) throw new JukiError('JUKI_ERR_CARD_STATUS', `GET DATA ${what}: no tag ${tag.toString(16)} in the answer`);
    return v;
  };
  const serial = (await get(0x00, 0x45, 0x45, 'serial')).slice();
  const lc = await get(0x9f, 0x70, 0x9f70, 'lifecycle');
  const lifecycle = LIFECYCLE_BY_CODE[lc[0] ?? -1];
  if (lc.length !== 1 || !lifecycle) throw new JukiError('JUKI_ERR_CARD_STATUS', `GET DATA lifecycle: unknown code ${toHex(lc)}`);
  const info = parseTlvs(await get(0x00, 0xe0, 0xe0, 'key information'));
  const keyVersions = [...new Set(info.filter((t) => t.tag === 0xc0 && t.value.length >= 2).map((t) => t.value[1]!))].sort((a, b) => a - b);
  return { serial, state: { serial: toHex(serial), lifecycle, keyVersions, keys: classifyKeys(keyVersions) } };
}

export function classifyKeys(kvns: readonly number[]): IsdKeys {
  if (kvns.includes(MAKER_TRANSPORT_KVN)) return 'maker-transport';
  if (kvns.some(isTransportKvn)) return 'transport';
  if (kvns.length) return 'issuer';
  return 'none';
}

/** GET STATUS of the applications over an open ISD session (6A 88: none installed). */
export async function applicationStates(session: SecureSession): Promise<CardApplicationState[]> {
  const r = await session.command(0x80, 0xf2, 0x40, 0x02, Uint8Array.of(0x4f, 0x00), 0);
  if (r.sw === 0x6a88) return [];
  if (r.sw !== 0x9000) throw cardRefused('GET STATUS (applications)', r.sw);
  return parseTlvs(r.data)
    .filter((t) => t.tag === 0xe3)
    .map((e) => {
      const inner = parseTlvs(e.value);
      const code = findTlv(inner, 0x9f70)?.[0];
      return {
        aid: toHex(findTlv(inner, 0x4f) ?? new Uint8Array(0)),
        module: toHex(findTlv(inner, 0x84) ?? new Uint8Array(0)),
        state: (code !== undefined && APP_STATE[code]) || 'unknown',
      };
    });
}

/**
 * The card's state; with `keys`, also its applications (opening the ISD with whichever of the
 * given families the card holds). Never changes the card beyond the ISD's sequence counter.
 */
export async function inspectCard(transport: CardTransport, keys: readonly CardKeySource[] = []): Promise<CardState> {
  const { serial, state } = await readIsdFacts(transport);
  const source = keys.find((k) => state.keyVersions.includes(k.kvn));
  if (!source || state.lifecycle === 'terminated') return state;
  const k = source.keysFor(serial);
  let session: SecureSession;
  try {
    session = await SecureSession.open(transport, k, source.kvn, ISD_AID);
  } catch (e) {
    if (e instanceof JukiError && e.code === 'JUKI_ERR_SCP_AUTHENTICATION') return state;
    throw e;
  } finally {
    wipeKeys(k);
  }
  try {
    return { ...state, applications: await applicationStates(session) };
  } finally {
    session.close();
  }
}

/** A JUKI_ERR_CARD_STATE carrying the state. */
export function cardStateError(message: string, state: CardState, extra: Record<string, unknown> = {}): JukiError {
  return new JukiError('JUKI_ERR_CARD_STATE', `card ${state.serial}: ${message}`, { state, ...extra });
}
