/** Hex helpers for traces, CLIs and tests. Parse at the edge, once. */
import { invalid } from './errors.ts';

/** Uppercase hex without separators: `9000`. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex').toUpperCase();
}

/**
 * Parse hex, ignoring spaces, colons and a leading `0x`. Throws a JukiError naming `field`
 * when the text is not an even number of hex digits.
 */
export function fromHex(text: string, field = 'hex'): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean)) {
    const bad = clean.match(/[^0-9a-fA-F]/)![0];
    throw invalid(field, `expected hex digits, got ${JSON.stringify(bad)}`);
  }
  if (clean.length % 2 !== 0) throw invalid(field, `expected an even number of hex digits, got ${clean.length}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}
