/**
 * AES-CMAC (NIST SP 800-38B; RFC 4493 for AES-128) on node:crypto, which has no CMAC.
 * The whole message goes through one AES-CBC pass with a zero IV, its last block first
 * masked with subkey K1 or K2; the MAC is the last ciphertext block.
 */
import { AES_BLOCK, aesCbcEncrypt, aesEcbEncrypt, aesKeyBits } from './aes.ts';

/** SP 800-38B §6.1 step 2-3: left shift by one bit, XOR Rb = 0^120 ‖ 10000111 when the MSB was set. */
function double(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(AES_BLOCK);
  for (let i = 0; i < AES_BLOCK; i++) out[i] = ((block[i]! << 1) | (i + 1 < AES_BLOCK ? block[i + 1]! >> 7 : 0)) & 0xff;
  if (block[0]! & 0x80) out[AES_BLOCK - 1]! ^= 0x87;
  return out;
}

/** The AES-CMAC of `message` under `key` (16, 24 or 32 bytes): the full 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  aesKeyBits(key);
  // SP 800-38B §6.1: L = CIPH_K(0^128), K1 = dbl(L), K2 = dbl(K1).
  const l = aesEcbEncrypt(key, new Uint8Array(AES_BLOCK));
  const k1 = double(l);
  const k2 = double(k1);
  // §6.2 steps 1-3: n blocks (at least one); a complete last block is masked with K1,
  // an incomplete (or empty) one is padded with 10* and masked with K2.
  const n = Math.max(1, Math.ceil(message.length / AES_BLOCK));
  const complete = message.length > 0 && message.length % AES_BLOCK === 0;
  const padded = new Uint8Array(n * AES_BLOCK);
  padded.set(message);
  if (!complete) padded[message.length] = 0x80;
  const mask = complete ? k1 : k2;
  const last = (n - 1) * AES_BLOCK;
  for (let i = 0; i < AES_BLOCK; i++) padded[last + i]! ^= mask[i]!;
  // §6.2 steps 5-6: CBC with a zero IV; T = the last block (full length, MSB_128).
  const c = aesCbcEncrypt(key, new Uint8Array(AES_BLOCK), padded);
  const tag = c.slice(c.length - AES_BLOCK);
  l.fill(0);
  k1.fill(0);
  k2.fill(0);
  padded.fill(0);
  c.fill(0);
  return tag;
}
