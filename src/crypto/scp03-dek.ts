/**
 * Sensitive data under the static K-DEK (GP Amd D §6.2.8; GP CS v2.3 PUT KEY): keys and
 * other secrets sent inside an SCP03 session are encrypted with AES-CBC, ICV = 16 × 00, and
 * identified by a key check value.
 */
import { aesCbcDecrypt, aesCbcEncrypt, aesEcbEncrypt, aesKeyBits } from './aes.ts';
import { invalid } from '../util/index.ts';

/** AES-CBC encryption under K-DEK with a zero ICV; `data` must already be a multiple of 16 bytes. */
export function dekEncrypt(dek: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0 || data.length % 16 !== 0) throw invalid('data', `expected a non-empty multiple of 16 bytes, got ${data.length}`);
  return aesCbcEncrypt(dek, new Uint8Array(16), data);
}

/** AES-CBC decryption under K-DEK with a zero ICV. */
export function dekDecrypt(dek: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0 || data.length % 16 !== 0) throw invalid('data', `expected a non-empty multiple of 16 bytes, got ${data.length}`);
  return aesCbcDecrypt(dek, new Uint8Array(16), data);
}

/** The AES key check value of GP PUT KEY (GP CS v2.3 with Amd D for AES keys): the first 3 bytes of AES(key, 16 × 01). */
export function keyCheckValue(key: Uint8Array): Uint8Array {
  aesKeyBits(key);
  return aesEcbEncrypt(key, new Uint8Array(16).fill(0x01)).slice(0, 3);
}
