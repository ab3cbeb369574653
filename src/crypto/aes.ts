/** AES block operations over node:crypto, without padding: ECB of whole blocks, CBC with an explicit IV. */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { invalid } from '../util/index.ts';

/** The AES block size in bytes. */
export const AES_BLOCK = 16;

/** Throws unless `key` is an AES-128, -192 or -256 key; returns its length in bits. */
export function aesKeyBits(key: Uint8Array, field = 'key'): 128 | 192 | 256 {
  if (key.length === 16 || key.length === 24 || key.length === 32) return (key.length * 8) as 128 | 192 | 256;
  throw invalid(field, `expected an AES key of 16, 24 or 32 bytes, got ${key.length}`);
}

function blocks(data: Uint8Array, field: string): void {
  if (data.length % AES_BLOCK !== 0) throw invalid(field, `expected a multiple of 16 bytes, got ${data.length}`);
}

function run(c: { update(d: Uint8Array): Buffer; final(): Buffer; setAutoPadding(p: boolean): unknown }, data: Uint8Array): Uint8Array {
  c.setAutoPadding(false);
  const a = c.update(data);
  const b = c.final();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  a.fill(0);
  return out;
}

/** AES-ECB encryption of whole blocks (used for single blocks: CMAC subkeys, SCP03 ICVs). */
export function aesEcbEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  blocks(data, 'data');
  return run(createCipheriv(`aes-${aesKeyBits(key)}-ecb`, key, null), data);
}

/** AES-CBC encryption of whole blocks with the given 16-byte IV (no padding added). */
export function aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  blocks(data, 'data');
  return run(createCipheriv(`aes-${aesKeyBits(key)}-cbc`, key, iv), data);
}

/** AES-CBC decryption of whole blocks with the given 16-byte IV (no padding removed). */
export function aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  blocks(data, 'data');
  return run(createDecipheriv(`aes-${aesKeyBits(key)}-cbc`, key, iv), data);
}

type Cipher = ReturnType<typeof createCipheriv>;
type Decipher = ReturnType<typeof createDecipheriv>;

/**
 * An AES key set up once for many block operations: one OpenSSL context per direction,
 * re-used instead of a `createCipheriv` per message (which costs more than the AES itself
 * for the one- and two-block messages of SCP03).
 *
 * Encryption runs on one never-finalised AES-CBC context whose chaining value is always the
 * last ciphertext block it produced (`#chain`): to encrypt P1..Pn in CBC with any IV X, the
 * first block is fed as P1 ⊕ X ⊕ chain, so the context computes E(P1 ⊕ X), and the rest
 * chain as CBC does. ECB of one block is the case X = 0. Decryption uses an AES-ECB decipher
 * (stateless) and XORs the previous ciphertext blocks in, so a CBC decryption of n blocks is
 * one call. `dispose()` finalises both contexts, which frees them and cleanses the key
 * schedule (EVP_CIPHER_CTX_free), and wipes the chaining value.
 */
export class AesKey {
  readonly bits: 128 | 192 | 256;
  #enc: Cipher | undefined;
  #dec: Decipher | undefined;
  #key: Uint8Array | undefined;
  readonly #chain = new Uint8Array(AES_BLOCK);

  constructor(key: Uint8Array) {
    this.bits = aesKeyBits(key);
    const c = createCipheriv(`aes-${this.bits}-cbc`, key, this.#chain);
    c.setAutoPadding(false);
    this.#enc = c;
  }

  /** Keep a copy of the key so that decryption can be set up lazily (only the callers that decrypt need it). */
  static withDecryption(key: Uint8Array): AesKey {
    const k = new AesKey(key);
    k.#key = key.slice();
    return k;
  }

  /** AES-CBC encryption of whole blocks with `iv` (no padding). */
  cbcEncrypt(iv: Uint8Array, data: Uint8Array): Uint8Array {
    const enc = this.#enc;
    if (!enc) throw disposed();
    blocks(data, 'data');
    if (data.length === 0) return new Uint8Array(0);
    const input = new Uint8Array(data);
    const chain = this.#chain;
    for (let i = 0; i < AES_BLOCK; i++) input[i]! ^= iv[i]! ^ chain[i]!;
    const out = enc.update(input);
    input.fill(0);
    chain.set(out.subarray(out.length - AES_BLOCK));
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /** AES of one block (ECB). */
  encryptBlock(block: Uint8Array): Uint8Array {
    if (block.length !== AES_BLOCK) throw invalid('block', `expected 16 bytes, got ${block.length}`);
    return this.cbcEncrypt(ZERO_BLOCK, block);
  }

  /** AES-CBC decryption of whole blocks with `iv` (no padding removed). */
  cbcDecrypt(iv: Uint8Array, data: Uint8Array): Uint8Array {
    if (!this.#enc) throw disposed();
    blocks(data, 'data');
    if (!this.#dec) {
      if (!this.#key) throw invalid('key', 'this AesKey was prepared without decryption (use AesKey.withDecryption)');
      const d = createDecipheriv(`aes-${this.bits}-ecb`, this.#key, null);
      d.setAutoPadding(false);
      this.#dec = d;
      this.#key.fill(0);
      this.#key = undefined;
    }
    const out = new Uint8Array(this.#dec.update(data));
    // CBC: P_i = D(C_i) ⊕ C_(i-1), with C_0 = IV.
    for (let i = 0; i < AES_BLOCK; i++) out[i]! ^= iv[i]!;
    for (let i = AES_BLOCK; i < out.length; i++) out[i]! ^= data[i - AES_BLOCK]!;
    return out;
  }

  /** Free the contexts (cleansing the key schedules) and wipe what this object held. */
  dispose(): void {
    for (const c of [this.#enc, this.#dec]) {
      try {
        c?.final();
      } catch {
        // already finalised
      }
    }
    this.#enc = undefined;
    this.#dec = undefined;
    this.#key?.fill(0);
    this.#key = undefined;
    this.#chain.fill(0);
  }
}

const ZERO_BLOCK = new Uint8Array(AES_BLOCK);

function disposed(): Error {
  return invalid('key', 'this AesKey was disposed');
}
