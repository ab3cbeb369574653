/** A minimal short/extended APDU codec for the crypto tests (the card engine has the real one). Le is kept as its raw value (0 = maximum). */
import type { CommandFields } from '../../src/crypto/index.ts';

export function encodeCommand(c: CommandFields): Uint8Array {
  const ext = c.data.length > 255 || (c.le !== undefined && c.le > 256);
  const out: number[] = [c.cla, c.ins, c.p1, c.p2];
  if (c.data.length > 0) {
    if (ext) out.push(0, c.data.length >> 8, c.data.length & 0xff);
    else out.push(c.data.length);
    out.push(...c.data);
  }
  if (c.le !== undefined) {
    if (ext) {
      if (c.data.length === 0) out.push(0);
      out.push((c.le >> 8) & 0xff, c.le & 0xff);
    } else out.push(c.le & 0xff);
  }
  return Uint8Array.from(out);
}

/** Decode a short APDU (cases 1-4); enough for the recorded sessions. */
export function decodeShort(b: Uint8Array): CommandFields {
  const [cla, ins, p1, p2] = b;
  const h = { cla: cla!, ins: ins!, p1: p1!, p2: p2! };
  if (b.length === 4) return { ...h, data: new Uint8Array(0) };
  if (b.length === 5) return { ...h, data: new Uint8Array(0), le: b[4]! };
  const lc = b[4]!;
  const data = b.slice(5, 5 + lc);
  if (b.length === 5 + lc) return { ...h, data };
  if (b.length === 6 + lc) return { ...h, data, le: b[5 + lc]! };
  throw new Error(`not a short APDU: ${b.length} bytes with Lc ${lc}`);
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
export const toHexLower = (b: Uint8Array): string => Buffer.from(b).toString('hex');
