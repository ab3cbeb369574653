/**
 * The jpki role's side of a card's JPKI area (R5.1, R5.2.1): over the JPKI security
 * domain's own SCP03 channel, relayed byte for byte by whoever holds the card (a counter
 * terminal, which holds no key and can neither read nor forge what passes), ask the card to
 * generate both RSA-2048 key pairs, have the CA certify the public keys, and write the
 * certificates and the CA certificates back. No private key exists outside the card.
 *
 *   00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01                 SELECT the JPKI AP
 *   80 50 00 00 08 <host challenge> 00 / 84 82 33 00 10 ...      SCP03 with the set the card names, C-MAC C-DEC R-MAC R-ENC
 *   (KVN 4F, the maker's initial set, only the first time:)
 *   84 D8 4F 81 Lc E(50 {88 11 10 E_DEK(key) 03 KCV} ×3) <C-MAC> → 50 KCV×3   PUT KEY: the jpki role's set
 *   80 50 50 00 08 ... / 84 82 33 00 10 ...                       SCP03 again, KVN 50
 *   04 46 00 97 08 <C-MAC> 00   → 7F49 { 81 n, 82 e }            GENERATE KEY PAIR, auth key 0017
 *   04 46 00 9A 08 <C-MAC> 00   → 7F49 { 81 n, 82 e }            GENERATE KEY PAIR, sign key 001A
 *   84 E2 00|80 nn Lc <E(DGI 000A, 000B, 0001, 0002)> <C-MAC>    STORE DATA, certificates
 *
 * The domain's keys: K-ENC/K-MAC/K-DEK diversified (crypto/diversify.ts, family `jpki`)
 * from the JPKI master keys in the jpki node's key store with the card serial, which the card
 * itself names in its INITIALIZE UPDATE answer. The card comes from its maker bound to an
 * initial set (family `jpki-initial`, KVN 4F, from the initial master the jpki side shares with
 * the maker); the first opening replaces it, so afterwards only the jpki role can open the area (R5.1).
 */
import { createPublicKey } from 'node:crypto';
import { concatBytes, dekEncrypt, diversifyKeySet, keyCheckValue, KEY_DOMAINS, type KeyStore, type MasterKeys, type Scp03StaticKeys } from '../crypto/index.ts';
import { dgi, encodeApdu, FULL_SM, SecureSession, send, statusWord, type CardTransport } from '../reader/index.ts';
import { JukiError, toHex } from '../util/index.ts';
import type { IssuedCertificate, IssueOptions, JpkiAuthority } from './ca.ts';
import type { SignHolder } from './profile.ts';

/** The JPKI AP's AID (reference/jpki-application.md §1.1). */
export const JPKI_CARD_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01);
/** The key version of the JPKI security domain's key set on the card once the jpki role has opened it (only the jpki role holds it). */
export const JPKI_CARD_KVN = 0x50;
/** The key version of the maker's initial set the domain is bound to at INSTALL, until the jpki role replaces it. */
export const JPKI_INITIAL_KVN = 0x4f;
/** Key-store names of the JPKI master keys (AES-256, only in the jpki node's store). */
export const JPKI_MASTER_KEY_NAMES = { enc: 'master:jpki:enc', mac: 'master:jpki:mac', dek: 'master:jpki:dek' } as const;
/** Key-store names of the JPKI initial master (the jpki node's store; shared with the card maker for its lots). */
export const JPKI_INITIAL_MASTER_KEY_NAMES = { enc: 'master:jpki-initial:enc', mac: 'master:jpki-initial:mac', dek: 'master:jpki-initial:dek' } as const;
/** GENERATE KEY PAIR / 80 2A P2 of each key; STORE DATA DGIs (= FIDs) of each certificate EF. */
export const JPKI_CARD_KEYS = { auth: 0x97, sign: 0x9a } as const;
export const JPKI_CARD_EFS = { signCert: 0x0001, signCaCert: 0x0002, authCert: 0x000a, authCaCert: 0x000b } as const;

/** The JPKI master keys from the key store (created on first use). The caller wipes them. */
export function jpkiMasterKeys(store: KeyStore): MasterKeys {
  return { enc: store.secretKey(JPKI_MASTER_KEY_NAMES.enc), mac: store.secretKey(JPKI_MASTER_KEY_NAMES.mac), dek: store.secretKey(JPKI_MASTER_KEY_NAMES.dek) };
}

/**
 * The JPKI initial master (created on first use): what the jpki side shares with the card maker
 * for a lot, so the maker can put each card's initial set (KVN 4F) on it. The only key of the
 * JPKI area that leaves the jpki role, and it opens a card's area only until the jpki role has
 * replaced the initial set by its own (the first thing `JpkiCardSession.open` does). The caller wipes it.
 */
export function jpkiInitialMaster(store: KeyStore): MasterKeys {
  return { enc: store.secretKey(JPKI_INITIAL_MASTER_KEY_NAMES.enc), mac: store.secretKey(JPKI_INITIAL_MASTER_KEY_NAMES.mac), dek: store.secretKey(JPKI_INITIAL_MASTER_KEY_NAMES.dek) };
}

/** One card's JPKI initial key set (KVN 4F), for the maker of that card (`manufactureBlankCard`'s `jpkiInitial: { keys }`). The caller wipes it. */
export function jpkiInitialKeys(store: KeyStore, serial: Uint8Array): Scp03StaticKeys {
  const master = jpkiInitialMaster(store);
  try {
    return diversifyKeySet(master, serial, KEY_DOMAINS.jpkiInitial, JPKI_INITIAL_KVN);
  } finally {
    wipeMasters(master);
  }
}

function wipeMasters(m: MasterKeys): void {
  m.enc.fill(0);
  m.mac.fill(0);
  m.dek.fill(0);
}

function wipeSet(k: Scp03StaticKeys | undefined): void {
  k?.enc.fill(0);
  k?.mac.fill(0);
  k?.dek.fill(0);
}

function cardError(what: string, sw: number): JukiError {
  const hex = sw.toString(16).toUpperCase().padStart(4, '0');
  return new JukiError('JUKI_ERR_CARD_STATUS', `JPKI area: ${what}: the card answered ${hex}`, { sw: hex });
}

/**
 * PUT KEY data (GP CS 2.3 §11.8.2.3, AES per Amd D §7.2): new KVN ‖ {88 <1+n> <n> E(key) 03 KCV}
 * for ENC, MAC, DEK, each key AES-CBC-encrypted under the static K-DEK of the channel's set (zero ICV).
 */
function putKeyData(next: Scp03StaticKeys, dek: Uint8Array): Uint8Array {
  const part = (k: Uint8Array) => concatBytes(Uint8Array.of(0x88, k.length + 1, k.length), dekEncrypt(dek, k), Uint8Array.of(0x03), keyCheckValue(k));
  return concatBytes(Uint8Array.of(next.kvn), part(next.enc), part(next.mac), part(next.dek));
}

/** An SCP03 session with the JPKI domain of the card behind `transport`. */
export class JpkiCardSession {
  private constructor(
    private readonly session: SecureSession,
    /** The card serial (SCP03 diversification data), upper-case hex. */
    readonly cardSerial: string,
    /** This opening replaced the maker's initial set (KVN 4F) by the jpki role's (KVN 50). */
    readonly replacedInitialKeys: boolean,
  ) {}

  /**
   * SELECT the JPKI AP and open SCP03 (level 33) with the JPKI domain. INITIALIZE UPDATE P1 = 00
   * lets the card name its set: KVN 50 (the jpki role's, diversified from `master:jpki:*`) is
   * opened directly; KVN 4F (the maker's initial set, from `master:jpki-initial:*`) is opened,
   * replaced by the KVN 50 set with PUT KEY (keys under the initial K-DEK, inside C-DECRYPTION;
   * the card checks their KCVs and the host checks the card's answer), and the domain opened
   * again with KVN 50. Restartable: a power cut leaves 4F or 50 on the card, and either opens.
   */
  static async open(transport: CardTransport, store: KeyStore): Promise<JpkiCardSession> {
    const sel = await send(transport, encodeApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: JPKI_CARD_AID }));
    if (statusWord(sel) !== 0x9000) throw cardError('SELECT', statusWord(sel));
    const masters = jpkiMasterKeys(store);
    let initialDek: Uint8Array | undefined;
    let final: Scp03StaticKeys | undefined;
    try {
      let cardKvn = 0;
      let session = await SecureSession.open(transport, (serial, kvn) => {
        cardKvn = kvn;
        if (kvn === JPKI_CARD_KVN) return diversifyKeySet(masters, serial, KEY_DOMAINS.jpki, kvn);
        if (kvn === JPKI_INITIAL_KVN) {
          const initial = jpkiInitialKeys(store, serial);
          initialDek = initial.dek.slice();
          return initial;
        }
        throw new JukiError('JUKI_ERR_CARD_STATE', `JPKI area: the card's JPKI domain holds key version ${hex2(kvn)}, neither the maker's initial set ${hex2(JPKI_INITIAL_KVN)} nor the jpki role's ${hex2(JPKI_CARD_KVN)}`, { kvn: hex2(kvn) });
      }, 0, JPKI_CARD_AID, FULL_SM);
      if (cardKvn !== JPKI_INITIAL_KVN) return new JpkiCardSession(session, toHex(session.serial), false);
      const serial = session.serial;
      final = diversifyKeySet(masters, serial, KEY_DOMAINS.jpki, JPKI_CARD_KVN);
      try {
        const r = await session.command(0x80, 0xd8, JPKI_INITIAL_KVN, 0x81, putKeyData(final, initialDek!), 0);
        if (r.sw !== 0x9000) throw cardError('PUT KEY (the jpki role\'s key set)', r.sw);
        const expected = concatBytes(Uint8Array.of(final.kvn), keyCheckValue(final.enc), keyCheckValue(final.mac), keyCheckValue(final.dek));
        if (toHex(r.data) !== toHex(expected)) throw new JukiError('JUKI_ERR_CARD_STATUS', `JPKI area: PUT KEY: the card confirmed ${toHex(r.data)}, expected ${toHex(expected)}`);
      } finally {
        session.close();
      }
      session = await SecureSession.open(transport, final, JPKI_CARD_KVN, JPKI_CARD_AID, FULL_SM);
      return new JpkiCardSession(session, toHex(session.serial), true);
    } finally {
      wipeMasters(masters);
      initialDek?.fill(0);
      wipeSet(final);
    }
  }

/** One command through the channel; returns the plain response data and the status word. */
  command(cla: number, ins: number, p1: number, p2: number, data: Uint8Array = new Uint8Array(0), le?: number): Promise<{ data: Uint8Array; sw: number }> {
    return this.session.command(cla, ins, p1, p2, data, le);
  }

  /** GENERATE ASYMMETRIC KEY PAIR on the card; returns the public key as SubjectPublicKeyInfo DER. */
  async generateKeyPair(key: 'auth' | 'sign'): Promise<Uint8Array> {
    const r = await this.command(0x00, 0x46, 0x00, JPKI_CARD_KEYS[key], undefined, 0);
    if (r.sw !== 0x9000) throw cardError(`GENERATE KEY PAIR (${key})`, r.sw);
    return spkiFromPublicKeyTemplate(r.data);
  }

  /** STORE DATA: certificates by EF, in blocks that fit a short APDU once padded and MACed. */
  async storeCertificates(files: ReadonlyArray<readonly [fid: number, der: Uint8Array]>): Promise<void> {
    const all = concatBytes(...files.map(([fid, der]) => dgi(fid, der)));
    const block = 200;
    const n = Math.ceil(all.length / block);
    for (let b = 0; b < n; b++) {
      const r = await this.command(0x80, 0xe2, b === n - 1 ? 0x80 : 0x00, b & 0xff, all.subarray(b * block, (b + 1) * block));
      if (r.sw !== 0x9000) throw cardError(`STORE DATA block ${b}`, r.sw);
    }
  }

  close(): void {
    this.session.close();
  }
}

/** `7F49 { 81 modulus, 82 exponent }` (ISO 7816-8 public key template) → SPKI DER. */
export function spkiFromPublicKeyTemplate(t: Uint8Array): Uint8Array {
  const fields = new Map<number, Uint8Array>();
  let i = 0;
  const len = (): number => {
    const b = t[i++]!;
    if (b < 0x80) return b;
    let n = 0;
    for (let k = 0; k < (b & 0x7f); k++) n = (n << 8) | t[i++]!;
    return n;
  };
  if (t[0] !== 0x7f || t[1] !== 0x49) throw new JukiError('JUKI_ERR_CARD_STATUS', 'GENERATE KEY PAIR: expected a 7F49 public key template');
  i = 2;
  const end = len() + i;
  while (i < end && i < t.length) {
    const tag = t[i++]!;
    const l = len();
    fields.set(tag, t.subarray(i, i + l));
    i += l;
  }
  const n = fields.get(0x81);
  const e = fields.get(0x82);
  if (!n || !e) throw new JukiError('JUKI_ERR_CARD_STATUS', 'GENERATE KEY PAIR: the template lacks the modulus (81) or exponent (82)');
  const key = createPublicKey({ key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: Buffer.from(e).toString('base64url') }, format: 'jwk' });
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }));
}

export interface PersonaliseJpkiOptions {
  /** The relay to the card (it holds nothing). */
  readonly transport: CardTransport;
  /** The jpki node's key store holding the JPKI master keys. */
  readonly keyStore: KeyStore;
  readonly authority: Pick<JpkiAuthority, 'issueAuthCertificate' | 'issueSignCertificate'>;
  /** The holder's basic four for the signature certificate; without it no sign key or certificate is made (e.g. under 15). */
  readonly holder?: Omit<SignHolder, 'cardSerial'>;
  readonly issue?: IssueOptions;
}

export interface JpkiCardResult {
  /** The card serial the certificates are recorded against (upper-case hex of the SCP03 diversification data). */
  readonly cardSerial: string;
  readonly auth: IssuedCertificate;
  readonly sign?: IssuedCertificate;
}

/**
 * Personalise the JPKI area of the card behind `transport`: generate the auth (and, with a
 * holder, the sign) key pair on the card, certify the public keys, write the certificates
 * and their CA certificates. The PINs stay for the holder to set on the PIN pad.
 */
export async function personaliseJpkiCard(o: PersonaliseJpkiOptions): Promise<JpkiCardResult> {
  const session = await JpkiCardSession.open(o.transport, o.keyStore);
  try {
    const cardSerial = session.cardSerial;
    const authSpki = await session.generateKeyPair('auth');
    const auth = await o.authority.issueAuthCertificate(authSpki, { cardSerial }, o.issue);
    let sign: IssuedCertificate | undefined;
    if (o.holder) {
      const signSpki = await session.generateKeyPair('sign');
      sign = await o.authority.issueSignCertificate(signSpki, { ...o.holder, cardSerial }, o.issue);
    }
    const files: [number, Uint8Array][] = [
      [JPKI_CARD_EFS.authCert, auth.der],
      [JPKI_CARD_EFS.authCaCert, auth.caCertificate],
    ];
    if (sign) files.push([JPKI_CARD_EFS.signCert, sign.der], [JPKI_CARD_EFS.signCaCert, sign.caCertificate]);
    await session.storeCertificates(files);
    return sign ? { cardSerial, auth, sign } : { cardSerial, auth };
  } finally {
    session.close();
  }
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
