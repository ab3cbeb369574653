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
