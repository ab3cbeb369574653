/**
 * BER-TLV (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1) and GlobalPlatform DGI (GP 2.3 §11.11.2.2,
 * the STORE DATA grouping) codecs. Parsing never throws anything but IsoError(6A80), so a
 * malformed host message is answered, not crashed on.
 */
import { IsoError, SW } from './sw.ts';
import { toHex } from '../util/index.ts';

export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** Parse a BER-TLV sequence (tags up to 3 bytes, definite lengths up to 3 bytes). `00`/`FF` padding between objects is skipped (ISO 7816-4 §5.2). */
export function parseTlvs(b: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0x00 || b[i] === 0xff) {
      i++;
      continue;
    }
    let tag = b[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      // subsequent tag bytes: b8 set means another follows (X.690 §8.1.2.4)
      let more = true;
      for (let k = 0; more; k++) {
        if (i >= b.length || k >= 2) throw new IsoError(SW.INCORRECT_DATA);
        const t = b[i++]!;
        tag = (tag << 8) | t;
        more = (t & 0x80) !== 0;
      }
    }
    if (i >= b.length) throw new IsoError(SW.INCORRECT_DATA);
    let len = b[i++]!;
    if (len === 0x81) {
      if (i + 1 > b.length) throw new IsoError(SW.INCORRECT_DATA);
      len = b[i++]!;
    } else if (len === 0x82) {
      if (i + 2 > b.length) throw new IsoError(SW.INCORRECT_DATA);
      len = (b[i]! << 8) | b[i + 1]!;
      i += 2;
    } else if (len > 0x80) {
      throw new IsoError(SW.INCORRECT_DATA);
    } else if (len === 0x80) {
      throw new IsoError(SW.INCORRECT_DATA); // indefinite length is not allowed in 7816-4 SIMPLE/BER data objects here
    }
    if (i + len > b.length) throw new IsoError(SW.INCORRECT_DATA);
    out.push({ tag, value: b.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** The first object with `tag`, or undefined. */
export function findTlv(tlvs: readonly Tlv[], tag: number): Uint8Array | undefined {
  return tlvs.find((t) => t.tag === tag)?.value;
}

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  if (n < 0x10000) return [0x82, n >> 8, n & 0xff];
  throw new RangeError(`TLV length expected below 65536, got ${n}`);
}

function tagBytes(tag: number): number[] {
  if (tag > 0xffff) return [tag >> 16, (tag >> 8) & 0xff, tag & 0xff];
  if (tag > 0xff) return [tag >> 8, tag & 0xff];
  return [tag];
}

/** Encode one BER-TLV: `tlv(0x84, aid)` → `84 0A D3 92 ...`. Values may be nested encodings. */
export function tlv(tag: number, ...values: Uint8Array[]): Uint8Array {
  const len = values.reduce((s, v) => s + v.length, 0);
  const head = [...tagBytes(tag), ...lengthBytes(len)];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  let o = head.length;
  for (const v of values) {
    out.set(v, o);
    o += v.length;
  }
  return out;
}

/** Concatenate byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface Dgi {
  readonly dgi: number;
  readonly value: Uint8Array;
}

/** Parse DGIs (GP 2.3 §11.11.2.2 / EMV CPS): 2-byte tag, length 1 byte, or `FF` + 2 bytes. */
export function parseDgis(b: Uint8Array): Dgi[] {
  const out: Dgi[] = [];
  let i = 0;
  while (i < b.length) {
    if (i + 3 > b.length) throw new IsoError(SW.INCORRECT_DATA);
    const dgi = (b[i]! << 8) | b[i + 1]!;
    let len = b[i + 2]!;
    i += 3;
    if (len === 0xff) {
      if (i + 2 > b.length) throw new IsoError(SW.INCORRECT_DATA);
      len = (b[i]! << 8) | b[i + 1]!;
      i += 2;
    }
    if (i + len > b.length) throw new IsoError(SW.INCORRECT_DATA);
    out.push({ dgi, value: b.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** Encode one DGI: `dgi(0x0101, value)` → `01 01 Lx value` (`FF L1 L2` when ≥ 255 bytes). */
export function dgi(tag: number, value: Uint8Array): Uint8Array {
  const head = value.length < 0xff ? [tag >> 8, tag & 0xff, value.length] : [tag >> 8, tag & 0xff, 0xff, value.length >> 8, value.length & 0xff];
  const out = new Uint8Array(head.length + value.length);
  out.set(head);
  out.set(value, head.length);
  return out;
}

/** A trace form: `84=D392F000... A5=(...)`. */
export function tlvToString(tlvs: readonly Tlv[]): string {
  return tlvs.map((t) => `${t.tag.toString(16).toUpperCase()}=${toHex(t.value)}`).join(' ');
}
