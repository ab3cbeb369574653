/**
 * The software CA key store: RSA key pairs made with node:crypto, kept in memory, and (for a
 * folder store) sealed at rest with AES-256-GCM under a key-encryption key that lives
 * elsewhere (the node's KeyStore, e.g. `keys.secretKey('jpki-ca-kek')`).
 *
 * File `<folder>/<label>.jpkikey`, JSON:
 *   {"v":1,"label":"...","spki":"<b64>","iv":"<b64 12>","tag":"<b64 16>","ct":"<b64>"}
 * ct = AES-256-GCM(kek, iv, PKCS#8 DER of the private key), with the additional data
 * `juki-jpki-key/v1 \0 label \0 spki`: a file renamed to another label, or with its public
 * key swapped, fails authentication and is refused (JUKI_ERR_KEYSTORE_TAMPERED).
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, sign as rsaSign, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { JukiError } from '../util/index.ts';
import { CA_KEY_BITS, checkAlgorithm, checkLabel, type SigningAlgorithm, type SigningKeyStore } from './signing-keys.ts';

const generateKeyPairAsync = promisify(generateKeyPair);
const AAD_TAG = 'juki-jpki-key/v1';

interface Held {
  readonly privateKey: KeyObject;
  readonly spki: Uint8Array;
}

export class SoftwareSigningKeyStore implements SigningKeyStore {
  readonly description: string;
  readonly #folder: string | null;
  readonly #kek: Buffer | null;
  readonly #held = new Map<string, Held>();
  #closed = false;

  private constructor(folder: string | null, kek: Uint8Array | null) {
    this.#folder = folder;
    this.#kek = kek ? Buffer.from(kek) : null;
    this.description = folder ? `software:${folder}` : 'software:memory';
  }

  /** A store that forgets everything when the process ends (tests, benchmarks). */
  static inMemory(): SoftwareSigningKeyStore {
    return new SoftwareSigningKeyStore(null, null);
  }

  /** A store in `folder` (created if missing), private keys sealed under the 32-byte `kek`. */
  static inFolder(folder: string, kek: Uint8Array): SoftwareSigningKeyStore {
    if (!(kek instanceof Uint8Array) || kek.length !== 32) {
      throw new JukiError('JUKI_ERR_KEYSTORE', `software CA key store: key-encryption key: expected 32 bytes (AES-256), got ${kek instanceof Uint8Array ? kek.length : typeof kek}`);
    }
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `software CA key store: cannot create ${folder}: ${(e as Error).message}`);
    }
    return new SoftwareSigningKeyStore(folder, kek);
  }

  async generate(label: string): Promise<Uint8Array> {
    this.#open();
    checkLabel(label);
    if (await this.has(label)) throw new JukiError('JUKI_ERR_CONFLICT', `software CA key store: a key pair is already stored under ${JSON.stringify(label)}`);
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: CA_KEY_BITS, publicExponent: 0x10001 });
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    if (this.#folder) this.#seal(label, privateKey, spki);
    this.#held.set(label, { privateKey, spki });
    return spki.slice();
  }

  async has(label: string): Promise<boolean> {
    this.#open();
    checkLabel(label);
    return this.#held.has(label) || (this.#folder !== null && existsSync(this.#file(label)));
  }

  async publicKey(label: string): Promise<Uint8Array> {
    return this.#load(label).spki.slice();
  }

  async sign(label: string, algorithm: SigningAlgorithm, data: Uint8Array): Promise<Uint8Array> {
    checkAlgorithm(algorithm);
    const { privateKey } = this.#load(label);
    // RFC 8017 §8.2.1 RSASSA-PKCS1-v1_5 over SHA-256(data).
    return new Uint8Array(rsaSign('sha256', data, privateKey));
  }

  async close(): Promise<void> {
    this.#held.clear();
    this.#kek?.fill(0);
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new JukiError('JUKI_ERR_KEYSTORE', `${this.description}: the store is closed`);
  }

  #file(label: string): string {
    return join(this.#folder!, `${label}.jpkikey`);
  }

  #aad(label: string, spki: Uint8Array): Buffer {
    return Buffer.concat([Buffer.from(`${AAD_TAG}\0${label}\0`, 'utf8'), spki]);
  }

  #seal(label: string, privateKey: KeyObject, spki: Uint8Array): void {
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#kek!, iv);
    cipher.setAAD(this.#aad(label, spki));
    const ct = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
    pkcs8.fill(0);
    const body = JSON.stringify({
      v: 1, label, spki: Buffer.from(spki).toString('base64'), iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64'),
    });
    // Write a temporary file, fsync it, then rename: a crash leaves the old state or the new one.
    const path = this.#file(label);
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        writeSync(fd, body);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `software CA key store: cannot write ${path}: ${(e as Error).message}`);
    }
  }

  #load(label: string): Held {
    this.#open();
    checkLabel(label);
    const held = this.#held.get(label);
    if (held) return held;
    if (!this.#folder || !existsSync(this.#file(label))) {
      throw new JukiError('JUKI_ERR_NOT_FOUND', `${this.description}: no key pair under ${JSON.stringify(label)}`);
    }
    const path = this.#file(label);
    const tampered = (why: string) => new JukiError('JUKI_ERR_KEYSTORE_TAMPERED', `software CA key store: ${path}: ${why}`);
    let file: { v?: unknown; label?: unknown; spki?: unknown; iv?: unknown; tag?: unknown; ct?: unknown };
    try {
      file = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw tampered(`not a sealed key file (${(e as Error).message})`);
    }
    if (file.v !== 1 || typeof file.spki !== 'string' || typeof file.iv !== 'string' || typeof file.tag !== 'string' || typeof file.ct !== 'string') {
      throw tampered('not a version-1 sealed key file');
    }
    const spki = new Uint8Array(Buffer.from(file.spki, 'base64'));
    let pkcs8: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#kek!, Buffer.from(file.iv, 'base64'));
      decipher.setAAD(this.#aad(label, spki));
      decipher.setAuthTag(Buffer.from(file.tag, 'base64'));
      pkcs8 = Buffer.concat([decipher.update(Buffer.from(file.ct, 'base64')), decipher.final()]);
    } catch {
      throw tampered('authentication failed (edited, renamed, or sealed under another key-encryption key)');
    }
    const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    pkcs8.fill(0);
    // The stored public key must be the private key's own.
    const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (!derived.equals(Buffer.from(spki))) throw tampered('the public key does not match the private key');
    const loaded = { privateKey, spki };
    this.#held.set(label, loaded);
    return loaded;
  }
}
