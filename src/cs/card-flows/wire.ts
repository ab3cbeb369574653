/**
 * The host side of the card protocol (docs/card-protocol.md) for the CS's card flows: AIDs,
 * APDU encoding, DGIs, the few TLVs the ISD answers with, and an SCP03 session over any
 * CardTransport. Written from the protocol document, not from the card's code (the CS does
 * not import the card: ARCHITECTURE.md, "Where the code lives").
 */
import type { CommandFields } from '../../crypto/index.ts';
import { encodeApdu, responseData, send, statusWord, type CardTransport } from '../../reader/index.ts';

// The host-side APDU toolkit and the SCP03 session live in reader/ (shared with the JPKI CA
// and the agencies); re-exported here for the card flows.
export { encodeApdu, dgi, parseTlvs, findTlv, swHex, cardRefused, SecureSession, FULL_SM } from '../../reader/index.ts';
export type { Tlv } from '../../reader/index.ts';

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

/** Send a plain command; the data and SW. */
export async function plain(transport: CardTransport, c: CommandFields): Promise<{ data: Uint8Array; sw: number }> {
  const r = await send(transport, encodeApdu(c));
  return { data: responseData(r).slice(), sw: statusWord(r) };
}

/** SELECT by AID (00 A4 04 0C). */
export async function select(transport: CardTransport, aid: Uint8Array): Promise<number> {
  return (await plain(transport, { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: aid })).sw;
}
