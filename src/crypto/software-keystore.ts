/**
 * The sealed software key store: a folder on the host, one file per key or counter, each
 * sealed with AES-256-GCM under a key-encryption key (KEK) kept in the same folder with
 * mode 0600.
 *
 * Honest limits: this store is exactly as strong as the protection of its folder. Whoever
 * can read the folder (the KEK file with it) has every key; whoever can write it can delete
 * counters or restore an old copy of the whole folder. What it does guarantee: a single
 * edited, truncated or swapped file is detected (GCM, with the record's name and kind as
 * associated data); every write is atomic and durable before the call returns; counters
 * never go backwards through this API; a destroyed key is overwritten in place and
 * replaced by a sealed tombstone, so it cannot be read or re-created through the store.
 *
 * Layout (docs/crypto.md "Key store format"):
 *   <folder>/            mode 0700
 *   <folder>/kek         32 random bytes, mode 0600 (refused if group/other may access it)
 *   <folder>/<name>.key  record kind K (the 32-byte key) or T (tombstone, empty)
 *   <folder>/<name>.ctr  record kind C (the counter, 8 bytes big-endian)
 * Record: "JKS1" ‖ kind (1) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16);
 * associated data: "JKS1" ‖ kind ‖ name (ASCII).
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync, constants as fsc, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { KeyStore } from './keystore.ts';
import { checkKeyName } from './key-name.ts';
import { checkCounterValue } from './memory-keystore.ts';
import { concatBytes, readUintBE, uintBE, wipe } from './bytes.ts';
import { secureRandom } from './random.ts';
import { JukiError } from '../util/index.ts';

const MAGIC = new TextEncoder().encode('JKS1');
const KIND = { key: 0x4b /* K */, tombstone: 0x54 /* T */, counter: 0x43 /* C */ } as const;
type Kind = (typeof KIND)[keyof typeof KIND];
const NONCE = 12;
const TAG = 16;
/** A record's temporary file: created or truncated, never through a symbolic link. */
const TEMP_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;

export interface SoftwareKeyStoreOptions {
  /**
   * Called before each step of a record write (`keystore:write-temp`, `keystore:fsync-temp`,
   * `keystore:rename`, `keystore:fsync-dir`): the power-cut harness throws from it to cut
   * power there. Never set in production.
   */
  readonly onWritePoint?: (point: string) => void;
}

/** A key store in a folder, each record sealed with AES-256-GCM under the folder's KEK. */
export class SoftwareKeyStore implements KeyStore {
  readonly description: string;
  readonly #folder: string;
  #kek: Uint8Array | undefined;
  readonly #cache = new Map<string, Uint8Array>();
  /** Each counter's record as this store last wrote or opened it, with its value: the same bytes read back need no second opening. */
  readonly #counters = new Map<string, { record: Uint8Array; value: number }>();
  readonly #hook: (point: string) => void;

  /** Open (creating if needed) the store in `folder`. */
  constructor(folder: string, options: SoftwareKeyStoreOptions = {}) {
    this.#hook = options.onWritePoint ?? (() => {});
    this.#folder = resolve(folder);
    this.description = `software:${this.#folder}`;
    try {
      mkdirSync(this.#folder, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw storeError(`cannot create the key store folder ${this.#folder}: ${(e as Error).message}`);
    }
    if (!statSync(this.#folder).isDirectory()) throw storeError(`${this.#folder} is not a folder`);
    this.#kek = this.#loadOrCreateKek();
  }

  secretKey(name: string, create = true): Uint8Array {
    checkKeyName(name);
    const kek = this.#open();
    const cached = this.#cache.get(name);
    if (cached) return cached.slice();
    const rec = this.#read(kek, name, 'key');
    if (rec?.kind === KIND.tombstone) throw storeError(`key ${name} was destroyed`, name);
    if (rec) {
      if (rec.kind !== KIND.key || rec.plain.length !== 32) throw tampered(`key file for ${name} holds no 32-byte key`, name);
      this.#cache.set(name, rec.plain);
      return rec.plain.slice();
    }
    if (!create) throw storeError(`no key named ${name}`, name);
    const key = new Uint8Array(randomBytes(32));
    this.#write(kek, name, 'key', KIND.key, key);
    this.#cache.set(name, key);
    return key.slice();
  }

  hasKey(name: string): boolean {
    checkKeyName(name);
    if (this.#cache.has(name)) return true;
    const rec = this.#read(this.#open(), name, 'key');
    return rec?.kind === KIND.key;
  }

  /** Overwrite the key file in place with zeros (fsync), then replace it with a sealed tombstone (atomic, durable). */
  destroyKey(name: string): void {
    checkKeyName(name);
    const kek = this.#open();
    this.#cache.get(name)?.fill(0);
    this.#cache.delete(name);
    const path = this.#path(name, 'key');
    try {
      const fd = openSync(path, 'r+');
      try {
        const size = statSync(path).size;
        writeSync(fd, new Uint8Array(size), 0, size, 0);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError(`cannot overwrite key ${name}: ${(e as Error).message}`, name);
    }
    this.#write(kek, name, 'key', KIND.tombstone, new Uint8Array(0));
  }

  /** Always read from the folder; a record byte-identical to the one this store last wrote or opened is not decrypted again. */
  readCounter(name: string): number {
    checkKeyName(name);
    const kek = this.#open();
    const bytes = this.#readBytes(name, 'ctr');
    if (!bytes) {
      this.#counters.delete(name);
      return 0;
    }
    const known = this.#counters.get(name);
    if (known && known.record.length === bytes.length && timingSafeEqual(known.record, bytes)) return known.value;
    const rec = this.#unseal(kek, name, 'ctr', bytes);
    if (rec.kind !== KIND.counter || rec.plain.length !== 8) throw tampered(`counter file for ${name} is not a counter`, name);
    const v = readUintBE(rec.plain);
    if (!Number.isSafeInteger(v)) throw tampered(`counter ${name} is out of range`, name);
    this.#counters.set(name, { record: bytes, value: v });
    return v;
  }

  /** Durable (fsync of file and folder) before returning; refuses to go backwards. */
  advanceCounter(name: string, value: number): void {
    checkKeyName(name);
    checkCounterValue(value);
    const now = this.readCounter(name);
    if (value < now) throw new JukiError('JUKI_ERR_KEYSTORE', `counter ${name} cannot go backwards: it is ${now}, asked for ${value}`, { name, current: now, requested: value });
    if (value === now) return;
    this.#counters.delete(name);
    const record = this.#write(this.#open(), name, 'ctr', KIND.counter, uintBE(value, 8));
    this.#counters.set(name, { record, value });
  }

  /** Wipe the KEK and cached keys from memory; the store refuses every later call. */
  close(): void {
    for (const k of this.#cache.values()) k.fill(0);
    this.#cache.clear();
    this.#counters.clear();
    wipe(this.#kek);
    this.#kek = undefined;
  }

  #open(): Uint8Array {
    if (!this.#kek) throw storeError(`the key store ${this.#folder} is closed`);
    return this.#kek;
  }

  #path(name: string, ext: 'key' | 'ctr'): string {
    return join(this.#folder, `${name}.${ext}`);
  }

  #loadOrCreateKek(): Uint8Array {
    const path = join(this.#folder, 'kek');
    for (;;) {
      try {
        const st = statSync(path);
        // The KEK is the whole store's secret: refuse it if anyone but the owner may touch it.
        if (st.mode & 0o077) throw storeError(`${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); expected 600`);
        const kek = new Uint8Array(readFileSync(path));
        if (kek.length !== 32) throw tampered(`${path} is ${kek.length} bytes, expected 32`);
        return kek;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      // Create atomically: write a temporary file, fsync, then link() it in place, which
      // fails if another process created the KEK first (then we read theirs).
      const tmp = this.#writeTemp('kek', new Uint8Array(randomBytes(32)), undefined, true);
      try {
        linkSync(tmp, path);
        fsyncDir(this.#folder);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw storeError(`cannot create ${path}: ${(e as Error).message}`);
      } finally {
        unlinkSync(tmp);
      }
    }
  }

  /**
   * Write `bytes` to a fsynced temporary file and return its path. Records use one name per
   * process (`.<name>.<pid>.tmp`, truncated if a crashed process of the same pid left it); the
   * KEK a fresh random one (`exclusive`), as its creation races other processes.
   */
  #writeTemp(base: string, bytes: Uint8Array, hook: (point: string) => void = () => {}, exclusive = false): string {
    const tmp = join(this.#folder, exclusive ? `.${base}.${PID}.${randomBytes(6).toString('hex')}.tmp` : `.${base}.${PID}.tmp`);
    const fd = openSync(tmp, exclusive ? 'wx' : TEMP_FLAGS, 0o600);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      hook('keystore:fsync-temp');
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      unlinkSync(tmp);
      throw e;
    }
    closeSync(fd);
    return tmp;
  }

  /** Atomic, durable replace: temp file, fsync, rename over the target, fsync the folder. */
  #write(kek: Uint8Array, name: string, ext: 'key' | 'ctr', kind: Kind, plain: Uint8Array): Uint8Array {
    const nonce = secureRandom(NONCE);
    const c = createCipheriv('aes-256-gcm', kek, nonce);
    c.setAAD(aad(kind, name));
    const body = concatBytes(c.update(plain), c.final(), c.getAuthTag());
    const record = concatBytes(MAGIC, Uint8Array.of(kind), nonce, body);
    let tmp: string | undefined;
    try {
      this.#hook('keystore:write-temp');
      tmp = this.#writeTemp(`${name}.${ext}`, record, this.#hook);
      this.#hook('keystore:rename');
      renameSync(tmp, this.#path(name, ext));
      tmp = undefined;
      this.#hook('keystore:fsync-dir');
      fsyncDir(this.#folder);
    } catch (e) {
      throw storeError(`cannot write ${name}.${ext}: ${(e as Error).message}`, name);
    } finally {
      if (tmp) try { unlinkSync(tmp); } catch { /* already gone */ }
    }
    return record;
  }

  #read(kek: Uint8Array, name: string, ext: 'key' | 'ctr'): { kind: Kind; plain: Uint8Array } | undefined {
    const bytes = this.#readBytes(name, ext);
    return bytes && this.#unseal(kek, name, ext, bytes);
  }

  #readBytes(name: string, ext: 'key' | 'ctr'): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(this.#path(name, ext)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storeError(`cannot read ${name}.${ext}: ${(e as Error).message}`, name);
    }
  }

  #unseal(kek: Uint8Array, name: string, ext: 'key' | 'ctr', bytes: Uint8Array): { kind: Kind; plain: Uint8Array } {
    if (bytes.length < MAGIC.length + 1 + NONCE + TAG || !MAGIC.every((b, i) => bytes[i] === b)) throw tampered(`${name}.${ext} is not a sealed key-store record`, name);
    const kind = bytes[MAGIC.length]! as Kind;
    const expected: readonly number[] = ext === 'ctr' ? [KIND.counter] : [KIND.key, KIND.tombstone];
    if (!expected.includes(kind)) throw tampered(`${name}.${ext} has record kind ${kind}`, name);
    const nonce = bytes.subarray(5, 5 + NONCE);
    const tag = bytes.subarray(bytes.length - TAG);
    const d = createDecipheriv('aes-256-gcm', kek, nonce);
    d.setAAD(aad(kind, name));
    d.setAuthTag(tag);
    try {
      const plain = concatBytes(d.update(bytes.subarray(5 + NONCE, bytes.length - TAG)), d.final());
      return { kind, plain };
    } catch {
      throw tampered(`${name}.${ext} failed authentication (edited, swapped or sealed under another KEK)`, name);
    }
  }

}

const PID = process.pid;

function aad(kind: Kind, name: string): Uint8Array {
  return concatBytes(MAGIC, Uint8Array.of(kind), new TextEncoder().encode(name));
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function storeError(message: string, name?: string): JukiError {
  return new JukiError('JUKI_ERR_KEYSTORE', message, name === undefined ? {} : { name });
}

function tampered(message: string, name?: string): JukiError {
  return new JukiError('JUKI_ERR_KEYSTORE_TAMPERED', message, name === undefined ? {} : { name });
}
