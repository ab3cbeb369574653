/** Byte helpers for the crypto code: concatenation, constant-time comparison, padding, wiping. */
import { timingSafeEqual } from 'node:crypto';
import { invalid } from '../util/index.ts';

/** Concatenate byte arrays into a new Uint8Array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Constant-time equality of two byte strings (crypto.timingSafeEqual). Arrays of different
 * lengths are unequal; the length itself is not secret (MACs and cryptograms have fixed sizes).
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** Overwrite secret material with zeros (STYLE.md: wipe secrets when done). */
export function wipe(...bufs: (Uint8Array | undefined)[]): void {
  for (const b of bufs) b?.fill(0);
}

/**
 * ISO/IEC 9797-1 padding method 2: append 80 then 00 up to a multiple of `block` bytes.
 * Always adds at least one byte (GP Amd D §6.2.6 and §6.2.7 pad even an aligned field).
 */
export function padMethod2(data: Uint8Array, block = 16): Uint8Array {
  const out = new Uint8Array((Math.floor(data.length / block) + 1) * block);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/**
 * Remove ISO/IEC 9797-1 method 2 padding; returns undefined when the padding is malformed
 * (no 80 marker within the last block, or a non-zero byte after it).
 */
export function unpadMethod2(data: Uint8Array, block = 16): Uint8Array | undefined {
  if (data.length === 0 || data.length % block !== 0) return undefined;
  let i = data.length - 1;
  const stop = data.length - block;
  while (i >= stop && data[i] === 0x00) i--;
  if (i < stop || data[i] !== 0x80) return undefined;
  return data.slice(0, i);
}

/** Big-endian unsigned integer of `width` bytes. */
export function uintBE(value: number, width: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** (8 * width)) {
    throw invalid('value', `expected an integer 0..${2 ** (8 * width) - 1}, got ${value}`);
  }
  const out = new Uint8Array(width);
  let v = value;
  for (let i = width - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Read a big-endian unsigned integer. */
export function readUintBE(bytes: Uint8Array): number {
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}
