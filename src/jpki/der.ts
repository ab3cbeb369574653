/**
 * DER building blocks shared by certificates, CRLs and OCSP responses: serial numbers, times,
 * the signature algorithm, key identifiers, and signing a to-be-signed structure with a key in
 * the CA key store. pkijs builds the structures; the store signs the exact TBS bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { JukiError } from '../util/index.ts';
import type { SigningKeyStore } from './signing-keys.ts';

/** sha256WithRSAEncryption (RFC 4055 §5, RFC 8017 App. C); parameters MUST be NULL (RFC 4055 §5). */
export const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

export function sha256WithRsa(): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_WITH_RSA, algorithmParams: new asn1js.Null() });
}

/**
 * A fresh certificate serial number: 16 random octets with the top bits set to 01, so it is
 * positive, needs no leading zero, and carries 126 random bits (RFC 5280 §4.1.2.2: positive,
 * at most 20 octets; CA/B BR 7.1: at least 64 bits from a CSPRNG).
 */
export function newSerial(): Uint8Array {
  const b = new Uint8Array(randomBytes(16));
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
}

export function serialHex(serial: Uint8Array): string {
  return Buffer.from(serial).toString('hex').toUpperCase();
}

/** A serial as DER INTEGER content octets (minimal, positive) from upper- or lower-case hex. */
export function serialInteger(hex: string): asn1js.Integer {
  return new asn1js.Integer({ valueHex: new Uint8Array(Buffer.from(hex, 'hex')) });
}

/** The INTEGER's content octets as upper-case hex with leading zero octets removed (how serials are keyed). */
export function integerHex(i: asn1js.Integer): string {
  let bytes = Buffer.from(i.valueBlock.valueHexView);
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  return bytes.toString('hex').toUpperCase();
}

/** Whole seconds: RFC 5280 §4.1.2.5.2 forbids fractional seconds in GeneralizedTime. */
export function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function x509Time(d: Date): pkijs.Time {
  return new pkijs.Time({ type: d.getUTCFullYear() >= 2050 ? 1 : 0, value: wholeSeconds(d) });
}

/** The BIT STRING contents of an SPKI's subjectPublicKey (the RSAPublicKey DER). */
export function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  const info = pkijs.PublicKeyInfo.fromBER(spki);
  return new Uint8Array(info.subjectPublicKey.valueBlock.valueHexView);
}

/** RFC 5280 §4.2.1.2 method (1): key identifier = SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(subjectPublicKeyBits(spki)).digest());
}

/** Sign `tbs` with the CA key `label`; wraps store failures so the caller sees which CA failed. */
export async function signWith(keys: SigningKeyStore, label: string, tbs: Uint8Array): Promise<asn1js.BitString> {
  let sig: Uint8Array;
  try {
    sig = await keys.sign(label, 'sha256WithRSAEncryption', tbs);
  } catch (e) {
    if (e instanceof JukiError) throw e;
    throw new JukiError('JUKI_ERR_KEYSTORE', `${keys.description}: signing with ${label} failed: ${(e as Error).message}`);
  }
  return new asn1js.BitString({ valueHex: sig });
}

export function toDer(schema: { toBER(sizeOnly?: boolean): ArrayBuffer }): Uint8Array {
  return new Uint8Array(schema.toBER(false));
}

export function b64(der: Uint8Array): string {
  return Buffer.from(der).toString('base64');
}

export function unb64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
