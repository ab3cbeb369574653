/**
 * An independent oracle for the known-answer tests: SP 800-38B CMAC block by block, the
 * GP Amd D §4.1.5 KDF and the SCP03 wrapping written out directly on node:crypto, sharing
 * no code with src/crypto.
 */
import { createCipheriv } from 'node:crypto';

export function ecb(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

export function cbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-cbc`, key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

function dbl(b: Uint8Array): Uint8Array {
  const x = (BigInt('0x' + Buffer.from(b).toString('hex')) << 1n) & ((1n << 128n) - 1n);
  const r = x ^ (b[0]! & 0x80 ? 0x87n : 0n);
  return new Uint8Array(Buffer.from(r.toString(16).padStart(32, '0'), 'hex'));
}

export function cmac(key: Uint8Array, m: Uint8Array): Uint8Array {
  const k1 = dbl(ecb(key, new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(m.length / 16));
  let x: Uint8Array = new Uint8Array(16);
  for (let j = 0; j < n; j++) {
    const blk = new Uint8Array(16);
    const part = m.subarray(j * 16, j * 16 + 16);
    blk.set(part);
    if (j === n - 1) {
      if (part.length < 16) blk[part.length] = 0x80;
      const k = part.length === 16 ? k1 : k2;
      for (let i = 0; i < 16; i++) blk[i]! ^= k[i]!;
    }
    for (let i = 0; i < 16; i++) x[i]! ^= blk[i]!;
    x = ecb(key, x);
  }
  return x;
}

/** GP Amd D §4.1.5, written out: 11 zero bytes, constant, 00, L (2 bytes), counter, context. */
export function kdf(key: Uint8Array, constant: number, context: Uint8Array, bits: number): Uint8Array {
  const out: number[] = [];
  for (let i = 1; out.length * 8 < bits; i++) {
    out.push(...cmac(key, Uint8Array.from([...new Array(11).fill(0), constant, 0, bits >> 8, bits & 0xff, i, ...context])));
  }
  return Uint8Array.from(out.slice(0, bits / 8));
}

export const cat = (...p: Uint8Array[]): Uint8Array => Uint8Array.from(p.flatMap((x) => [...x]));
