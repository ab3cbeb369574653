/**
 * Test fixtures for the card: a host that speaks APDUs and SCP03 to a Card, blank-card
 * manufacture, and personalisation over SCP03 (the CS side of R3.1.2e, reduced to what card
 * tests need).
 */
import { randomBytes } from 'node:crypto';
import { MemoryKeyStore, Scp03HostChannel, type KeyStore, type MasterKeys, type Scp03StaticKeys, type SecurityLevel } from '../../src/crypto/index.ts';
import {
  BASIC_AID, BASIC_FID, Card, CARD_MODULES, CommandApdu, ISD_AID, MemoryBlobStore, MemoryCardStore, ORDINANCE_FID, ORDINANCE_MODULE, OPERATOR_AID,
  OPERATOR_FID, ResponseApdu, SealedCardStore, cardIdOf, cardSerial, concat, dgi, keyCheckValue, manufactureBlankCard, type CardStore,
  type ApplicationType, type JpkiInitialSpec,
} from '../../src/card/index.ts';
import { createCipheriv } from 'node:crypto';

/**
 * A KeyStore in memory whose maps tests can copy (the power-cut harness clones a whole
 * "world": image blob and key store). Elsewhere tests use src/crypto's MemoryKeyStore.
 */
export class TestKeyStore implements KeyStore {
  readonly description = 'test-memory';
  keys = new Map<string, Uint8Array>();
  destroyed = new Set<string>();
  counters = new Map<string, number>();
  secretKey(name: string, create = true): Uint8Array {
    if (this.destroyed.has(name)) throw new Error(`key ${name} destroyed`);
    let k = this.keys.get(name);
    if (!k) {
      if (!create) throw new Error(`no key ${name}`);
      k = new Uint8Array(randomBytes(32));
      this.keys.set(name, k);
    }
    return k.slice();
  }
  hasKey(name: string): boolean {
    return this.keys.has(name);
  }
  destroyKey(name: string): void {
    this.keys.get(name)?.fill(0);
    this.keys.delete(name);
    this.destroyed.add(name);
  }
  readCounter(name: string): number {
    return this.counters.get(name) ?? 0;
  }
  advanceCounter(name: string, value: number): void {
    if (value < this.readCounter(name)) throw new Error('counter backwards');
    this.counters.set(name, value);
  }
}

export const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
export const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));

export function keySet(kvn: number, seed: number, len = 16): Scp03StaticKeys {
  const k = (n: number) => Uint8Array.from({ length: len }, (_, i) => (seed * 31 + n * 7 + i * 13) & 0xff);
  return { enc: k(1), mac: k(2), dek: k(3), kvn };
}

/** Fixed keys per card for tests: transport FF, issuer 01, basic 30, operator 31, ordinance 40/41. */
export const KEYS = {
  transport: keySet(0xff, 1),
  issuer: keySet(0x01, 2),
  basic: keySet(0x30, 3),
  operator: keySet(0x31, 4),
  ordA: keySet(0x40, 5),
  ordB: keySet(0x41, 6),
};

export const ORD_A_AID = hex('D392F0004A554B491001');
export const ORD_B_AID = hex('D392F0004A554B491002');

export const PERSON = {
  residentCode: '12345678901',
  cardNumber: 'J000000000000042',
  municipality: '131016',
  validity: '2025010120350101',
  face: 'FACE-RECORD:signed-by-municipality:0123456789',
};

/** A host: sends APDUs, follows 61xx with GET RESPONSE, opens SCP03 channels and wraps/unwraps. */
export class Host {
  channel: Scp03HostChannel | null = null;
  log: string[] = [];
  constructor(readonly card: Card) {}

  /** Send raw bytes; follow 61xx. */
  raw(bytes: Uint8Array): ResponseApdu {
    let r = ResponseApdu.parse(this.card.transmit(bytes));
    let data = r.data;
    while (r.sw1 === 0x61) {
      r = ResponseApdu.parse(this.card.transmit(Uint8Array.of(0x00, 0xc0, 0x00, 0x00, r.sw2)));
      data = concat(data, r.data);
    }
    return new ResponseApdu(data, r.sw);
  }

  send(cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, ne?: number): ResponseApdu {
    return this.raw(CommandApdu.of({ cla, ins, p1, p2, data, ne }).encode());
  }

  select(aid: Uint8Array): ResponseApdu {
    this.channel = null;
    return this.send(0x00, 0xa4, 0x04, 0x0c, aid);
  }

  verify(pin: string, ref = 1): ResponseApdu {
    return this.send(0x00, 0x20, 0x00, 0x80 | ref, ascii(pin));
  }

  /** Open SCP03 on the selected application. Returns the SW of the failing step, or 9000. */
  open(keys: Scp03StaticKeys, level: SecurityLevel = 0x33, kvn = keys.kvn): number {
    const h = new Scp03HostChannel({ keys, level });
    const iu = h.initializeUpdateCommand(kvn);
    const r1 = this.send(iu.cla, iu.ins, iu.p1, iu.p2, iu.data, 256);
    if (r1.sw !== 0x9000) return r1.sw;
    let ea;
    try {
      ea = h.onInitializeUpdateResponse(r1.data, r1.sw);
    } catch {
      return -1; // the card does not hold these keys
    }
    const r2 = this.send(ea.cla, ea.ins, ea.p1, ea.p2, ea.data);
    if (r2.sw !== 0x9000) return r2.sw;
    h.onExternalAuthenticateResponse(r2.sw);
    this.channel = h;
    return 0x9000;
  }

  /** Send a command through the open channel; returns plain data + SW. */
  secure(cla: number, ins: number, p1: number, p2: number, data: Uint8Array = new Uint8Array(0), ne?: number): ResponseApdu {
    const h = this.channel;
    if (!h) throw new Error('no channel');
    const w = h.wrapCommand(ne === undefined ? { cla, ins, p1, p2, data } : { cla, ins, p1, p2, data, le: ne });
    const r = this.raw(CommandApdu.of({ cla: w.cla, ins: w.ins, p1: w.p1, p2: w.p2, data: w.data, ne: w.le === undefined ? undefined : w.le || 256 }).encode());
    if (r.sw >> 8 === 0x69 && r.sw !== 0x6985 && r.sw !== 0x6983 && r.sw !== 0x6984 && r.sw !== 0x6982) this.channel = null;
    return new ResponseApdu(h.unwrapResponse(r.data, r.sw), r.sw);
  }
}

export interface MadeCard {
  card: Card;
  host: Host;
  store: CardStore;
  keyStore: KeyStore;
  serial: Uint8Array;
  blobs?: MemoryBlobStore;
}

let serialSeq = 1;

/**
 * A blank card in a memory (or sealed) store, powered on. Its transport keys are KEYS.transport
 * (fixed, so tests can open the channel without knowing the card), or with `lot` the keys
 * diversified from that lot's transport master and the serial (R2.2.2).
 */
export function blankCard(opts: { durable?: boolean; keyStore?: KeyStore; serial?: Uint8Array; types?: readonly ApplicationType[]; lot?: MasterKeys; jpkiInitial?: JpkiInitialSpec } = {}): MadeCard {
  const serial = opts.serial ?? cardSerial(0x4a4b, 7, serialSeq++);
  const keyStore = opts.keyStore ?? new MemoryKeyStore();
  let store: CardStore;
  let blobs: MemoryBlobStore | undefined;
  if (opts.durable) {
    blobs = new MemoryBlobStore();
    store = new SealedCardStore({ cardId: cardIdOf(serial), keyStore, blobs });
  } else store = new MemoryCardStore(cardIdOf(serial));
  const jpkiInitial = opts.jpkiInitial ? { jpkiInitial: opts.jpkiInitial } : {};
  manufactureBlankCard(store, opts.lot ? { serial, transportMaster: opts.lot, ...jpkiInitial } : { serial, transportKeys: KEYS.transport, ...jpkiInitial });
  const card = new Card({ store, types: opts.types ?? CARD_MODULES });
  card.powerOn();
  return { card, host: new Host(card), store, keyStore, serial, blobs };
}

/** PUT KEY data for a new key set under `dek` (GP Amd D §7.2). */
export function putKeyData(newKeys: Scp03StaticKeys, dek: Uint8Array): Uint8Array {
  const enc = (k: Uint8Array) => {
    const c = createCipheriv(`aes-${dek.length * 8}-cbc`, dek, Buffer.alloc(16));
    c.setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(k), c.final()]));
  };
  const part = (k: Uint8Array) => concat(Uint8Array.of(0x88, k.length + 1, k.length), enc(k), Uint8Array.of(0x03), keyCheckValue(k));
  return concat(Uint8Array.of(newKeys.kvn), part(newKeys.enc), part(newKeys.mac), part(newKeys.dek));
}

/** INSTALL [for install and make selectable] data. */
export function installData(module: Uint8Array, aid: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0), Uint8Array.of(module.length), module, Uint8Array.of(aid.length), aid, hex('0100 02C900 00'));
}

export function keysetDgi(k: Scp03StaticKeys): Uint8Array {
  return dgi(0x8f01, concat(Uint8Array.of(k.kvn), k.enc, k.mac, k.dek));
}

export function basicDgis(p = PERSON): Uint8Array {
  return concat(
    keysetDgi(KEYS.basic),
    dgi(BASIC_FID.residentCode, ascii(p.residentCode)),
    dgi(BASIC_FID.cardNumber, ascii(p.cardNumber)),
    dgi(BASIC_FID.municipality, ascii(p.municipality)),
    dgi(BASIC_FID.validity, ascii(p.validity)),
    dgi(BASIC_FID.faceRecord, ascii(p.face)),
  );
}

/** Install + personalise one application over the ISD channel (already open). Returns the last SW. */
export function installAndPersonalise(host: Host, module: Uint8Array, aid: Uint8Array, dgis: Uint8Array, blockSize = 200): number {
  let r = host.secure(0x80, 0xe6, 0x0c, 0x00, installData(module, aid), 256);
  if (r.sw !== 0x9000) return r.sw;
  r = host.secure(0x80, 0xe6, 0x20, 0x00, concat(hex('0000'), Uint8Array.of(aid.length), aid, hex('000000')), 256);
  if (r.sw !== 0x9000) return r.sw;
  const blocks = Math.max(1, Math.ceil(dgis.length / blockSize));
  for (let b = 0; b < blocks; b++) {
    const last = b === blocks - 1;
    r = host.secure(0x80, 0xe2, last ? 0x80 : 0x00, b, dgis.subarray(b * blockSize, (b + 1) * blockSize));
    if (r.sw !== 0x9000) return r.sw;
  }
  return 0x9000;
}

export interface PersoOptions {
  operator?: boolean;
  ordinance?: boolean;
  /** Stop before SET STATUS (card stays blank). */
  noStatus?: boolean;
  person?: typeof PERSON;
}

/** The CS's personalisation over SCP03 with the transport keys: install + personalise the areas, replace the keys, SET STATUS personalised. */
export function personalise(host: Host, o: PersoOptions = {}): void {
  const must = (sw: number, what: string) => {
    if (sw !== 0x9000) throw new Error(`${what}: ${sw.toString(16)}`);
  };
  must(host.select(ISD_AID).sw, 'select ISD');
  must(host.open(KEYS.transport, 0x33), 'open transport');
  must(installAndPersonalise(host, BASIC_AID, BASIC_AID, basicDgis(o.person)), 'basic');
  if (o.operator) must(installAndPersonalise(host, OPERATOR_AID, OPERATOR_AID, concat(keysetDgi(KEYS.operator), dgi(OPERATOR_FID.staffId, ascii('STAFF-0042')))), 'operator');
  if (o.ordinance) {
    must(installAndPersonalise(host, ORDINANCE_MODULE, ORD_A_AID, concat(keysetDgi(KEYS.ordA), dgi(ORDINANCE_FID.userNumber, ascii('LIB-A-0001')), dgi(ORDINANCE_FID.serviceData, ascii('A-SECRET-SERVICE-DATA')))), 'ordinance A');
    must(installAndPersonalise(host, ORDINANCE_MODULE, ORD_B_AID, concat(keysetDgi(KEYS.ordB), dgi(ORDINANCE_FID.userNumber, ascii('SEAL-B-0002')), dgi(ORDINANCE_FID.serviceData, ascii('B-SECRET-SERVICE-DATA')))), 'ordinance B');
  }
  must(host.secure(0x80, 0xd8, KEYS.transport.kvn, 0x81, putKeyData(KEYS.issuer, KEYS.transport.dek), 256).sw, 'put key');
  if (!o.noStatus) must(host.secure(0x80, 0xf0, 0x80, 0x07).sw, 'set status');
}

/** A personalised card with the holder's PIN set (active). */
export function activeCard(opts: { durable?: boolean; pin?: string; pins?: Record<string, string>; types?: readonly ApplicationType[]; extra?: (host: Host) => void; serial?: Uint8Array; jpkiInitial?: JpkiInitialSpec } & PersoOptions = {}): MadeCard {
  const m = blankCard(opts);
  personalise(m.host, opts);
  opts.extra?.(m.host);
  const pin = opts.pin ?? '1234';
  const aids = [BASIC_AID, ...(opts.operator ? [OPERATOR_AID] : []), ...(opts.ordinance ? [ORD_A_AID, ORD_B_AID] : [])].map((a) => Buffer.from(a).toString('hex').toUpperCase());
  for (const extra of Object.keys(opts.pins ?? {})) if (!aids.includes(extra)) aids.push(extra);
  for (const aid of aids.map(hex)) {
    if (m.host.select(aid).sw !== 0x9000) throw new Error('select');
    const r = m.host.send(0x00, 0x24, 0x01, 0x81, ascii(opts.pins?.[Buffer.from(aid).toString('hex').toUpperCase()] ?? pin));
    if (r.sw !== 0x9000) throw new Error(`set pin ${r.sw.toString(16)}`);
  }
  return m;
}

/** SELECT basic, VERIFY, open SCP03 with the basic keys, read the resident code under SM. */
export function readResidentCode(host: Host, pin = '1234'): { sw: number; data: Uint8Array } {
  let r = host.select(BASIC_AID);
  if (r.sw !== 0x9000) return r;
  r = host.verify(pin);
  if (r.sw !== 0x9000) return r;
  const sw = host.open(KEYS.basic, 0x33);
  if (sw !== 0x9000) return { sw, data: new Uint8Array(0) };
  return host.secure(0x00, 0xb0, 0x82, 0x00, undefined, 256);
}

export const sw = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
