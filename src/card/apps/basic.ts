/**
 * The basic area (基本利用領域): the Juki-net application. Holds the resident code, card
 * number, issuing municipality, validity and the signed face record. Its keys are held by
 * Juki-net (the national center); nothing leaves it without the holder's PIN, mutual
 * authentication with Juki-net and the access check (R4.2.1), and nothing works at all
 * until the holder has set the PIN (R2.2.1a).
 *
 * AID D3 92 F0 00 4A 55 4B 49 00 01: Japan's national RID (D392, ISO 7816-5) + F000 (the
 * proprietary range JPKI also uses) + "JUKI" + 00 01. Distinct from JPKI's D3 92 F0 00 26 01 00 00 00 01.
 */
import { issuer, never, pinAndChannel } from '../access.ts';
import type { ApplicationType } from '../application.ts';
import { FileTable } from '../files.ts';
import { SW } from '../sw.ts';

export const BASIC_AID = Uint8Array.of(0xd3, 0x92, 0xf0, 0x00, 0x4a, 0x55, 0x4b, 0x49, 0x00, 0x01);

/** File identifiers of the basic area (SFI = FID for the data EFs). */
export const BASIC_FID = {
  pin: 0x0001,
  residentCode: 0x0002,
  cardNumber: 0x0003,
  municipality: 0x0004,
  validity: 0x0005,
  faceRecord: 0x0006,
} as const;

/** The holder's PIN: VERIFY P2 = 81. */
export const BASIC_PIN_REF = 1;

const digits = (d: Uint8Array, n: number) => d.length === n && d.every((c) => c >= 0x30 && c <= 0x39);

/** The basic area's file table: every item needs PIN + SM with the area's keys to be read (R4.2.1); personal items go encrypted. */
export const BASIC_FILES = new FileTable([
  {
    kind: 'pin',
    fid: BASIC_FID.pin,
    name: 'holder PIN',
    policy: { ref: BASIC_PIN_REF, minLength: 4, maxLength: 4, alphabet: 'digits', maxTries: 3, blockedSw: SW.AUTH_METHOD_BLOCKED },
    unblock: issuer(), // R3.2.2i: only over the issuing municipality's channel
  },
  { kind: 'binary', fid: BASIC_FID.residentCode, sfi: 2, name: 'resident code (11 digits)', size: 11, read: pinAndChannel(BASIC_PIN_REF, true), update: never },
  { kind: 'binary', fid: BASIC_FID.cardNumber, sfi: 3, name: 'card number (ASCII, up to 16)', size: 16, read: pinAndChannel(BASIC_PIN_REF), update: never },
  { kind: 'binary', fid: BASIC_FID.municipality, sfi: 4, name: 'issuing municipality code (6 digits)', size: 6, read: pinAndChannel(BASIC_PIN_REF), update: never },
  { kind: 'binary', fid: BASIC_FID.validity, sfi: 5, name: 'validity: issued YYYYMMDD ‖ expires YYYYMMDD', size: 16, read: pinAndChannel(BASIC_PIN_REF), update: never },
  // The face record is re-signed when the holder's printed details change (a move): the issuing municipality writes it.
  { kind: 'binary', fid: BASIC_FID.faceRecord, sfi: 6, name: 'signed face record', size: 8192, read: pinAndChannel(BASIC_PIN_REF, true), update: issuer(true) },
]);

export const basicArea: ApplicationType = {
  name: 'basic',
  module: BASIC_AID,
  defaultAid: BASIC_AID,
  singleton: true,
  files: BASIC_FILES,
  acceptsIssuerChannel: true,
  activatesCard: true,
  pinsRequiredFirst: [BASIC_PIN_REF],
  requiredFiles: [BASIC_FID.residentCode, BASIC_FID.cardNumber, BASIC_FID.municipality, BASIC_FID.validity, BASIC_FID.faceRecord],
  validateFile(fid, d) {
    switch (fid) {
      case BASIC_FID.residentCode:
        return digits(d, 11);
      case BASIC_FID.cardNumber:
        return d.length >= 1 && d.length <= 16 && d.every((c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a));
      case BASIC_FID.municipality:
        return digits(d, 6);
      case BASIC_FID.validity:
        return digits(d, 16);
      default:
        return d.length > 0;
    }
  },
};
