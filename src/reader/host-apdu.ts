/**
 * What a host needs to speak the card protocol (docs/card-protocol.md) over any transport:
 * APDU encoding, personalisation DGIs and the few BER-TLVs cards answer with. Written from
 * the protocol, not from the card's code: hosts never import the card (R2.1).
 */
import { concatBytes, type CommandFields } from '../crypto/index.ts';
import { JukiError, toHex } from '../util/index.ts';

/** Encode a command APDU (ISO/IEC 7816-4 §5.1): short unless the data exceeds 255 bytes or Ne exceeds 256. */
export function encodeApdu(c: CommandFields): Uint8Array {
  const lc = c.data.length;
  const ne = c.le === undefined ? undefined : c.le === 0 ? 256 : c.le;
  const extended = lc > 255 || (ne ?? 0) > 256;
  const out = [c.cla, c.ins, c.p1, c.p2];
  if (!extended) {
    if (lc) out.push(lc, ...c.data);
    if (ne !== undefined) out.push(ne & 0xff);
  } else {
    out.push(0);
    if (lc) out.push(lc >> 8, lc & 0xff, ...c.data);
    if (ne !== undefined) out.push((ne >> 8) & 0xff, ne & 0xff);
  }
  return Uint8Array.from(out);
}

/** A personalisation DGI (GP): tag 2 ‖ length (1 byte, or FF ‖ 2 bytes from 255) ‖ value. */
export function dgi(tag: number, value: Uint8Array): Uint8Array {
  const head = value.length < 0xff ? [tag >> 8, tag & 0xff, value.length] : [tag >> 8, tag & 0xff, 0xff, value.length >> 8, value.length & 0xff];
  return concatBytes(Uint8Array.from(head), value);
}

/** One BER-TLV (1- or 2-byte tag, definite length). */
export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** Parse a run of BER-TLVs from a card's answer; throws JUKI_ERR_CARD_STATUS when malformed. */
export function parseTlvs(data: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  const bad = () => new JukiError('JUKI_ERR_CARD_STATUS', `malformed TLV from the card: ${toHex(data.subarray(0, 64))}`);
  while (i < data.length) {
    let tag = data[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      if (i >= data.length) throw bad();
      tag = (tag << 8) | data[i++]!;
    }
    if (i >= data.length) throw bad();
    let len = data[i++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n < 1 || n > 2 || i + n > data.length) throw bad();
      len = 0;
      for (let k = 0; k < n; k++) len = (len << 8) | data[i++]!;
    }
    if (i + len > data.length) throw bad();
    out.push({ tag, value: data.subarray(i, i + len) });
    i += len;
  }
  return out;
}

export function findTlv(tlvs: readonly Tlv[], tag: number): Uint8Array | undefined {
  return tlvs.find((t) => t.tag === tag)?.value;
}

/** A status word as four upper-case hex digits: `6982`. */
export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/** A JUKI_ERR_CARD_STATUS naming the step and the status word. */
export function cardRefused(step: string, sw: number, command?: Uint8Array): JukiError {
  return new JukiError('JUKI_ERR_CARD_STATUS', `${step}: the card answered ${swHex(sw)}`, { sw: swHex(sw), step, ...(command ? { command: toHex(command.subarray(0, 4)) } : {}) });
}
