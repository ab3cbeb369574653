/**
 * The host side of the card protocol (docs/card-protocol.md) for the CS's card flows: AIDs,
 * APDU encoding, DGIs, the few TLVs the ISD answers with, and an SCP03 session over any
 * CardTransport. Written from the protocol document, not from the card's code (the CS does
 * not import the card: ARCHITECTURE.md, "Where the code lives").
 */
import { concatBytes, Scp03HostChannel, type CommandFields, type Scp03KeyResolver, type Scp03StaticKeys, type SecurityLevel } from '../../crypto/index.ts';
import { responseData, send, statusWord, type CardTransport } from '../../reader/index.ts';
import { JukiError, toHex } from '../../util/index.ts';

/** GP default ISD AID. */
export const ISD_AID = Uint8Array.of(0xa0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00, 0x00);
/** The basic area (Juki-net application): module and instance AID. */
export const BASIC_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x00, 0x01);
/** The operator card application. */
export const OPERATOR_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x00, 0x02);
/** Basic-area files, whose DGI is their FID. */
export const BASIC_FILES = { residentCode: 0x0002, cardNumber: 0x0003, municipality: 0x0004, validity: 0x0005, faceRecord: 0x0006 } as const;
/** DGI of an application's key set: KVN ‖ K-ENC ‖ K-MAC ‖ K-DEK. */
export const DGI_KEYSET = 0x8f01;
/** The maker's transport KVN; 70..7F are a municipality's transport keys; 01..6F issuer and application keys. */
export const MAKER_TRANSPORT_KVN = 0xff;
export const isTransportKvn = (kvn: number): boolean => kvn >= 0x70;

/** Card lifecycle as GET DATA 9F70 codes it. */
export type CardLifecycle = 'blank' | 'personalised' | 'active' | 'terminated';
export const LIFECYCLE_BY_CODE: Readonly<Record<number, CardLifecycle>> = { 0x01: 'blank', 0x07: 'personalised', 0x0f: 'active', 0xff: 'terminated' };

/** Encode a command APDU: short unless the data exceeds 255 bytes or Ne exceeds 256. */
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

/** A personalisation DGI: tag 2 ‖ length (1 byte, or FF ‖ 2 bytes from 255) ‖ value. */
export function dgi(tag: number, value: Uint8Array): Uint8Array {
  const head = value.length < 0xff ? [tag >> 8, tag & 0xff, value.length] : [tag >> 8, tag & 0xff, 0xff, value.length >> 8, value.length & 0xff];
  return concatBytes(Uint8Array.from(head), value);
}

/** One BER-TLV (1- or 2-byte tag, definite length). */
export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** Parse a run of BER-TLVs; throws JUKI_ERR_CARD_STATUS on malformed card answers. */
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

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

/** A JUKI_ERR_CARD_STATUS naming the step and the status word. */
export function cardRefused(step: string, sw: number, command?: Uint8Array): JukiError {
  return new JukiError('JUKI_ERR_CARD_STATUS', `${step}: the card answered ${swHex(sw)}`, { sw: swHex(sw), step, ...(command ? { command: toHex(command.subarray(0, 4)) } : {}) });
}

/** Send a plain command; the data and SW. */
export async function plain(transport: CardTransport, c: CommandFields): Promise<{ data: Uint8Array; sw: number }> {
  const r = await send(transport, encodeApdu(c));
  return { data: responseData(r).slice(), sw: statusWord(r) };
}

/** SELECT by AID (00 A4 04 0C). */
export async function select(transport: CardTransport, aid: Uint8Array): Promise<number> {
  return (await plain(transport, { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: aid })).sw;
}

/** Everything every command under C-MAC + C-DECRYPTION + R-MAC + R-ENC (GP Amd D level 33). */
export const FULL_SM: SecurityLevel = 0x33;

/**
 * An SCP03 session with the selected domain of the card behind `transport` (the host side runs
 * here, where the keys are; the transport may be a relay that sees only protected bytes).
 */
export class SecureSession {
  private constructor(
    private readonly transport: CardTransport,
    private readonly channel: Scp03HostChannel,
  ) {}

  /**
   * INITIALIZE UPDATE + EXTERNAL AUTHENTICATE on the selected domain.
   *   80 50 <kvn> 00 08 <host challenge> 00 → <IU answer> 90 00 | 6A 88 (no such KVN here)
   *   84 82 33 00 10 <host cryptogram> <C-MAC> → 90 00
   * `keys` may be a resolver from the serial the card announces. Throws JUKI_ERR_SCP_AUTHENTICATION
   * when the card does not hold the keys (the SW, e.g. 6A88, is in the message).
   */
  static async open(transport: CardTransport, keys: Scp03StaticKeys | Scp03KeyResolver, kvn: number, context?: Uint8Array, level: SecurityLevel = FULL_SM): Promise<SecureSession> {
    const channel = new Scp03HostChannel({ keys, level, ...(context ? { cardContext: context } : {}) });
    const iu = await send(transport, encodeApdu(channel.initializeUpdateCommand(kvn)));
    const ea = channel.onInitializeUpdateResponse(responseData(iu), statusWord(iu));
    const r = await send(transport, encodeApdu(ea));
    channel.onExternalAuthenticateResponse(statusWord(r));
    return new SecureSession(transport, channel);
  }

  /** The serial the card announced in INITIALIZE UPDATE (its diversification data). */
  get serial(): Uint8Array {
    return this.channel.card!.diversificationData.slice();
  }

  /** One command through the channel (CLA 80/00 → 84/04, C-MAC, encrypted data); plain answer data and SW. */
  async command(cla: number, ins: number, p1: number, p2: number, data: Uint8Array = new Uint8Array(0), le?: number): Promise<{ data: Uint8Array; sw: number }> {
    const wrapped = this.channel.wrapCommand(le === undefined ? { cla, ins, p1, p2, data } : { cla, ins, p1, p2, data, le });
    const r = await send(this.transport, encodeApdu(wrapped));
    const sw = statusWord(r);
    return { data: this.channel.unwrapResponse(responseData(r), sw), sw };
  }

  /** `command`, requiring 90 00. */
  async expect(step: string, cla: number, ins: number, p1: number, p2: number, data?: Uint8Array, le?: number): Promise<Uint8Array> {
    const r = await this.command(cla, ins, p1, p2, data, le);
    if (r.sw !== 0x9000) throw cardRefused(step, r.sw, Uint8Array.of(cla | 0x04, ins, p1, p2));
    return r.data;
  }

  close(): void {
    this.channel.close();
  }
}
