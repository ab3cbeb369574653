/**
 * Card storage (R2.2.5): where the image lives between APDUs.
 *
 * - MemoryCardStore keeps the live image object: nothing is serialised, for benchmarks and
 *   tests that do not care about durability.
 * - SealedCardStore seals the image with AES-256-GCM under a key that lives in the host's
 *   KeyStore (outside the image), and writes it all-or-nothing through a BlobStore (memory,
 *   or a file with write-temp / fsync / rename). A monotonic generation counter, also in the
 *   KeyStore, is bound into the sealed header: an edited image fails GCM, an older copy fails
 *   the counter, and either destroys the sealing key (the card is dead, as a chip that
 *   detects an attack zeroises itself).
 *
 * Write order: blob (generation n+1) first, then counter → n+1. A cut between the two leaves
 * a blob one ahead of the counter, which load() accepts once and completes; a cut before the
 * blob leaves the old state. Either way old or new, never a mix.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyStore } from '../crypto/index.ts';
import { JukiError } from '../util/index.ts';
import { decodeImage, encodeImage, type CardImage } from './image.ts';

/** Where a card's image lives. */
export interface CardStore {
  /** The card id (serial hex) this store holds. */
  readonly cardId: string;
  /** The last committed image, undefined when the card was never written. Throws JUKI_ERR_CARD_TAMPERED. */
  load(): CardImage | undefined;
  /** Persist the image atomically, before returning. */
  save(image: CardImage): void;
  /** Whether save() serialises (so the engine knows a save is worth batching). */
  readonly durable: boolean;
}

/** A hook called before each step of a durable write; the power-cut harness throws from it to cut power there. */
export type WritePointHook = (point: string) => void;

/** Keeps the live image in memory. Not durable: a "power cut" here loses nothing and saves nothing. */
export class MemoryCardStore implements CardStore {
  readonly durable = false;
  #image: CardImage | undefined;
  constructor(readonly cardId: string) {}
  load(): CardImage | undefined {
    return this.#image;
  }
  save(image: CardImage): void {
    this.#image = image;
  }
}

/** Raw bytes with an atomic replace. */
export interface BlobStore {
  read(): Uint8Array | undefined;
  /** Replace the stored bytes atomically, calling `hook` before each step. */
  write(bytes: Uint8Array, hook: WritePointHook): void;
}

/** A blob in memory (tests, the power-cut harness). */
export class MemoryBlobStore implements BlobStore {
  bytes: Uint8Array | undefined;
  read(): Uint8Array | undefined {
    return this.bytes?.slice();
  }
  write(bytes: Uint8Array, hook: WritePointHook): void {
    hook('blob:replace');
    this.bytes = bytes.slice();
  }
}

/** A blob in a file, replaced by write-temp / fsync / rename / fsync(dir) (POSIX atomic rename). */
export class FileBlobStore implements BlobStore {
  constructor(readonly path: string) {}
  read(): Uint8Array | undefined {
    const tmp = `${this.path}.tmp`;
    // A temp file is a write that never reached its rename: the old image is the committed one.
    if (existsSync(tmp)) unlinkSync(tmp);
    if (!existsSync(this.path)) return undefined;
    return new Uint8Array(readFileSync(this.path));
  }
  write(bytes: Uint8Array, hook: WritePointHook): void {
    const tmp = `${this.path}.tmp`;
    hook('file:write-temp');
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, bytes);
      hook('file:fsync-temp');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    hook('file:rename');
    renameSync(tmp, this.path);
    hook('file:fsync-dir');
    try {
      const dfd = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
  }
}

/**
 * Sealed image layout (version 2):
 *   "JUKICARD" ‖ 02 ‖ generation (u64 BE) ‖ id length (1) ‖ card id (ASCII hex serial) ‖ IV (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
 * with the whole header (up to the IV) as associated data, so the generation and the card id
 * are authenticated; the id is in clear so that a tool given only the file knows which
 * card's sealing key to ask the key store for (the serial is public: GET DATA 0045).
 * Version 1 (no id in the header; the id appended to the associated data) is still read.
 */
const MAGIC = Buffer.from('JUKICARD', 'ascii');
const VERSION = 2;
const HEADER = MAGIC.length + 1 + 8; // magic ‖ version ‖ generation (u64 BE)
const IV = 12;
const TAG = 16;

export interface SealedCardStoreOptions {
  readonly cardId: string;
  readonly keyStore: KeyStore;
  readonly blobs: BlobStore;
  /** Called before every write step (tests cut power here). */
  readonly onWritePoint?: WritePointHook;
}

/** Key-store names for a card's sealing key and generation counter. */
export function sealingNames(cardId: string): { key: string; counter: string } {
  const id = cardId.toLowerCase();
  return { key: `card:${id}:image-seal`, counter: `card:${id}:generation` };
}

/**
 * The card id a sealed image (version 2) names in its header, without opening it; undefined
 * when the bytes are not a version-2 sealed image. Not authenticated until load() checks it.
 */
export function sealedImageCardId(blob: Uint8Array): string | undefined {
  if (blob.length < HEADER + 1 + IV + TAG || !MAGIC.equals(Buffer.from(blob.subarray(0, MAGIC.length))) || blob[MAGIC.length] !== VERSION) return undefined;
  const n = blob[HEADER]!;
  if (n === 0 || blob.length < HEADER + 1 + n + IV + TAG) return undefined;
  const id = Buffer.from(blob.subarray(HEADER + 1, HEADER + 1 + n)).toString('latin1');
  return /^[0-9A-Za-z._:-]{1,64}$/.test(id) ? id : undefined;
}

/** AES-256-GCM sealed image with an anti-rollback counter in the key store. */
export class SealedCardStore implements CardStore {
  readonly durable = true;
  readonly cardId: string;
  readonly #ks: KeyStore;
  readonly #blobs: BlobStore;
  readonly #names: { key: string; counter: string };
  onWritePoint: WritePointHook;

  constructor(o: SealedCardStoreOptions) {
    this.cardId = o.cardId;
    this.#ks = o.keyStore;
    this.#blobs = o.blobs;
    this.#names = sealingNames(o.cardId);
    this.onWritePoint = o.onWritePoint ?? (() => {});
  }

  #tampered(why: string): never {
    // R2.2.5: detected tampering zeroises the card (its sealing key).
    try {
      this.#ks.destroyKey(this.#names.key);
    } catch {
      // already destroyed
    }
    throw new JukiError('JUKI_ERR_CARD_TAMPERED', `card ${this.cardId}: ${why}; the card's sealing key is destroyed`, { cardId: this.cardId });
  }

  /** Version 1 associated data: magic ‖ 01 ‖ generation ‖ card id. */
  #aadV1(generation: bigint): Buffer {
    const h = Buffer.alloc(HEADER + this.cardId.length);
    MAGIC.copy(h, 0);
    h[MAGIC.length] = 1;
    h.writeBigUInt64BE(generation, MAGIC.length + 1);
    h.write(this.cardId, HEADER, 'ascii'); // binds the image to this card: a swapped image fails GCM
    return h;
  }

  /** Version 2 header (also the associated data): magic ‖ 02 ‖ generation ‖ id length ‖ card id. */
  #header(generation: bigint): Buffer {
    const h = Buffer.alloc(HEADER + 1 + this.cardId.length);
    MAGIC.copy(h, 0);
    h[MAGIC.length] = VERSION;
    h.writeBigUInt64BE(generation, MAGIC.length + 1);
    h[HEADER] = this.cardId.length;
    h.write(this.cardId, HEADER + 1, 'ascii');
    return h;
  }

  load(): CardImage | undefined {
    const blob = this.#blobs.read();
    const counter = this.#ks.readCounter(this.#names.counter);
    if (!blob) {
      if (counter > 0) this.#tampered('the image is missing');
      return undefined;
    }
    if (!this.#ks.hasKey(this.#names.key)) this.#tampered('no live sealing key');
    const version = blob[MAGIC.length];
    if (blob.length < HEADER + IV + TAG || !MAGIC.equals(Buffer.from(blob.subarray(0, MAGIC.length))) || (version !== 1 && version !== VERSION)) {
      this.#tampered('the image header is not a sealed card image');
    }
    const generation = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readBigUInt64BE(MAGIC.length + 1);
    let aad: Buffer;
    let body = HEADER;
    if (version === VERSION) {
      const id = sealedImageCardId(blob);
      if (id === undefined) return this.#tampered('the image header is not a sealed card image');
      if (id !== this.cardId) this.#tampered(`the image is card ${id}'s, not ${this.cardId}'s`);
      aad = this.#header(generation);
      body = aad.length;
    } else aad = this.#aadV1(generation);
    const key = this.#ks.secretKey(this.#names.key, false);
    let plain: Buffer;
    try {
      if (blob.length < body + IV + TAG) throw new Error('short');
      const iv = blob.subarray(body, body + IV);
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(aad);
      d.setAuthTag(blob.subarray(blob.length - TAG));
      plain = Buffer.concat([d.update(blob.subarray(body + IV, blob.length - TAG)), d.final()]);
    } catch {
      return this.#tampered('the image fails authentication');
    } finally {
      key.fill(0);
    }
    // Anti-rollback: the image must be the latest committed one, or the one being committed.
    if (generation < BigInt(counter)) this.#tampered(`an older image was restored (generation ${generation}, expected ${counter})`);
    if (generation > BigInt(counter) + 1n) this.#tampered(`the image generation ${generation} is ahead of the counter ${counter}`);
    if (generation === BigInt(counter) + 1n) this.#ks.advanceCounter(this.#names.counter, Number(generation)); // finish an interrupted commit
    let image: CardImage;
    try {
      image = decodeImage(plain);
    } catch {
      return this.#tampered('the image does not decode');
    } finally {
      plain.fill(0);
    }
    return image;
  }

  save(image: CardImage): void {
    const counter = this.#ks.readCounter(this.#names.counter);
    const generation = BigInt(counter) + 1n;
    const key = this.#ks.secretKey(this.#names.key, counter === 0);
    const plain = encodeImage(image);
    let sealed: Buffer;
    try {
      const iv = randomBytes(IV);
      const header = this.#header(generation);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(header);
      const ct = Buffer.concat([c.update(plain), c.final()]);
      sealed = Buffer.concat([header, iv, ct, c.getAuthTag()]);
    } finally {
      key.fill(0);
      plain.fill(0);
    }
    this.#blobs.write(new Uint8Array(sealed), this.onWritePoint);
    this.onWritePoint('counter:advance');
    this.#ks.advanceCounter(this.#names.counter, Number(generation));
    this.onWritePoint('done');
  }
}
