/**
 * The issuer security domain (GP 2.3 §7.1): the issuing municipality's agent on the card.
 * It holds the transport keys while the card is blank (R2.2.2) and the issuer keys after,
 * manages content (INSTALL, STORE DATA, DELETE), its own keys (PUT KEY) and the card's
 * lifecycle (SET STATUS). Everything but SELECT, the channel opening and GET DATA needs a
 * channel opened with its keys; personal data and keys need C-DECRYPTION too.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { allows, issuer, type SecurityView } from './access.ts';
import type { CommandApdu } from './apdu.ts';
import type { ApplicationType, Reply, SelectionState } from './application.ts';
import type { AppRecord, CardImage, CardLifecycle, KeySetRecord } from './image.ts';
import { unsetPin } from './pin.ts';
import { externalAuthenticate, initializeUpdate, type KeySetOffer } from './security-domain.ts';
import { SW, refuse } from './sw.ts';
import { concat, parseDgis, parseTlvs, findTlv, tlv, type Dgi } from './tlv.ts';
import type { PreparedStaticKeys } from '../crypto/index.ts';
import { toHex } from '../util/index.ts';

/** The GP default ISD AID (GP 2.3 §H.1): A0 00 00 01 51 00 00 00. */
export const ISD_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00);

/** KVN of the maker's transport key set on a blank card (GP's initial key set number). */
export const MAKER_TRANSPORT_KVN = 0xff;
/** KVNs 70..7F: transport keys re-keyed by the municipality on receipt (R3.1.1a). KVNs 01..6F: issuer and application keys. */
export function isTransportKvn(kvn: number): boolean {
  return kvn >= 0x70;
}

/** DGI carrying an application security domain's key set: KVN ‖ K-ENC ‖ K-MAC ‖ K-DEK (16 or 32 bytes each). */
export const DGI_KEYSET = 0x8f01;
/** Most applications a card holds (memory is finite). */
export const MAX_APPS = 16;
const MAX_STAGED = 32 * 1024;

/** GP 2.3 §11.1.1 card lifecycle coding. */
export const LIFECYCLE_CODE: Record<CardLifecycle, number> = { blank: 0x01, personalised: 0x07, active: 0x0f, terminated: 0xff };

/** Personalisation in progress: STORE DATA blocks kept in RAM until the last one, then applied in one write (R3.1.2e). */
export interface PersoSession {
  readonly record: AppRecord;
  readonly type: ApplicationType;
  readonly blocks: Uint8Array[];
  next: number;
  size: number;
}

export interface IsdContext {
  readonly image: CardImage;
  readonly state: SelectionState;
  readonly view: SecurityView;
  readonly types: ReadonlyMap<string, ApplicationType>;
  perso: PersoSession | null;
  persist(): void;
  /** The card's prepared (transient) form of a key set, so INITIALIZE UPDATE does not set up its CMAC keys each time. */
  readonly prepared?: (set: KeySetRecord) => PreparedStaticKeys;
}

/** The ISD's key sets as INITIALIZE UPDATE offers (pseudo-random challenge, so scripts can be pre-computed: GP Amd D §6.2.2.1). */
export function isdOffers(image: CardImage): KeySetOffer[] {
  return image.isd.keys.map((set) => ({ set, owner: 'issuer' as const, pseudoRandom: true, sdAid: ISD_AID }));
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Find an application record by instance AID. */
export function findApp(image: CardImage, aid: Uint8Array): AppRecord | undefined {
  return image.apps.find((a) => eq(a.aid, aid));
}

/** Read the GP length-prefixed fields of INSTALL data (GP 2.3 §11.5.2.3): L1 V1 L2 V2 ... */
function lvFields(data: Uint8Array, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  for (let k = 0; k < count; k++) {
    if (i >= data.length) refuse(SW.INCORRECT_DATA);
    const n = data[i++]!;
    if (i + n > data.length) refuse(SW.INCORRECT_DATA);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

function needChannel(ctx: IsdContext, confidential: boolean): void {
  if (!allows(issuer(confidential), ctx.view, 'update')) refuse(SW.SECURITY_NOT_SATISFIED);
}

function notTerminated(ctx: IsdContext): void {
  if (ctx.image.lifecycle === 'terminated') refuse(SW.CONDITIONS_NOT_SATISFIED);
}

function wipeRecord(r: AppRecord): void {
  for (const f of Object.values(r.files)) f.fill(0);
  for (const k of Object.values(r.keys)) k.fill(0);
  for (const s of r.sd.keys) wipeKeySet(s);
  for (const p of Object.values(r.pins)) p.sealed?.fill(0);
}

function wipeKeySet(s: KeySetRecord): void {
  s.enc.fill(0);
  s.mac.fill(0);
  s.dek.fill(0);
}

/**
 * GET DATA (GP 2.3 §11.3), public:
 *   80 CA 00 45 00 → 45 0A <serial> 90 00        (card image number: the serial)
 *   80 CA 9F 70 00 → 9F 70 01 <lifecycle> 90 00  (01 blank, 07 personalised, 0F active, FF terminated)
 *   80 CA 00 E0 00 → E0 { C0 04 <id> <kvn> 88 <len> } 90 00 (key information template)
 */
function getData(cmd: CommandApdu, ctx: IsdContext): Reply {
  const tag = (cmd.p1 << 8) | cmd.p2;
  if (tag === 0x0045) return { data: tlv(0x45, ctx.image.serial), sw: SW.OK };
  if (tag === 0x9f70) return { data: tlv(0x9f70, Uint8Array.of(LIFECYCLE_CODE[ctx.image.lifecycle])), sw: SW.OK };
  if (tag === 0x00e0) {
    const infos = ctx.image.isd.keys.flatMap((s) => [1, 2, 3].map((id) => tlv(0xc0, Uint8Array.of(id, s.kvn, 0x88, s.enc.length))));
    return { data: tlv(0xe0, concat(...infos)), sw: SW.OK };
  }
  return refuse(SW.REF_DATA_NOT_FOUND);
}

/**
 * INSTALL (GP 2.3 §11.5).
 *   [for install and make selectable] 80 E6 0C 00 Lc  00 | Lm <module AID> | La <instance AID> | 01 00 | 02 C9 00 | 00
 *     R: 00 90 00 | 6A 88 (no such module) | 6A 80 (AID in use, malformed, second singleton) | 6A 84 (full)
 *   [for personalization] 80 E6 20 00 Lc  00 00 La <instance AID> 00 00 00   R: 00 90 00 | 6A 88 | 69 85 (already personalised)
 */
function install(cmd: CommandApdu, ctx: IsdContext): Reply {
  needChannel(ctx, false);
  notTerminated(ctx);
  if (cmd.p2 !== 0x00) refuse(SW.INCORRECT_P1P2);
  if (cmd.p1 === 0x20) {
    const [, , aid] = lvFields(cmd.data, 3);
    const record = findApp(ctx.image, aid!);
    if (!record) refuse(SW.REF_DATA_NOT_FOUND);
    if (record.lifecycle !== 'installed') refuse(SW.CONDITIONS_NOT_SATISFIED);
    const type = ctx.types.get(toHex(record.module));
    if (!type) refuse(SW.REF_DATA_NOT_FOUND);
    ctx.perso = { record, type, blocks: [], next: 0, size: 0 };
    return { data: Uint8Array.of(0), sw: SW.OK };
  }
  if (cmd.p1 !== 0x0c && cmd.p1 !== 0x04) refuse(SW.INCORRECT_P1P2);
  const [, module, aidIn] = lvFields(cmd.data, 6);
  const type = ctx.types.get(toHex(module!));
  if (!type) refuse(SW.REF_DATA_NOT_FOUND); // R6.1.1: only the modules the card carries can be instantiated
  const aid = aidIn!.length ? aidIn!.slice() : type.defaultAid?.slice();
  if (!aid || aid.length < 5 || aid.length > 16) refuse(SW.INCORRECT_DATA);
  if (type.singleton && (!type.defaultAid || !eq(aid, type.defaultAid))) refuse(SW.INCORRECT_DATA);
  if (eq(aid, ISD_AID) || findApp(ctx.image, aid)) refuse(SW.INCORRECT_DATA);
  if (type.singleton && ctx.image.apps.some((a) => eq(a.module, type.module))) refuse(SW.INCORRECT_DATA);
  if (ctx.image.apps.length >= MAX_APPS) refuse(SW.NOT_ENOUGH_MEMORY);
  // A module whose domain takes the maker's initial key set (the JPKI area, R5.1): the card must carry one for it.
  const initial = type.initialKeyKvn === undefined ? undefined : ctx.image.initialKeys?.find((k) => eq(k.module, type.module) && k.set.kvn === type.initialKeyKvn);
  if (type.initialKeyKvn !== undefined && !initial) refuse(SW.CONDITIONS_NOT_SATISFIED);
  const pins: AppRecord['pins'] = {};
  for (const p of type.files.pinDefs) pins[p.policy.ref] = unsetPin(p.policy);
  ctx.image.apps.push({ aid, module: type.module.slice(), lifecycle: 'installed', sd: { keys: initial ? [initial.set] : [] }, files: {}, pins, keys: {} });
  // The set moves to the instance's domain in the same write: it is never in two places, nor lost.
  if (initial) ctx.image.initialKeys = ctx.image.initialKeys!.filter((k) => k !== initial);
  ctx.persist();
  return { data: Uint8Array.of(0), sw: SW.OK };
}

/** Validate an application key-set DGI: KVN ‖ ENC ‖ MAC ‖ DEK. */
function keySetFromDgi(v: Uint8Array, image: CardImage): KeySetRecord {
  const n = (v.length - 1) / 3;
  if (n !== 16 && n !== 32) refuse(SW.INCORRECT_DATA);
  const kvn = v[0]!;
  // Application KVNs live below the transport range and apart from the ISD's, so INITIALIZE UPDATE P1 is unambiguous.
  if (kvn === 0 || isTransportKvn(kvn) || image.isd.keys.some((s) => s.kvn === kvn) || image.initialKeys?.some((k) => k.set.kvn === kvn)) refuse(SW.INCORRECT_DATA);
  return { kvn, enc: v.slice(1, 1 + n), mac: v.slice(1 + n, 1 + 2 * n), dek: v.slice(1 + 2 * n), sequence: 0 };
}

/**
 * Apply a whole personalisation (all STORE DATA blocks) to an application, all or nothing:
 * DGI 8F01 key sets, DGI = FID for transparent EFs, the rest to the type's own hook.
 */
export function personaliseApp(image: CardImage, record: AppRecord, type: ApplicationType, dgis: readonly Dgi[], random: (n: number) => Uint8Array): void {
  const sets: KeySetRecord[] = [];
  const files: Record<number, Uint8Array> = {};
  const rest: Dgi[] = [];
  const bound = type.initialKeyKvn !== undefined;
  for (const d of dgis) {
    if (d.dgi === DGI_KEYSET) {
      // A domain bound to the maker's initial set takes no key from the ISD (R5.1): only its own PUT KEY changes it.
      if (bound) refuse(SW.INCORRECT_DATA);
      const s = keySetFromDgi(d.value, image);
      if (sets.some((x) => x.kvn === s.kvn)) refuse(SW.INCORRECT_DATA);
      sets.push(s);
      continue;
    }
    const def = d.dgi < 0x8000 ? type.files.fid(d.dgi) : undefined;
    if (def) {
      if (def.kind !== 'binary' || d.value.length > def.size || files[def.fid]) refuse(SW.INCORRECT_DATA);
      if (type.validateFile && !type.validateFile(def.fid, d.value)) refuse(SW.INCORRECT_DATA);
      files[def.fid] = d.value.slice();
      continue;
    }
    rest.push(d);
  }
  if (bound ? record.sd.keys.length === 0 : sets.length === 0) refuse(SW.INCORRECT_DATA);
  for (const fid of type.requiredFiles) if (!files[fid]) refuse(SW.INCORRECT_DATA);
  if (rest.length && !type.personalise) refuse(SW.INCORRECT_DATA);
  const extra = type.personalise?.(rest, { serial: image.serial, random }) ?? {};
  // Everything validated: now mutate, all at once.
  if (!bound) record.sd.keys = sets;
  record.files = { ...files, ...extra.files };
  record.keys = { ...extra.keys };
  record.lifecycle = 'personalised';
}

/**
 * STORE DATA (GP 2.3 §11.11) to the application named by INSTALL [for personalization].
 *   84 E2 <P1: 80 = last block> <P2: block number 00, 01, ...> Lc <DGIs, encrypted by C-DECRYPTION> <C-MAC>
 *   R: 90 00 (block kept in RAM) | on the last block 90 00 after one atomic write | 6A 80 | 6A 86 | 69 85
 */
function storeData(cmd: CommandApdu, ctx: IsdContext, random: (n: number) => Uint8Array): Reply {
  needChannel(ctx, true);
  notTerminated(ctx);
  const p = ctx.perso;
  if (!p) refuse(SW.CONDITIONS_NOT_SATISFIED);
  if (cmd.p2 !== (p.next & 0xff)) refuse(SW.INCORRECT_P1P2);
  if (p.size + cmd.data.length > MAX_STAGED) {
    ctx.perso = null;
    refuse(SW.NOT_ENOUGH_MEMORY);
  }
  p.blocks.push(cmd.data.slice());
  p.next++;
  p.size += cmd.data.length;
  if (!(cmd.p1 & 0x80)) return { sw: SW.OK };
  ctx.perso = null;
  const all = concat(...p.blocks);
  p.blocks.forEach((b) => b.fill(0));
  try {
    if (p.record.lifecycle !== 'installed' || !ctx.image.apps.includes(p.record)) refuse(SW.CONDITIONS_NOT_SATISFIED);
    personaliseApp(ctx.image, p.record, p.type, parseDgis(all), random);
  } finally {
    all.fill(0);
  }
  ctx.persist();
  return { sw: SW.OK };
}

/**
 * DELETE (GP 2.3 §11.2): an application and its data, which is zeroised.
 *   80 E4 00 00 Lc 4F <L> <AID>   R: 00 90 00 | 6A 88 (not found)
 */
function deleteApp(cmd: CommandApdu, ctx: IsdContext): Reply {
  needChannel(ctx, false);
  notTerminated(ctx);
  if (cmd.p1 !== 0x00 || (cmd.p2 !== 0x00 && cmd.p2 !== 0x80)) refuse(SW.INCORRECT_P1P2);
  const aid = findTlv(parseTlvs(cmd.data), 0x4f);
  if (!aid) refuse(SW.INCORRECT_DATA);
  const record = findApp(ctx.image, aid);
  if (!record) refuse(SW.REF_DATA_NOT_FOUND);
  if (ctx.perso?.record === record) ctx.perso = null;
  ctx.image.apps = ctx.image.apps.filter((a) => a !== record);
  ctx.persist();
  wipeRecord(record);
  return { data: Uint8Array.of(0), sw: SW.OK };
}

function aesCbc(decrypt: boolean, key: Uint8Array, data: Uint8Array): Uint8Array {
  const alg = `aes-${key.length * 8}-cbc`;
  const c = decrypt ? createDecipheriv(alg, key, Buffer.alloc(16)) : createCipheriv(alg, key, Buffer.alloc(16));
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** GP Amd D §7.2 key check value: the first 3 bytes of AES(key, 16 × 01). */
export function keyCheckValue(key: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(Buffer.alloc(16, 1)), c.final()])).subarray(0, 3);
}

/**
 * PUT KEY (GP 2.3 §11.8, AES per Amd D §7.2): replace (P1 = old KVN) or add (P1 = 00) an
 * ISD key set; each key encrypted with the static K-DEK of the key set the channel was
 * opened with (AES-CBC, zero ICV). This is how personalisation replaces the transport keys.
 *   84 D8 <old KVN|00> 81 Lc <new KVN> {88 <1+n> <n> <E(key) n> 03 <KCV 3>} ×3 <C-MAC>
 *   R: <new KVN> <KCV ENC> <KCV MAC> <KCV DEK> 90 00 | 6A 80 (bad KCV or format) | 6A 88 (no such old KVN)
 */
function putKey(cmd: CommandApdu, ctx: IsdContext): Reply {
  needChannel(ctx, true);
  notTerminated(ctx);
  if (cmd.p2 !== 0x81) refuse(SW.INCORRECT_P1P2);
  const dek = ctx.state.keyset?.dek;
  if (!dek) refuse(SW.SECURITY_NOT_SATISFIED);
  const { kvn, keys, kcvs } = parsePutKeyData(cmd.data, dek);
  const sets = ctx.image.isd.keys;
  if (cmd.p1 !== 0) {
    const old = sets.find((s) => s.kvn === cmd.p1);
    if (!old) refuse(SW.REF_DATA_NOT_FOUND);
    if (kvn !== cmd.p1 && sets.some((s) => s.kvn === kvn)) refuse(SW.INCORRECT_DATA);
  } else if (sets.some((s) => s.kvn === kvn) || sets.length >= 4) refuse(SW.INCORRECT_DATA);
  if (ctx.image.apps.some((a) => a.sd.keys.some((s) => s.kvn === kvn)) || ctx.image.initialKeys?.some((k) => k.set.kvn === kvn)) refuse(SW.INCORRECT_DATA);
  const replaced = cmd.p1 !== 0 ? sets.find((s) => s.kvn === cmd.p1) : undefined;
  ctx.image.isd.keys = [...sets.filter((s) => s !== replaced), { kvn, enc: keys[0]!, mac: keys[1]!, dek: keys[2]!, sequence: 0 }];
  ctx.persist();
  // The replaced keys are gone from the image; zeroise the RAM copy (the open session keeps its own session keys).
  if (replaced && replaced !== ctx.state.keyset) wipeKeySet(replaced);
  return { data: concat(Uint8Array.of(kvn), ...kcvs), sw: SW.OK };
}

/**
 * PUT KEY data (GP 2.3 §11.8.2.3, AES per Amd D §7.2), checked: new KVN ‖ {88 <1+n> <n> E(key) 03 KCV} ×3,
 * each key decrypted with `dek` (the static K-DEK of the channel's key set) and its KCV checked.
 * Refuses (6A 80, 67 00) anything malformed or a KCV that does not match. Shared by the ISD and the JPKI domain.
 */
export function parsePutKeyData(d: Uint8Array, dek: Uint8Array): { kvn: number; keys: Uint8Array[]; kcvs: Uint8Array[] } {
  if (d.length < 1) refuse(SW.WRONG_LENGTH);
  const kvn = d[0]!;
  if (kvn === 0) refuse(SW.INCORRECT_DATA);
  const keys: Uint8Array[] = [];
  const kcvs: Uint8Array[] = [];
  let i = 1;
  for (let k = 0; k < 3; k++) {
    if (i + 3 > d.length || d[i] !== 0x88) refuse(SW.INCORRECT_DATA);
    const len = d[i + 1]!;
    const n = d[i + 2]!;
    if ((n !== 16 && n !== 32) || len !== n + 1 || n !== dek.length || i + 2 + len + 4 > d.length) refuse(SW.INCORRECT_DATA);
    const key = aesCbc(true, dek, d.subarray(i + 3, i + 3 + n));
    i += 2 + len;
    if (d[i] !== 0x03) refuse(SW.INCORRECT_DATA);
    const kcv = keyCheckValue(key);
    if (!kcv.every((x, j) => x === d[i + 1 + j])) {
      keys.forEach((x) => x.fill(0));
      key.fill(0);
      refuse(SW.INCORRECT_DATA);
    }
    i += 4;
    keys.push(key);
    kcvs.push(kcv);
  }
  if (i !== d.length) {
    keys.forEach((x) => x.fill(0));
    refuse(SW.WRONG_LENGTH);
  }
  return { kvn, keys, kcvs };
}

/**
 * SET STATUS (GP 2.3 §11.10) of the card (P1 = 80):
 *   80 F0 80 07 → personalised: needs no transport key set left (R2.2.2) and every application that activates the card personalised
 *   80 F0 80 FF → terminated: irreversible; every application's data and keys are zeroised, and any JPKI initial set not yet bound
 *   (0F, active, is refused: only the holder setting the PIN makes a card active, R2.2.1a)
 *   R: 90 00 | 69 85 | 6A 86
 */
function setStatus(cmd: CommandApdu, ctx: IsdContext): Reply {
  needChannel(ctx, false);
  notTerminated(ctx);
  if (cmd.p1 !== 0x80) refuse(SW.INCORRECT_P1P2);
  if (cmd.p2 === 0x07) {
    if (ctx.image.lifecycle !== 'blank') refuse(SW.CONDITIONS_NOT_SATISFIED);
    if (ctx.image.isd.keys.length === 0 || ctx.image.isd.keys.some((s) => isTransportKvn(s.kvn))) refuse(SW.CONDITIONS_NOT_SATISFIED);
    const activating = ctx.image.apps.filter((a) => ctx.types.get(toHex(a.module))?.activatesCard);
    if (activating.length === 0 || activating.some((a) => a.lifecycle !== 'personalised')) refuse(SW.CONDITIONS_NOT_SATISFIED);
    ctx.image.lifecycle = 'personalised';
    ctx.persist();
    return { sw: SW.OK };
  }
  if (cmd.p2 === 0xff) {
    ctx.image.lifecycle = 'terminated';
    const gone = ctx.image.apps;
    const initial = ctx.image.initialKeys ?? [];
    ctx.image.apps = [];
    // A JPKI initial set never bound to an area goes too (R5.1): a terminated card holds no key a maker could use.
    if (initial.length) ctx.image.initialKeys = [];
    ctx.persist();
    gone.forEach(wipeRecord);
    initial.forEach((k) => wipeKeySet(k.set));
    return { sw: SW.OK };
  }
  return refuse(cmd.p2 === 0x0f ? SW.CONDITIONS_NOT_SATISFIED : SW.INCORRECT_P1P2);
}

const APP_CODE = { installed: 0x07, personalised: 0x0f, locked: 0x83 } as const;

/**
 * GET STATUS (GP 2.3 §11.4), P2 = 02 (TLV):
 *   80 F2 80 02 02 4F 00 00 → E3 { 4F <ISD AID> 9F70 <card lifecycle> C5 <privileges> } 90 00
 *   80 F2 40 02 02 4F 00 00 → E3 { 4F <AID> 9F70 <07|0F|83> C5 00 00 00 84 <module AID> } ... 90 00
 */
function getStatus(cmd: CommandApdu, ctx: IsdContext): Reply {
  needChannel(ctx, false);
  if (cmd.p2 !== 0x02) refuse(SW.INCORRECT_P1P2);
  if (cmd.p1 === 0x80) {
    return { data: tlv(0xe3, tlv(0x4f, ISD_AID), tlv(0x9f70, Uint8Array.of(LIFECYCLE_CODE[ctx.image.lifecycle])), tlv(0xc5, Uint8Array.of(0x9e, 0xfe, 0x80))), sw: SW.OK };
  }
  if (cmd.p1 !== 0x40) refuse(SW.INCORRECT_P1P2);
  if (ctx.image.apps.length === 0) refuse(SW.REF_DATA_NOT_FOUND);
  const entries = ctx.image.apps.map((a) =>
    tlv(0xe3, tlv(0x4f, a.aid), tlv(0x9f70, Uint8Array.of(APP_CODE[a.lifecycle])), tlv(0xc5, Uint8Array.of(0, 0, 0)), tlv(0x84, a.module)));
  return { data: concat(...entries), sw: SW.OK };
}

/** Dispatch a command to the ISD (already unwrapped if it came under SM). */
export function processIsd(cmd: CommandApdu, ctx: IsdContext, serial: Uint8Array, random: (n: number) => Uint8Array): Reply {
  const proprietary = (cmd.cla & 0x80) !== 0;
  switch (cmd.ins) {
    case 0x50:
      if (!proprietary) refuse(SW.CLA_NOT_SUPPORTED);
      notTerminated(ctx);
      return initializeUpdate(cmd, isdOffers(ctx.image), serial, ctx.state, ctx.persist, ctx.prepared);
    case 0x82:
      if (!proprietary) refuse(SW.CLA_NOT_SUPPORTED);
      return { sw: externalAuthenticate(cmd, ctx.state) };
    case 0xca:
      return getData(cmd, ctx);
  }
  if (!proprietary) refuse(SW.INS_NOT_SUPPORTED);
  switch (cmd.ins) {
    case 0xe6:
      return install(cmd, ctx);
    case 0xe2:
      return storeData(cmd, ctx, random);
    case 0xe4:
      return deleteApp(cmd, ctx);
    case 0xd8:
      return putKey(cmd, ctx);
    case 0xf0:
      return setStatus(cmd, ctx);
    case 0xf2:
      return getStatus(cmd, ctx);
  }
  return refuse(SW.INS_NOT_SUPPORTED);
}

export type { Dgi };
