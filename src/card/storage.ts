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
 * Retry counters (R2.2.1e) are not kept in the image: each PIN has its own monotonic counter
 * in the KeyStore (retryCounterName), whose value encodes an epoch and the tries left
 * (nextRetryCounter). VERIFY's decrement before the comparison and its restore after a match
 * are each ONE atomic write of that counter (saveRetryCounter); the image is not touched. A
 * counter that only goes up cannot be rolled back through the store, and since the image no
 * longer holds the counters, no image copy can give a try back. The image records each PIN
 * counter's value at the image's own commit (its "floor"): a counter record deleted, or
 * restored to a value older than the image, is refused as tampering.
 *
 * Image write order (save): blob (generation n+1, with the PIN counters' new floors) first,
 * then each PIN counter that changes → its floor, then the generation counter → n+1. A cut
 * anywhere leaves either the old blob (nothing changed) or the new blob one generation ahead
 * of the counter, which load() accepts once and completes (PIN counters to their floors, then
 * the generation): old or new, never a mix.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyStore } from '../crypto/index.ts';
import { JukiError, toHex } from '../util/index.ts';
import { decodeImage, encodeImage, type AppRecord, type CardImage } from './image.ts';

/** Where a card's image lives. */
export interface CardStore {
  /** The card id (serial hex) this store holds. */
  readonly cardId: string;
  /** The last committed image, undefined when the card was never written. Throws JUKI_ERR_CARD_TAMPERED. */
  load(): CardImage | undefined;
  /** Persist the image atomically, before returning. */
  save(image: CardImage): void;
  /**
   * Persist one PIN's retry counter (`app.pins[ref].tries`) durably, before returning, when
   * that counter is the only change since the last save: VERIFY's decrement before the
   * comparison and its restore after a match (R2.2.1e). One atomic write. Optional: the
   * engine calls save(image) for a store without it.
   */
  saveRetryCounter?(image: CardImage, app: AppRecord, ref: number): void;
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

// ---- retry counters in the key store ----------------------------------------------------------

/** Values per epoch of a retry counter: tries left are 0..15 (the 63 Cx status word's range). */
const STRIDE = 16;
const MAX_TRIES = STRIDE - 1;

/** Key-store name of one PIN's retry counter: `card:<serial hex>:pin:<application AID hex>:<ref>`. */
export function retryCounterName(cardId: string, aid: Uint8Array, ref: number): string {
  return `card:${cardId.toLowerCase()}:pin:${toHex(aid).toLowerCase()}:${ref}`;
}

/** Tries left encoded by a retry-counter value: 15 − (value mod 16). */
export function retryCounterTries(value: number): number {
  return MAX_TRIES - (value % STRIDE);
}

/**
 * The retry-counter value that records `tries` left after `value`, never smaller than `value`:
 * value = epoch × 16 + (15 − tries). A decrement stays in the epoch (value + 1, once per try
 * spent); any increase (a correct PIN, a new PIN, an unblock) opens the next epoch. Values
 * below 16 mean "never written": the first value is in epoch 1, so a committed counter is
 * never 0 and a deleted counter record (which reads 0) is always noticed.
 */
export function nextRetryCounter(value: number, tries: number): number {
  if (!Number.isInteger(tries) || tries < 0 || tries > MAX_TRIES) throw new RangeError(`retry counter: tries left must be 0..${MAX_TRIES}, got ${tries}`);
  if (value < STRIDE) return STRIDE + (MAX_TRIES - tries);
  const now = retryCounterTries(value);
  if (tries <= now) return value + (now - tries);
  return (Math.floor(value / STRIDE) + 1) * STRIDE + (MAX_TRIES - tries);
}

// ---- the sealed image ------------------------------------------------------------------------

/**
 * Sealed image layout (version 3):
 *   "JUKICARD" ‖ 03 ‖ generation (u64 BE) ‖ id length (1) ‖ card id (ASCII hex serial) ‖ IV (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
 * with the whole header (up to the IV) as associated data, so the generation and the card id
 * are authenticated; the id is in clear so that a tool given only the file knows which
 * card's sealing key to ask the key store for (the serial is public: GET DATA 0045).
 * Plaintext (version 3): PIN count (u16 BE) ‖ per PIN: AID length (1) ‖ AID ‖ ref (1) ‖ the
 * PIN's retry-counter floor (u64 BE) ‖ then the image (image.ts JSON). The `tries` a version-3
 * image holds are not read: tries come from the key store's counters.
 * Versions 1 and 2 (retry counters inside the image; version 1 without the id in the header,
 * the id appended to the associated data) are still read; the first write after loading one
 * rewrites the card as version 3 (migration).
 */
const MAGIC = Buffer.from('JUKICARD', 'ascii');
const VERSION = 3;
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

/** Key-store names for a card's sealing key and generation counter (each PIN's retry counter: retryCounterName). */
export function sealingNames(cardId: string): { key: string; counter: string } {
  const id = cardId.toLowerCase();
  return { key: `card:${id}:image-seal`, counter: `card:${id}:generation` };
}

/**
 * The card id a sealed image (version 2 or 3) names in its header, without opening it;
 * undefined when the bytes are not such a sealed image. Not authenticated until load() checks it.
 */
export function sealedImageCardId(blob: Uint8Array): string | undefined {
  const version = blob[MAGIC.length];
  if (blob.length < HEADER + 1 + IV + TAG || !MAGIC.equals(Buffer.from(blob.subarray(0, MAGIC.length))) || (version !== 2 && version !== VERSION)) return undefined;
  const n = blob[HEADER]!;
  if (n === 0 || blob.length < HEADER + 1 + n + IV + TAG) return undefined;
  const id = Buffer.from(blob.subarray(HEADER + 1, HEADER + 1 + n)).toString('latin1');
  return /^[0-9A-Za-z._:-]{1,64}$/.test(id) ? id : undefined;
}

/** The sealed layout version of a card image (1, 2 or 3), undefined when the bytes are not one. */
export function sealedImageVersion(blob: Uint8Array): number | undefined {
  if (blob.length < HEADER + IV + TAG || !MAGIC.equals(Buffer.from(blob.subarray(0, MAGIC.length)))) return undefined;
  const v = blob[MAGIC.length]!;
  return v >= 1 && v <= VERSION ? v : undefined;
}

interface PinSlot {
  readonly app: AppRecord;
  readonly ref: number;
  readonly name: string;
}

/** AES-256-GCM sealed image with an anti-rollback counter, and a monotonic retry counter per PIN, in the key store. */
export class SealedCardStore implements CardStore {
  readonly durable = true;
  readonly cardId: string;
  readonly #ks: KeyStore;
  readonly #blobs: BlobStore;
  readonly #names: { key: string; counter: string };
  /** Each PIN counter's value as this store last read or wrote it (RAM), by key-store name. */
  #retry = new Map<string, number>();
  /** The committed image is version 1 or 2 (counters inside it): the next change rewrites it whole, as version 3. */
  #legacy = false;
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

  /** Version 2 / 3 header (also the associated data): magic ‖ version ‖ generation ‖ id length ‖ card id. */
  #header(generation: bigint, version: number): Buffer {
    const h = Buffer.alloc(HEADER + 1 + this.cardId.length);
    MAGIC.copy(h, 0);
    h[MAGIC.length] = version;
    h.writeBigUInt64BE(generation, MAGIC.length + 1);
    h[HEADER] = this.cardId.length;
    h.write(this.cardId, HEADER + 1, 'ascii');
    return h;
  }

  /** Every PIN of the image, with its counter's key-store name. */
  #slots(image: CardImage): PinSlot[] {
    const out: PinSlot[] = [];
    for (const app of image.apps) {
      for (const key of Object.keys(app.pins)) {
        const ref = Number(key);
        out.push({ app, ref, name: retryCounterName(this.cardId, app.aid, ref) });
      }
    }
    return out;
  }

  load(): CardImage | undefined {
    this.#retry = new Map();
    this.#legacy = false;
    const blob = this.#blobs.read();
    const counter = this.#ks.readCounter(this.#names.counter);
    if (!blob) {
      if (counter > 0) this.#tampered('the image is missing');
      return undefined;
    }
    if (!this.#ks.hasKey(this.#names.key)) this.#tampered('no live sealing key');
    const version = sealedImageVersion(blob);
    if (version === undefined) return this.#tampered('the image header is not a sealed card image');
    const generation = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readBigUInt64BE(MAGIC.length + 1);
    let aad: Buffer;
    let body = HEADER;
    if (version >= 2) {
      const id = sealedImageCardId(blob);
      if (id === undefined) return this.#tampered('the image header is not a sealed card image');
      if (id !== this.cardId) this.#tampered(`the image is card ${id}'s, not ${this.cardId}'s`);
      aad = this.#header(generation, version);
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
    const interrupted = generation === BigInt(counter) + 1n;
    let image: CardImage;
    let floors: Map<string, number> | undefined;
    try {
      if (version === VERSION) {
        const p = decodePayload(plain);
        floors = new Map(p.floors.map((f) => [retryCounterName(this.cardId, f.aid, f.ref), f.floor]));
        if (floors.size !== p.floors.length) throw new Error('a PIN twice in the counter table');
        image = decodeImage(p.image);
      } else image = decodeImage(plain);
    } catch {
      return this.#tampered('the image does not decode');
    } finally {
      plain.fill(0);
    }
    if (!floors) {
      // Version 1 / 2: the retry counters are the image's own; the next write migrates the card.
      // A card that has retry counters in the key store was migrated already (they are written
      // only after a version-3 image): an old image put back with its generation record is refused.
      for (const s of this.#slots(image)) {
        if (this.#ks.readCounter(s.name) > 0) this.#tampered(`a version-${version} image was put back over a card whose retry counters are in the key store`);
      }
      this.#legacy = true;
      if (interrupted) this.#ks.advanceCounter(this.#names.counter, Number(generation)); // finish an interrupted commit
      return image;
    }
    const slots = this.#slots(image);
    if (slots.length !== floors.size || slots.some((s) => !floors.has(s.name))) this.#tampered('the image\'s retry-counter table does not match its PINs');
    for (const s of slots) {
      const floor = floors.get(s.name)!;
      let value = this.#ks.readCounter(s.name);
      if (value < floor) {
        // The commit that wrote this image stopped before this counter: finish it. Otherwise
        // the counter record was deleted or restored from an older copy: tries would come back.
        if (!interrupted) this.#tampered(`the retry counter of PIN ${s.ref} of application ${toHex(s.app.aid)} is older than the image (${value} < ${floor}): a key-store record was deleted or restored`);
        this.#ks.advanceCounter(s.name, floor);
        value = floor;
      }
      if (value < STRIDE) this.#tampered(`the retry counter of PIN ${s.ref} of application ${toHex(s.app.aid)} was never written`);
      s.app.pins[s.ref]!.tries = retryCounterTries(value);
      this.#retry.set(s.name, value);
    }
    if (interrupted) this.#ks.advanceCounter(this.#names.counter, Number(generation)); // finish an interrupted commit
    return image;
  }

  /**
   * One PIN's tries changed and nothing else: advance its counter (one atomic write). Before
   * the first write after loading a version 1 / 2 image, or for a PIN this store has no
   * counter for yet, the whole image is saved instead.
   */
  saveRetryCounter(image: CardImage, app: AppRecord, ref: number): void {
    const name = retryCounterName(this.cardId, app.aid, ref);
    const value = this.#retry.get(name);
    const pin = app.pins[ref];
    if (this.#legacy || value === undefined || !pin) return this.save(image);
    const next = nextRetryCounter(value, pin.tries);
    if (next === value) return;
    this.onWritePoint('retry-counter:advance');
    this.#ks.advanceCounter(name, next);
    this.#retry.set(name, next);
    this.onWritePoint('done');
  }

  save(image: CardImage): void {
    const counter = this.#ks.readCounter(this.#names.counter);
    const generation = BigInt(counter) + 1n;
    // Each PIN counter's value once this image is committed (its floor).
    const slots = this.#slots(image).map((s) => {
      const now = this.#retry.get(s.name) ?? this.#ks.readCounter(s.name);
      return { ...s, now, floor: nextRetryCounter(now, s.app.pins[s.ref]!.tries) };
    });
    const key = this.#ks.secretKey(this.#names.key, counter === 0);
    const plain = encodePayload(slots, encodeImage(image));
    let sealed: Buffer;
    try {
      const iv = randomBytes(IV);
      const header = this.#header(generation, VERSION);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(header);
      const ct = Buffer.concat([c.update(plain), c.final()]);
      sealed = Buffer.concat([header, iv, ct, c.getAuthTag()]);
    } finally {
      key.fill(0);
      plain.fill(0);
    }
    this.#blobs.write(new Uint8Array(sealed), this.onWritePoint);
    const retry = new Map<string, number>();
    for (const s of slots) {
      if (s.floor !== s.now) {
        this.onWritePoint('retry-counter:advance');
        this.#ks.advanceCounter(s.name, s.floor);
      }
      retry.set(s.name, s.floor);
    }
    this.onWritePoint('counter:advance');
    this.#ks.advanceCounter(this.#names.counter, Number(generation));
    this.#retry = retry;
    this.#legacy = false;
    this.onWritePoint('done');
  }
}

/** Version 3 plaintext: PIN count (u16) ‖ per PIN: AID length ‖ AID ‖ ref ‖ floor (u64) ‖ image JSON. */
function encodePayload(slots: readonly { app: AppRecord; ref: number; floor: number }[], image: Uint8Array): Buffer {
  let size = 2 + image.length;
  for (const s of slots) size += 1 + s.app.aid.length + 1 + 8;
  const out = Buffer.alloc(size);
  let o = out.writeUInt16BE(slots.length, 0);
  for (const s of slots) {
    out[o++] = s.app.aid.length;
    out.set(s.app.aid, o);
    o += s.app.aid.length;
    out[o++] = s.ref;
    o = out.writeBigUInt64BE(BigInt(s.floor), o);
  }
  out.set(image, o);
  image.fill(0);
  return out;
}

/** The counter table and the image bytes. Throws on anything malformed. */
function decodePayload(plain: Buffer): { floors: { aid: Uint8Array; ref: number; floor: number }[]; image: Uint8Array } {
  const n = plain.readUInt16BE(0);
  let o = 2;
  const floors: { aid: Uint8Array; ref: number; floor: number }[] = [];
  for (let i = 0; i < n; i++) {
    const len = plain[o++]!;
    if (len < 5 || len > 16 || o + len + 1 + 8 > plain.length) throw new Error('bad counter table');
    const aid = Uint8Array.from(plain.subarray(o, o + len));
    o += len;
    const ref = plain[o++]!;
    const floor = plain.readBigUInt64BE(o);
    o += 8;
    if (floor > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('bad floor');
    floors.push({ aid, ref, floor: Number(floor) });
  }
  return { floors, image: plain.subarray(o) };
}
