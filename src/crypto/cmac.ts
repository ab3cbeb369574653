/**
 * AES-CMAC (NIST SP 800-38B; RFC 4493 for AES-128) on node:crypto, which has no CMAC.
 * The whole message goes through one AES-CBC pass with a zero IV, its last block first
 * masked with subkey K1 or K2; the MAC is the last ciphertext block.
 *
 * `Cmac` prepares a key once (its AES context and subkeys), for the many short MACs of a
 * secure-channel session; `aesCmac` is the one-shot form.
 */
import { AES_BLOCK, AesKey } from './aes.ts';

/** SP 800-38B §6.1 step 2-3: left shift by one bit, XOR Rb = 0^120 ‖ 10000111 when the MSB was set. */
function double(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(AES_BLOCK);
  for (let i = 0; i < AES_BLOCK; i++) out[i] = ((block[i]! << 1) | (i + 1 < AES_BLOCK ? block[i + 1]! >> 7 : 0)) & 0xff;
  if (block[0]! & 0x80) out[AES_BLOCK - 1]! ^= 0x87;
  return out;
}

const ZERO = new Uint8Array(AES_BLOCK);

/** An AES-CMAC key, prepared once: AES context and subkeys K1, K2. `dispose()` wipes them. */
export class Cmac {
  /** The key length in bits. */
  readonly bits: 128 | 192 | 256;
  readonly #aes: AesKey;
  readonly #k1: Uint8Array;
  readonly #k2: Uint8Array;

  constructor(key: Uint8Array | AesKey) {
    this.#aes = key instanceof AesKey ? key : new AesKey(key);
    this.bits = this.#aes.bits;
    // SP 800-38B §6.1: L = CIPH_K(0^128), K1 = dbl(L), K2 = dbl(K1).
    const l = this.#aes.encryptBlock(ZERO);
    this.#k1 = double(l);
    this.#k2 = double(this.#k1);
    l.fill(0);
  }

  /** The AES-CMAC of the concatenation of `parts`: the full 16-byte tag. */
  mac(...parts: readonly Uint8Array[]): Uint8Array {
    let length = 0;
    for (const p of parts) length += p.length;
    // §6.2 steps 1-3: n blocks (at least one); a complete last block is masked with K1,
    // an incomplete (or empty) one is padded with 10* and masked with K2.
    const n = Math.max(1, Math.ceil(length / AES_BLOCK));
    const complete = length > 0 && length % AES_BLOCK === 0;
    const padded = new Uint8Array(n * AES_BLOCK);
    let o = 0;
    for (const p of parts) {
      padded.set(p, o);
      o += p.length;
    }
    if (!complete) padded[length] = 0x80;
    const mask = complete ? this.#k1 : this.#k2;
    const last = (n - 1) * AES_BLOCK;
    for (let i = 0; i < AES_BLOCK; i++) padded[last + i]! ^= mask[i]!;
    // §6.2 steps 5-6: CBC with a zero IV; T = the last block (full length, MSB_128).
    const c = this.#aes.cbcEncrypt(ZERO, padded);
    const tag = c.slice(c.length - AES_BLOCK);
    padded.fill(0);
    c.fill(0);
    return tag;
  }

  dispose(): void {
    this.#aes.dispose();
    this.#k1.fill(0);
    this.#k2.fill(0);
  }
}

/** The AES-CMAC of `message` under `key` (16, 24 or 32 bytes): the full 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const c = new Cmac(key);
  try {
    return c.mac(message);
  } finally {
    c.dispose();
  }
}
