/**
 * The JPKI area (公的個人認証AP), byte-compatible with the JPKI application of the My Number
 * card as OpenSC's `jpki` driver, jpki/myna, jpki-rs, TRET and jsapdu drive it
 * (reference/jpki-application.md §1–§9). Token `JPKIAPICCTOKEN` (the Juki card).
 *
 *   AID  D3 92 F0 00 26 01 00 00 00 01
 *   EF 0001 sign certificate      READ after the sign password (001B)   [R5.2.2: the certificate]
 *   EF 0002 sign CA certificate   free
 *   EF 0006 token (160 bytes)     free
 *   EF 0008 availability (3)      free: 8F|00 8F|00 00 (sign cert present, auth cert present)
 *   EF 000A auth certificate      free (no personal data: checked when written)
 *   EF 000B auth CA certificate   free
 *   EF 0017 auth key  (RSA-2048)  80 2A after the auth PIN (0018: 4 digits, 3 tries)
 *   EF 001A sign key  (RSA-2048)  80 2A after the sign password (001B: 6-16 of A-Z 0-9, 5 tries)
 *
 * The key pairs are generated on the card (R5.2.1) by GENERATE ASYMMETRIC KEY PAIR over the
 * JPKI security domain's own channel; only the public key ever leaves. Certificates are written
 * with STORE DATA over the same channel, and nothing else can be written (R5.2.2): this table is
 * the whole schema, no command creates a file, and each certificate EF accepts only a
 * certificate that fits its role (see `checkCertificate`). The ISD's STORE DATA at install
 * (the municipality's channel) carries nothing: it cannot write any file
 * here (R5.1), and no key either: the domain's key set is the maker's initial set (KVN 4F, bound at
 * INSTALL), which the jpki role replaces by its own (KVN 50) with PUT KEY over the domain's channel.
 * The holder sets both PINs locally with CHANGE REFERENCE DATA P1=01.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, privateEncrypt, constants, X509Certificate, type KeyObject } from 'node:crypto';
import { allows, always, channel, never, pin } from '../access.ts';
import type { ApplicationType, AppContext, Handler, SelectionState } from '../application.ts';
import { verify as commonVerify } from '../commands.ts';
import { FileTable, type KeyEfDef, type PinEfDef } from '../files.ts';
import { SW, refuse } from '../sw.ts';
import { concat, parseDgis, tlv } from '../tlv.ts';
import { parsePutKeyData } from '../issuer-domain.ts';

export const JPKI_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01);

export const JPKI_FID = {
  signCert: 0x0001,
  signCaCert: 0x0002,
  token: 0x0006,
  availability: 0x0008,
  authCert: 0x000a,
  authCaCert: 0x000b,
  authKey: 0x0017,
  authPin: 0x0018,
  signKey: 0x001a,
  signPin: 0x001b,
} as const;

/** PIN references = the PIN EF's low 5 bits: VERIFY P2 = 98 (auth) / 9B (sign), or 80 after SELECT of the EF. */
export const JPKI_AUTH_PIN_REF = 0x18;
export const JPKI_SIGN_PIN_REF = 0x1b;
/** Key references = the key EF's low 5 bits: 80 2A / 00 46 P2 = 97 (auth) / 9A (sign), or 80 after SELECT of the EF. */
export const JPKI_AUTH_KEY_REF = 0x17;
export const JPKI_SIGN_KEY_REF = 0x1a;
/** The KVN of the JPKI security domain's final key set (put by the jpki role with PUT KEY, held only by it). */
export const JPKI_SD_KVN = 0x50;
/**
 * The KVN of the maker's initial JPKI key set (per card, from the JPKI initial master the jpki
 * side shares with the maker): INSTALL binds the JPKI domain to it; the jpki role replaces it.
 * 4F: below the final set's 50..5F, apart from the ISD's (01, transport 70..FF) and the basic area's (30).
 */
export const JPKI_SD_INITIAL_KVN = 0x4f;
/** RSA modulus size: the OpenSC driver and its PKCS#15 emulator hard-code 2048 bits (reference §6.2). */
export const JPKI_KEY_BITS = 2048;
/** Largest input of `80 2A` with P1 = 00: k − 11 bytes of PKCS#1 v1.5 type-01 padding (RFC 8017 §9.2). */
export const JPKI_MAX_SIGN_INPUT = JPKI_KEY_BITS / 8 - 11;
const CERT_EF_SIZE = 2048;
const TOKEN_SIZE = 160;
const MAX_STAGED = 16 * 1024;

export type JpkiToken = 'JPKIAPICCTOKEN' | 'JPKIAPICCTOKEN2';

/** EF 0006: the token name space-padded to 32 bytes, then filler to 160 (reference §1.2). */
export function jpkiTokenFile(token: JpkiToken = 'JPKIAPICCTOKEN'): Uint8Array {
  const out = new Uint8Array(TOKEN_SIZE).fill(0x20);
  out.set(new TextEncoder().encode(token));
  return out;
}

/** The certificate EF a key's certificate lives in. */
const CERT_OF_KEY: Record<number, number> = { [JPKI_AUTH_KEY_REF]: JPKI_FID.authCert, [JPKI_SIGN_KEY_REF]: JPKI_FID.signCert };

export const JPKI_FILES = new FileTable([
  { kind: 'binary', fid: JPKI_FID.signCert, sfi: 0x01, name: 'sign certificate (X.509 DER)', size: CERT_EF_SIZE, read: pin(JPKI_SIGN_PIN_REF), update: never },
  { kind: 'binary', fid: JPKI_FID.signCaCert, sfi: 0x02, name: 'sign CA certificate', size: CERT_EF_SIZE, read: always, update: never },
  { kind: 'binary', fid: JPKI_FID.token, sfi: 0x06, name: 'token information', size: TOKEN_SIZE, read: always, update: never },
  { kind: 'binary', fid: JPKI_FID.availability, sfi: 0x08, name: 'certificate availability', size: 3, read: always, update: never },
  { kind: 'binary', fid: JPKI_FID.authCert, sfi: 0x0a, name: 'user-authentication certificate', size: CERT_EF_SIZE, read: always, update: never },
  { kind: 'binary', fid: JPKI_FID.authCaCert, sfi: 0x0b, name: 'user-authentication CA certificate', size: CERT_EF_SIZE, read: always, update: never },
  { kind: 'key', fid: JPKI_FID.authKey, ref: JPKI_AUTH_KEY_REF, name: 'user-authentication private key (RSA-2048)', use: pin(JPKI_AUTH_PIN_REF) },
  {
    kind: 'pin',
    fid: JPKI_FID.authPin,
    name: 'user-authentication PIN (4 digits)',
    policy: { ref: JPKI_AUTH_PIN_REF, minLength: 4, maxLength: 4, alphabet: 'digits', maxTries: 3, blockedSw: SW.REF_DATA_NOT_USABLE },
    unblock: channel(),
  },
  { kind: 'key', fid: JPKI_FID.signKey, ref: JPKI_SIGN_KEY_REF, name: 'signature private key (RSA-2048)', use: pin(JPKI_SIGN_PIN_REF) },
  {
    kind: 'pin',
    fid: JPKI_FID.signPin,
    name: 'signature password (6-16 of A-Z 0-9)',
    policy: { ref: JPKI_SIGN_PIN_REF, minLength: 6, maxLength: 16, alphabet: 'upper-alnum', letterAndDigit: true, maxTries: 5, blockedSw: SW.REF_DATA_NOT_USABLE },
    unblock: channel(),
  },
]);

// ---------------------------------------------------------------------------------------------
// Keys

/** Parsed private keys by their sealed-image bytes: parsing PKCS#8 once per power-on, not per signature. */
const parsed = new WeakMap<Uint8Array, KeyObject>();

function privateKeyOf(ctx: AppContext, ref: number): KeyObject {
  const der = ctx.record.keys[ref];
  if (!der) refuse(SW.REF_DATA_NOT_FOUND); // no key generated yet
  let key = parsed.get(der);
  if (!key) {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    parsed.set(der, key);
  }
  return key;
}

function publicSpkiOf(ctx: AppContext, ref: number): Uint8Array | undefined {
  if (!ctx.record.keys[ref]) return undefined;
  return new Uint8Array(createPublicKey(privateKeyOf(ctx, ref)).export({ format: 'der', type: 'spki' }));
}

/** P2 of 80 2A / 00 46: 80 = the current EF (a key EF), 80|ref = that key (97 auth, 9A sign). */
function keyTarget(p2: number, ctx: AppContext): KeyEfDef {
  if ((p2 & 0x80) === 0 || p2 & 0x60) refuse(SW.INCORRECT_P1P2);
  const ref = p2 & 0x1f;
  const cur = ctx.state.currentEf;
  const def = ref === 0 ? (cur?.kind === 'key' ? cur : undefined) : ctx.type.files.key(ref);
  if (!def) refuse(ref === 0 ? SW.CONDITIONS_NOT_SATISFIED : SW.REF_DATA_NOT_FOUND);
  return def;
}

/** EF 0008 from what is stored: 8F 8F 00 with both certificates (reference §2). */
function availability(files: Record<number, Uint8Array>): Uint8Array {
  return Uint8Array.of(files[JPKI_FID.signCert] ? 0x8f : 0x00, files[JPKI_FID.authCert] ? 0x8f : 0x00, 0x00);
}

/**
 * COMPUTE DIGITAL SIGNATURE, JPKI form (reference §7): PKCS#1 v1.5 type-01 padding of the
 * given bytes (normally a DigestInfo) done by the card, then the RSA private-key operation.
 *   C: 00 A4 02 0C 02 00 17   then   80 2A 00 80 33 <DigestInfo(SHA-256) 51> 00
 *   R: <signature 256> 90 00 | 69 82 (PIN not verified) | 69 85 (no key EF selected) | 6A 88 (no key) | 67 00 | 6A 86
 *   (P2 97 / 9A address the auth / sign key without SELECT.)
 */
const computeSignature: Handler = (cmd, ctx) => {
  if (cmd.cla !== 0x80) refuse(SW.CLA_NOT_SUPPORTED);
  if (cmd.p1 !== 0x00) refuse(SW.INCORRECT_P1P2);
  const def = keyTarget(cmd.p2, ctx);
  if (cmd.data.length < 1 || cmd.data.length > JPKI_MAX_SIGN_INPUT) refuse(SW.WRONG_LENGTH);
  if (!allows(def.use, ctx.view, 'use')) refuse(SW.SECURITY_NOT_SATISFIED);
  const key = privateKeyOf(ctx, def.ref);
  // RFC 8017 §9.2 / §8.2.1: EM = 00 01 FF..FF 00 ‖ T, then RSASP1 — what OpenSSL's private encrypt with PKCS#1 padding does.
  return { data: new Uint8Array(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, cmd.data)), sw: SW.OK };
};

/**
 * GENERATE ASYMMETRIC KEY PAIR (ISO 7816-8 §5.1), over the JPKI domain's channel only: a new
 * RSA-2048 key pair (e = 65537) replaces the old one; the private key stays in the sealed
 * image and has no read path; the key's old certificate is deleted (it certifies a key that is gone).
 *   C: 04 46 00 97|9A Lc <C-MAC> 00  (plain: 00 46 00 97 00)
 *   R: 7F49 82 01 09 { 81 82 01 00 <modulus 256> 82 03 01 00 01 } 90 00 (wrapped by R-MAC/R-ENC)
 *      | 69 82 (not over the JPKI channel) | 6A 86 | 6A 88
 */
const generateKeyPair: Handler = (cmd, ctx) => {
  if (cmd.p1 !== 0x00) refuse(SW.INCORRECT_P1P2);
  if (cmd.data.length) refuse(SW.WRONG_LENGTH);
  const def = keyTarget(cmd.p2, ctx);
  if (!allows(channel(), ctx.view, 'update')) refuse(SW.SECURITY_NOT_SATISFIED);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: JPKI_KEY_BITS, publicExponent: 0x10001 });
  const pkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
  const jwk = publicKey.export({ format: 'jwk' });
  const old = ctx.record.keys[def.ref];
  ctx.record.keys[def.ref] = pkcs8;
  parsed.set(pkcs8, privateKey);
  const certFid = CERT_OF_KEY[def.ref]!;
  const oldCert = ctx.record.files[certFid];
  delete ctx.record.files[certFid];
  ctx.record.files[JPKI_FID.availability] = availability(ctx.record.files);
  ctx.persist();
  old?.fill(0);
  oldCert?.fill(0);
  const n = Buffer.from(jwk.n!, 'base64url');
  const e = Buffer.from(jwk.e!, 'base64url');
  return { data: tlv(0x7f49, concat(tlv(0x81, new Uint8Array(n)), tlv(0x82, new Uint8Array(e)))), sw: SW.OK };
};

// ---------------------------------------------------------------------------------------------
// R5.2.2: what each certificate EF accepts

/** DER content of OID 1.2.392.200149.8.5.5 (J-LIS's basic-four arc): any OID under it starts with these bytes. */
export const BASIC_FOUR_ARC_DER = Uint8Array.of(0x2a, 0x83, 0x08, 0x8c, 0x9b, 0x55, 0x08, 0x05, 0x05);
/** Extension OIDs that carry data about a person: subjectAltName 2.5.29.17, subjectDirectoryAttributes 2.5.29.9. */
const SAN_OID = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const SDA_OID = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x09);

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The schema rule of the JPKI area (R5.2.2). A certificate EF holds exactly one X.509
 * certificate coded `30 82 LL LL` with nothing after it (OpenSC sizes the file from that
 * header, reference §6.5), and:
 *   0001 (sign): an end-entity certificate for the card's sign key (001A). Its basic four in
 *        subjectAltName are the certificate R5.2.2 allows.
 *   000A (auth): an end-entity certificate for the card's auth key (0017) with no personal
 *        data: no subjectAltName, no subjectDirectoryAttributes, no OID under the basic-four
 *        arc, and a subject of C / O / OU / CN only, CN a serial-like id ([A-Za-z0-9._-]).
 *   0002 / 000B (CA): a CA certificate (basicConstraints cA) with none of the above either.
 * Anything else answers 6A 80 (or 69 85 when the key it would certify was never generated).
 */
export function checkCertificate(fid: number, der: Uint8Array, keySpki: (ref: number) => Uint8Array | undefined): number {
  if (der.length < 4 || der[0] !== 0x30 || der[1] !== 0x82 || ((der[2]! << 8) | der[3]!) + 4 !== der.length || der.length > CERT_EF_SIZE) return SW.INCORRECT_DATA;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return SW.INCORRECT_DATA;
  }
  const personalFree = () => !contains(der, SAN_OID) && !contains(der, SDA_OID) && !contains(der, BASIC_FOUR_ARC_DER);
  const certSpki = () => new Uint8Array(cert.publicKey.export({ format: 'der', type: 'spki' }));
  switch (fid) {
    case JPKI_FID.signCaCert:
    case JPKI_FID.authCaCert:
      return cert.ca && personalFree() ? SW.OK : SW.INCORRECT_DATA;
    case JPKI_FID.signCert:
    case JPKI_FID.authCert: {
      const ref = fid === JPKI_FID.signCert ? JPKI_SIGN_KEY_REF : JPKI_AUTH_KEY_REF;
      const spki = keySpki(ref);
      if (!spki) return SW.CONDITIONS_NOT_SATISFIED;
      if (cert.ca || !sameBytes(certSpki(), spki)) return SW.INCORRECT_DATA;
      if (fid === JPKI_FID.signCert) return SW.OK;
      if (!personalFree()) return SW.INCORRECT_DATA;
      for (const line of cert.subject.split('\n')) {
        const eq = line.indexOf('=');
        const attr = line.slice(0, eq);
        const value = line.slice(eq + 1);
        if (!['C', 'O', 'OU', 'CN'].includes(attr)) return SW.INCORRECT_DATA;
        if (attr === 'CN' && !/^[A-Za-z0-9._-]{1,64}$/.test(value)) return SW.INCORRECT_DATA;
      }
      return SW.OK;
    }
    default:
      return SW.INCORRECT_DATA;
  }
}

/** The only EFs STORE DATA writes (R5.2.2): the four certificate EFs. */
const CERT_EFS: ReadonlySet<number> = new Set([JPKI_FID.signCert, JPKI_FID.signCaCert, JPKI_FID.authCert, JPKI_FID.authCaCert]);

/** STORE DATA blocks in RAM for the current selection only (a new selection or a reset drops them). */
const staged = new WeakMap<SelectionState, { blocks: Uint8Array[]; next: number; size: number }>();

/**
 * STORE DATA (GP 2.3 §11.11) into the JPKI area, over its own channel with C-DECRYPTION:
 * DGI = FID of a certificate EF (0001, 0002, 000A, 000B), value = the certificate. Blocks are
 * kept in RAM; the last block is checked whole (`checkCertificate`) and applied in one write.
 *   C: 84 E2 <00|80 last> <block nr> Lc <DGIs, encrypted> <C-MAC>
 *   R: 90 00 | 6A 80 (not a certificate EF, or a certificate it does not accept) | 69 85 (key not generated)
 *      | 69 82 (not over the JPKI channel with C-DECRYPTION) | 6A 86 (block out of order) | 6A 84
 */
const storeData: Handler = (cmd, ctx) => {
  if (!allows(channel(true), ctx.view, 'update')) refuse(SW.SECURITY_NOT_SATISFIED);
  let s = staged.get(ctx.state);
  if (cmd.p2 === 0) s = { blocks: [], next: 0, size: 0 };
  if (!s || cmd.p2 !== (s.next & 0xff)) refuse(SW.INCORRECT_P1P2);
  if ((cmd.p1 & 0x7f) !== 0) refuse(SW.INCORRECT_P1P2);
  if (s.size + cmd.data.length > MAX_STAGED) {
    staged.delete(ctx.state);
    refuse(SW.NOT_ENOUGH_MEMORY);
  }
  s.blocks.push(cmd.data.slice());
  s.next++;
  s.size += cmd.data.length;
  staged.set(ctx.state, s);
  if (!(cmd.p1 & 0x80)) return { sw: SW.OK };
  staged.delete(ctx.state);
  const all = concat(...s.blocks);
  let dgis;
  try {
    dgis = parseDgis(all);
  } catch {
    refuse(SW.INCORRECT_DATA);
  }
  const writes: Record<number, Uint8Array> = {};
  for (const d of dgis) {
    const fid = d.dgi;
    if (!CERT_EFS.has(fid) || writes[fid]) refuse(SW.INCORRECT_DATA);
    const sw = checkCertificate(fid, d.value, (ref) => publicSpkiOf(ctx, ref));
    if (sw !== SW.OK) refuse(sw);
    writes[fid] = d.value.slice();
  }
  if (!dgis.length) refuse(SW.INCORRECT_DATA);
  for (const [fid, value] of Object.entries(writes)) {
    ctx.record.files[Number(fid)]?.fill(0);
    ctx.record.files[Number(fid)] = value;
  }
  ctx.record.files[JPKI_FID.availability] = availability(ctx.record.files);
  ctx.persist();
  return { sw: SW.OK };
};

/**
 * VERIFY, JPKI habits (reference §5): the empty form is a status query that answers 63 Cx
 * always, verified or not, blocked (63 C0) or not yet set (63 C3 / 63 C5: full counter), so
 * OpenSC's PKCS#15 emulation binds (it requires SW1 = 63). The 5-byte form `00 20 00 80 00`
 * is the same query. With data, the common VERIFY: 90 00 | 63 Cx | 63 C0 on the try that
 * exhausts the counter, 69 84 after (and while the holder has not set the PIN).
 *   C: 00 20 00 80 | 00 20 00 98 | 00 20 00 80 04 31 32 33 34
 */
const verify: Handler = (cmd, ctx) => {
  if (cmd.p1 === 0x00 && cmd.data.length === 0) {
    if ((cmd.p2 & 0x80) === 0 || cmd.p2 & 0x60) refuse(SW.INCORRECT_P1P2);
    const ref = cmd.p2 & 0x1f;
    const cur = ctx.state.currentEf;
    const def: PinEfDef | undefined = ref === 0 ? (cur?.kind === 'pin' ? cur : undefined) : ctx.type.files.pin(ref);
    if (!def) refuse(SW.REF_DATA_NOT_FOUND);
    const state = ctx.record.pins[def.policy.ref];
    const tries = state ? (state.sealed === null ? def.policy.maxTries : Math.max(0, state.tries)) : def.policy.maxTries;
    return { sw: SW.PIN_TRIES | Math.min(tries, 15) };
  }
  return commonVerify(cmd, ctx);
};

/**
 * PUT KEY (GP 2.3 §11.8, AES per Amd D §7.2) to the JPKI security domain (R5.1): replace its
 * key set (the maker's initial set, KVN 4F, by the jpki role's own, KVN 50; later 50 → 51 ...),
 * only over a channel opened with the domain's current set, with C-DECRYPTION and C-MAC. Each
 * key is encrypted under the static K-DEK of that set and checked against its KCV, as the ISD does.
 *   C: 84 D8 <current KVN> 81 Lc E(<new KVN 50..5F> {88 <1+n> <n> E(key) 03 KCV} ×3) <C-MAC>
 *   R: <new KVN> <KCV ENC> <KCV MAC> <KCV DEK> 90 00 | 69 82 (no channel, no C-DECRYPTION, or the
 *      channel's set already replaced) | 6A 88 (P1 is not the current KVN) | 6A 80 (format, KCV, KVN) | 6A 86 | 67 00
 * One write: a power cut leaves the old set or the new one, never neither. The channel stays
 * open on its session keys, but cannot PUT KEY again (its static set is gone).
 */
const putKey: Handler = (cmd, ctx) => {
  if (!allows(channel(true), ctx.view, 'update')) refuse(SW.SECURITY_NOT_SATISFIED);
  const current = ctx.state.keyset;
  if (!current || !ctx.record.sd.keys.includes(current)) refuse(SW.SECURITY_NOT_SATISFIED);
  if (cmd.p2 !== 0x81) refuse(SW.INCORRECT_P1P2);
  if (cmd.p1 !== current.kvn) refuse(SW.REF_DATA_NOT_FOUND);
  const { kvn, keys, kcvs } = parsePutKeyData(cmd.data, current.dek);
  if (kvn < JPKI_SD_KVN || kvn > 0x5f || kvn === current.kvn) {
    keys.forEach((k) => k.fill(0));
    refuse(SW.INCORRECT_DATA);
  }
  ctx.record.sd.keys = [{ kvn, enc: keys[0]!, mac: keys[1]!, dek: keys[2]!, sequence: 0 }];
  ctx.persist();
  ctx.state.keyset = null;
  current.enc.fill(0);
  current.mac.fill(0);
  current.dek.fill(0);
  return { data: concat(Uint8Array.of(kvn), ...kcvs), sw: SW.OK };
};

/** SET SESSION KEY `80 AE`: the JPKI AP has no secure messaging of its own (reference §9). */
const setSessionKey: Handler = () => refuse(SW.SECURITY_NOT_SATISFIED);

export interface JpkiOptions {
  /** EF 0006 token name: `JPKIAPICCTOKEN` (Juki card, default) or `JPKIAPICCTOKEN2` (My Number card). */
  readonly token?: JpkiToken;
}

/** The JPKI application type (module). `jpkiArea` is the Juki card's. */
export function jpkiApplication(o: JpkiOptions = {}): ApplicationType {
  const token = jpkiTokenFile(o.token);
  return {
    name: 'jpki',
    module: JPKI_AID,
    defaultAid: JPKI_AID,
    singleton: true,
    files: JPKI_FILES,
    acceptsIssuerChannel: false,
    // R5.1: the domain's keys come from the maker's initial set (never from the ISD), then only its own PUT KEY.
    initialKeyKvn: JPKI_SD_INITIAL_KVN,
    // PINs unset until the holder sets them; nothing works with a key before that (VERIFY answers 69 84).
    pinsRequiredFirst: [],
    requiredFiles: [],
    // R5.1: no file of this area is written through the ISD's personalisation (the municipality's channel).
    validateFile: () => false,
    commands: new Map<number, Handler>([
      [0x20, verify],
      [0x2a, computeSignature],
      [0x46, generateKeyPair],
      [0xe2, storeData],
      [0xae, setSessionKey],
      [0xd8, putKey],
    ]),
    commandConditions: {
      'COMPUTE DIGITAL SIGNATURE (0017)': pin(JPKI_AUTH_PIN_REF),
      'COMPUTE DIGITAL SIGNATURE (001A)': pin(JPKI_SIGN_PIN_REF),
      'GENERATE ASYMMETRIC KEY PAIR': channel(),
      'STORE DATA': channel(true),
      'PUT KEY': channel(true),
    },
    personalise(dgis) {
      if (dgis.length) refuse(SW.INCORRECT_DATA);
      return { files: { [JPKI_FID.token]: token.slice(), [JPKI_FID.availability]: Uint8Array.of(0, 0, 0) } };
    },
  };
}

export const jpkiArea: ApplicationType = jpkiApplication();
