/**
 * Per-card keys of an area whose masters the CS does not hold (ARCHITECTURE.md, "Who holds
 * which keys"): the basic area's masters live only in the national center's key store. For
 * one personalisation the CS asks for one card's keys, wrapped for that request:
 *
 *   CS:       ephemeral ECDH P-256 key pair (a, A); sends serial, A
 *   national: diversifyKeySet(basic masters, serial, 'basic', KVN); ephemeral (b, B);
 *             K = HKDF-SHA256(ECDH(b, A), salt = serial, info = H, 32)
 *             returns B, iv, AES-256-GCM_K(iv, ENC ‖ MAC ‖ DEK, aad = H), tag
 *   CS:       same K from ECDH(a, B); decrypts in memory, puts the keys into the card's
 *             STORE DATA (DGI 8F01, under the session's C-DECRYPTION), then wipes them and a.
 *   H = "juki/card-keys/v1" ‖ 00 ‖ domain ‖ 00 ‖ KVN ‖ serial ‖ A ‖ B
 *
 * Nothing of the keys is stored on the CS side; the wrapped form is useless after the request
 * (a is gone). The peer is authenticated by the transport that carries the request: in-process
 * here (`KeyStoreBasicKeyService`), or mutual TLS between CS and national center under
 * `juki serve` (`HttpsBasicKeyService` in remote-key-service.ts, the national node's route).
 */
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { concatBytes, diversifyKeySet, KEY_DOMAINS, wipe, type KeyStore, type Scp03StaticKeys } from '../crypto/index.ts';
import { fromHex, invalid, JukiError, toHex } from '../util/index.ts';

/** The basic area's key version on the card. */
export const BASIC_KVN = 0x30;
/** Names of the basic-area master keys in the national center's key store. */
export const BASIC_MASTER_KEYS = { enc: 'master:basic:enc', mac: 'master:basic:mac', dek: 'master:basic:dek' } as const;

/** One card's keys, wrapped for one request. All binary fields upper-case hex. */
export interface WrappedCardKeys {
  readonly domain: string;
  readonly serial: string;
  readonly kvn: number;
  /** The service's ephemeral public key (uncompressed P-256 point). */
  readonly servicePublicKey: string;
  readonly iv: string;
  readonly ciphertext: string;
  readonly tag: string;
}

/** The national center's side, as the CS sees it. */
export interface BasicKeyService {
  /** One card's basic-area keys, wrapped for the requester's ephemeral P-256 public key (65-byte uncompressed point). */
  wrappedCardKeys(serial: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<WrappedCardKeys>;
}

const LABEL = new TextEncoder().encode('juki/card-keys/v1');

function header(domain: string, kvn: number, serial: Uint8Array, requester: Uint8Array, service: Uint8Array): Uint8Array {
  return concatBytes(LABEL, Uint8Array.of(0), new TextEncoder().encode(domain), Uint8Array.of(0, kvn), serial, requester, service);
}

function wrapKey(shared: Uint8Array, serial: Uint8Array, info: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', shared, serial, info, 32));
}

function checkPoint(p: Uint8Array, field: string): void {
  if (p.length !== 65 || p[0] !== 0x04) throw invalid(field, `expected an uncompressed P-256 point of 65 bytes (04 ‖ X ‖ Y), got ${p.length} bytes`);
}

function checkSerial(serial: Uint8Array): void {
  if (serial.length !== 10) throw invalid('serial', `expected the card's 10-byte serial, got ${serial.length} bytes`);
}

export interface KeyStoreBasicKeyServiceOptions {
  readonly kvn?: number;
  /** Refuse (throw) a request the caller may not make (e.g. a serial not in a delivery for that municipality). */
  readonly authorise?: (serial: Uint8Array) => void;
}

/** The national center's key service over its key store (in-process in `juki up`; behind the national node's mutual-TLS route under `juki serve`). */
export class KeyStoreBasicKeyService implements BasicKeyService {
  readonly #store: KeyStore;
  readonly #kvn: number;
  readonly #authorise: ((serial: Uint8Array) => void) | undefined;
  /** How many cards' keys were handed out (for the center's own log). */
  issued = 0;

  constructor(store: KeyStore, options: KeyStoreBasicKeyServiceOptions = {}) {
    this.#store = store;
    this.#kvn = options.kvn ?? BASIC_KVN;
    if (this.#kvn < 0x01 || this.#kvn > 0x6f) throw invalid('kvn', `expected an application KVN 01..6F, got ${this.#kvn}`);
    this.#authorise = options.authorise;
  }

  async wrappedCardKeys(serial: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<WrappedCardKeys> {
    checkSerial(serial);
    checkPoint(ephemeralPublicKey, 'ephemeralPublicKey');
    this.#authorise?.(serial);
    const masters = { enc: this.#store.secretKey(BASIC_MASTER_KEYS.enc), mac: this.#store.secretKey(BASIC_MASTER_KEYS.mac), dek: this.#store.secretKey(BASIC_MASTER_KEYS.dek) };
    let keys: Scp03StaticKeys;
    try {
      keys = diversifyKeySet(masters, serial, KEY_DOMAINS.basic, this.#kvn);
    } finally {
      wipe(masters.enc, masters.mac, masters.dek);
    }
    const ecdh = createECDH('prime256v1');
    const service = new Uint8Array(ecdh.generateKeys());
    let shared: Uint8Array;
    try {
      shared = new Uint8Array(ecdh.computeSecret(ephemeralPublicKey));
    } catch {
      throw invalid('ephemeralPublicKey', 'not a point on P-256');
    }
    const info = header(KEY_DOMAINS.basic, this.#kvn, serial, ephemeralPublicKey, service);
    const k = wrapKey(shared, serial, info);
    const iv = new Uint8Array(randomBytes(12));
    const plain = concatBytes(keys.enc, keys.mac, keys.dek);
    try {
      const c = createCipheriv('aes-256-gcm', k, iv);
      c.setAAD(info);
      const ciphertext = new Uint8Array(Buffer.concat([c.update(plain), c.final()]));
      this.issued++;
      return { domain: KEY_DOMAINS.basic, serial: toHex(serial), kvn: this.#kvn, servicePublicKey: toHex(service), iv: toHex(iv), ciphertext: toHex(ciphertext), tag: toHex(new Uint8Array(c.getAuthTag())) };
    } finally {
      wipe(shared, k, plain, keys.enc, keys.mac, keys.dek);
    }
  }
}

/**
 * The CS's half of one request: an ephemeral key pair whose private half lives only in this
 * object, used once. `unwrap` returns the card's keys for the caller to put on the card and wipe.
 */
export class CardKeyRequest {
  #ecdh: ReturnType<typeof createECDH> | undefined;
  readonly publicKey: Uint8Array;

  constructor(
    readonly serial: Uint8Array,
    readonly domain: string = KEY_DOMAINS.basic,
  ) {
    checkSerial(serial);
    this.#ecdh = createECDH('prime256v1');
    this.publicKey = new Uint8Array(this.#ecdh.generateKeys());
  }

  /** Decrypt the wrapped keys; refuses (JUKI_ERR_KEY_UNWRAP) keys for another card, domain or request, or altered ones. Single use. */
  unwrap(w: WrappedCardKeys, expectedKvn?: number): Scp03StaticKeys {
    const ecdh = this.#ecdh;
    this.#ecdh = undefined;
    if (!ecdh) throw new JukiError('JUKI_ERR_KEY_UNWRAP', 'this key request was already used');
    const refuse = (why: string) => new JukiError('JUKI_ERR_KEY_UNWRAP', `wrapped card keys refused: ${why}`, { serial: toHex(this.serial) });
    if (w.domain !== this.domain) throw refuse(`for key family ${w.domain}, expected ${this.domain}`);
    if (w.serial !== toHex(this.serial)) throw refuse(`for card ${w.serial}, expected ${toHex(this.serial)}`);
    if (expectedKvn !== undefined && w.kvn !== expectedKvn) throw refuse(`key version ${w.kvn}, expected ${expectedKvn}`);
    let service: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array;
    try {
      service = fromHex(w.servicePublicKey, 'servicePublicKey');
      iv = fromHex(w.iv, 'iv');
      ciphertext = fromHex(w.ciphertext, 'ciphertext');
      tag = fromHex(w.tag, 'tag');
      checkPoint(service, 'servicePublicKey');
    } catch (e) {
      throw refuse((e as Error).message);
    }
    if (ciphertext.length !== 48 && ciphertext.length !== 96) throw refuse(`expected 48 or 96 bytes of keys, got ${ciphertext.length}`);
    let shared: Uint8Array;
    try {
      shared = new Uint8Array(ecdh.computeSecret(service));
    } catch {
      throw refuse('the service key is not a point on P-256');
    }
    const info = header(this.domain, w.kvn, this.serial, this.publicKey, service);
    const k = wrapKey(shared, this.serial, info);
    let plain: Uint8Array;
    try {
      const d = createDecipheriv('aes-256-gcm', k, iv);
      d.setAAD(info);
      d.setAuthTag(tag);
      plain = new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
    } catch {
      throw refuse('authentication failed (altered, or wrapped for another request)');
    } finally {
      wipe(shared, k);
    }
    const n = plain.length / 3;
    const keys = { enc: plain.slice(0, n), mac: plain.slice(n, 2 * n), dek: plain.slice(2 * n), kvn: w.kvn };
    wipe(plain);
    return keys;
  }

  /** Forget the private half without unwrapping. */
  dispose(): void {
    this.#ecdh = undefined;
  }
}

/** Ask the service for one card's basic-area keys and unwrap them in memory. The caller wipes them. */
export async function basicCardKeys(service: BasicKeyService, serial: Uint8Array, kvn: number = BASIC_KVN): Promise<Scp03StaticKeys> {
  const request = new CardKeyRequest(serial, KEY_DOMAINS.basic);
  try {
    const wrapped = await service.wrappedCardKeys(serial, request.publicKey);
    return request.unwrap(wrapped, kvn);
  } finally {
    request.dispose();
  }
}
