/**
 * The JPKI certificate profile: names, OIDs, validity periods, and the checks every input to
 * the CA passes before anything is signed or written (docs/jpki.md has the full profile).
 *
 * Names are modelled on J-LIS's (`OU=JPKI for user authentication, O=JPKI, C=JP`, see
 * reference/jpki-application.md §2.2) but carry a juki organisation (default `JPKI-juki`), so
 * a juki certificate can never be mistaken for one from the real J-LIS CA.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import * as asn1js from 'asn1js';
import { JukiError, invalid } from '../util/index.ts';

/**
 * juki's own OID arc: a UUID OID (ITU-T X.667 / RFC 4122 §4.3 form `2.25.<UUID as integer>`,
 * UUID b0524ac5-8bd1-4aa3-a276-33bcf47b1461), which needs no registration and collides with
 * no one. `.1` holds certificate policies.
 */
export const JUKI_OID_ARC = '2.25.234371412150075169365407460919795717217';

export const OID = {
  /** Certificate policy of user-authentication (利用者証明用) certificates. */
  policyAuth: `${JUKI_OID_ARC}.1.1`,
  /** Certificate policy of signature (署名用) certificates. */
  policySign: `${JUKI_OID_ARC}.1.2`,
  /** J-LIS's arc for the basic four items in the signature certificate's subjectAltName (reference §2.2). */
  name: '1.2.392.200149.8.5.5.1',
  nameSubstitute: '1.2.392.200149.8.5.5.2',
  sex: '1.2.392.200149.8.5.5.3',
  birthDate: '1.2.392.200149.8.5.5.4',
  address: '1.2.392.200149.8.5.5.5',
  addressSubstitute: '1.2.392.200149.8.5.5.6',
  subjectAltName: '2.5.29.17',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export type CertificateKind = 'auth' | 'sign';
export type CaTier = 'root' | 'issuing';
/** `auth-root`, `auth-ca` (issues user-authentication certificates), `sign-root`, `sign-ca`. */
export type CaId = 'auth-root' | 'auth-ca' | 'sign-root' | 'sign-ca';

export const CA_IDS: readonly CaId[] = ['auth-root', 'auth-ca', 'sign-root', 'sign-ca'];

export function caIdOf(kind: CertificateKind, tier: CaTier): CaId {
  return `${kind}-${tier === 'root' ? 'root' : 'ca'}`;
}

export function isCaId(text: string): text is CaId {
  return (CA_IDS as readonly string[]).includes(text);
}

/** Validity periods in days. Juki-card signature certificates were valid for 3 years (reference §11.4). */
export interface ValidityDays {
  readonly root: number;
  readonly issuing: number;
  readonly auth: number;
  readonly sign: number;
}

export const DEFAULT_VALIDITY: ValidityDays = { root: 20 * 365 + 5, issuing: 10 * 365 + 2, auth: 5 * 365 + 1, sign: 3 * 365 + 1 };

const UNIT: Record<CertificateKind, string> = {
  auth: 'JPKI for user authentication',
  sign: 'JPKI for digital signature',
};

/** Default organisation in every juki CA name: deliberately not J-LIS's `JPKI`. */
export const DEFAULT_ORGANIZATION = 'JPKI-juki';

export function checkOrganization(org: string): string {
  if (typeof org !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9 .()-]{0,63}$/.test(org)) {
    throw invalid('organization', `expected 1-64 letters, digits, spaces, '.', '(', ')' or '-', got ${JSON.stringify(org)}`);
  }
  if (org === 'JPKI') throw invalid('organization', 'expected a name other than "JPKI": juki must not impersonate the J-LIS CA');
  return org;
}

/**
 * A CA's distinguished name, in DER order (C first) as @peculiar/x509's Name takes it; RFC 4514
 * prints it reversed: `OU=juki certification authority, OU=JPKI for user authentication, O=JPKI-juki, C=JP`.
 */
export function caName(kind: CertificateKind, tier: CaTier, organization: string): string {
  const leaf = tier === 'root' ? 'juki root certification authority' : 'juki certification authority';
  return `C=JP, O=${organization}, OU=${UNIT[kind]}, OU=${leaf}`;
}

/**
 * An end-entity subject: `CN=<serial-like id>, C=JP` (reference §2.2), the id being the
 * certificate's own serial number in hex. It names no person and no card: personal data goes
 * only into the signature certificate's subjectAltName (R5.2.2).
 */
export function leafName(serialHex: string): string {
  return `C=JP, CN=${serialHex}`;
}

const CARD_SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Check the card serial a certificate is recorded against (it never appears in the certificate). */
export function checkCardSerial(cardSerial: unknown, field = 'cardSerial'): string {
  if (typeof cardSerial !== 'string' || !CARD_SERIAL.test(cardSerial)) {
    throw invalid(field, `expected a card serial (letters, digits, '.', '_', '-', 1-64 characters, starting with a letter or digit), got ${JSON.stringify(cardSerial)}`);
  }
  return cardSerial;
}

// ---------------------------------------------------------------------------------------------
// The card's public key

const RSA_BITS = 2048;

/**
 * Check a public key from a card: DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of an RSA-2048
 * key with exponent 65537 (what the JPKI AP makes, reference §0), in canonical DER with nothing
 * after it. A private key is refused outright: the key pair is made on the card and the CA only
 * ever receives the public half (R5.2.1). Returns the bytes unchanged.
 */
export function checkCardPublicKey(spki: unknown, field = 'publicKey'): Uint8Array {
  const refuse = (what: string) => new JukiError('JUKI_ERR_JPKI_PUBLIC_KEY', `${field}: ${what}`, { field });
  if (!(spki instanceof Uint8Array)) throw refuse(`expected SubjectPublicKeyInfo DER bytes, got ${spki === null ? 'null' : typeof spki}`);
  if (spki.length === 0) throw refuse('expected SubjectPublicKeyInfo DER bytes, got 0 bytes');
  const buf = Buffer.from(spki);
  if (looksLikePrivateKey(buf)) throw refuse('a private key was given: the CA takes only the public key made on the card and never handles a private key');
  let key;
  try {
    key = createPublicKey({ key: buf, format: 'der', type: 'spki' });
  } catch {
    throw refuse(`expected DER SubjectPublicKeyInfo, got ${spki.length} bytes that do not parse as one (starting ${buf.subarray(0, 4).toString('hex')})`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw refuse(`expected an RSA key (rsaEncryption), got ${key.asymmetricKeyType}`);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== RSA_BITS) throw refuse(`expected a ${RSA_BITS}-bit RSA key, got ${bits} bits`);
  const e = key.asymmetricKeyDetails?.publicExponent;
  if (e !== 65537n) throw refuse(`expected public exponent 65537, got ${e}`);
  const canonical = key.export({ type: 'spki', format: 'der' });
  if (!canonical.equals(buf)) throw refuse(`expected canonical DER (${canonical.length} bytes), got ${spki.length} bytes with a different encoding or trailing data`);
  return spki;
}

function looksLikePrivateKey(buf: Buffer): boolean {
  for (const type of ['pkcs8', 'pkcs1'] as const) {
    try {
      createPrivateKey({ key: buf, format: 'der', type });
      return true;
    } catch {
      // not this form
    }
  }
  return false;
}

/**
 * SubjectPublicKeyInfo DER for an RSA public key given as modulus and exponent (big-endian),
 * for a counter that holds a card's GENERATE KEY PAIR answer in that form. Validated like any
 * card key.
 */
export function rsaSpki(modulus: Uint8Array, exponent: Uint8Array = new Uint8Array([1, 0, 1])): Uint8Array {
  const strip = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    return Buffer.from(b.subarray(i));
  };
  if (!(modulus instanceof Uint8Array) || modulus.length === 0) throw new JukiError('JUKI_ERR_JPKI_PUBLIC_KEY', 'modulus: expected big-endian bytes, got none', { field: 'modulus' });
  let spki: Uint8Array;
  try {
    const jwk = { kty: 'RSA', n: strip(modulus).toString('base64url'), e: strip(exponent).toString('base64url') };
    spki = new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' }));
  } catch (e) {
    throw new JukiError('JUKI_ERR_JPKI_PUBLIC_KEY', `modulus: not an RSA public key: ${(e as Error).message}`, { field: 'modulus' });
  }
  return checkCardPublicKey(spki, 'modulus');
}

// ---------------------------------------------------------------------------------------------
// The basic four items (基本4情報) of the signature certificate

export type Sex = 'male' | 'female';

/** What the signature certificate says about its holder: the basic four items, as the register holds them. */
export interface SignHolder {
  readonly cardSerial: string;
  /** 氏名, as registered. */
  readonly name: string;
  /** 氏名代替文字: the name with characters outside the certificate's repertoire substituted, when needed. */
  readonly nameSubstitute?: string;
  readonly sex: Sex;
  /** YYYY-MM-DD (Gregorian). */
  readonly birthDate: string;
  /** 住所, as registered. */
  readonly address: string;
  /** 住所代替文字. */
  readonly addressSubstitute?: string;
}

/** The encoded values, one per otherName, in arc order (.1 to .6). */
export interface BasicFour {
  readonly [oid: string]: string;
}

/** Sex code: 1 male, 2 female (the codes of Juki-net and JIS X 0303's 1/2). */
export const SEX_CODE: Record<Sex, string> = { male: '1', female: '2' };

/**
 * Era-prefixed birth date `EYYYYMMDD` (reference §2.2, J-LIS profile 3.2 as cited: one era
 * digit, then the Gregorian date). Era digits: 1 明治 (to 1912-07-29), 2 大正 (from
 * 1912-07-30), 3 昭和 (from 1926-12-25), 4 平成 (from 1989-01-08), 5 令和 (from 2019-05-01).
 */
export function eraDate(ymd: string): string {
  const start: [string, string][] = [['2019-05-01', '5'], ['1989-01-08', '4'], ['1926-12-25', '3'], ['1912-07-30', '2'], ['1868-10-23', '1']];
  const era = start.find(([from]) => ymd >= from)?.[1];
  if (!era) throw invalid('birthDate', `expected a date from 1868-10-23 (Meiji) on, got ${ymd}`, 'JUKI_ERR_INVALID_DATE');
  return era + ymd.replaceAll('-', '');
}

const LIMITS = { name: 100, nameSubstitute: 100, address: 200, addressSubstitute: 200 } as const;

function checkText(holder: SignHolder, field: keyof typeof LIMITS, required: boolean): string | undefined {
  const value = holder[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw invalid(field, `expected a string, got ${value === null ? 'null' : typeof value}`);
  if (value.trim() === '') throw invalid(field, required ? 'expected a non-empty string, got an empty one' : 'expected a non-empty string or no value, got an empty one');
  const chars = [...value].length;
  if (chars > LIMITS[field]) throw invalid(field, `expected at most ${LIMITS[field]} characters, got ${chars}`);
  // eslint-disable-next-line no-control-regex
  const ctl = value.match(/[\u0000-\u001f\u007f-\u009f]/);
  if (ctl) throw invalid(field, `expected printable text, got control character U+${ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) throw invalid(field, 'expected well-formed Unicode, got a lone surrogate');
  return value;
}

function checkBirthDate(value: unknown, today: Date): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    throw invalid('birthDate', `expected YYYY-MM-DD, got ${JSON.stringify(value)}`, 'JUKI_ERR_INVALID_DATE');
  }
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw invalid('birthDate', `expected a real calendar date, got ${value}`, 'JUKI_ERR_INVALID_DATE');
  }
  if (value > today.toISOString().slice(0, 10)) throw invalid('birthDate', `expected a date not after today, got ${value}`, 'JUKI_ERR_INVALID_DATE');
  return value;
}

/** Validate a signature-certificate holder and encode the basic four, keyed by OID. */
export function encodeBasicFour(holder: SignHolder, today: Date): BasicFour {
  if (holder === null || typeof holder !== 'object') throw invalid('holder', `expected an object, got ${holder === null ? 'null' : typeof holder}`);
  checkCardSerial(holder.cardSerial);
  const name = checkText(holder, 'name', true)!;
  const nameSubstitute = checkText(holder, 'nameSubstitute', false);
  if (holder.sex !== 'male' && holder.sex !== 'female') throw invalid('sex', `expected "male" or "female", got ${JSON.stringify(holder.sex)}`);
  const birthDate = checkBirthDate(holder.birthDate, today);
  const address = checkText(holder, 'address', true)!;
  const addressSubstitute = checkText(holder, 'addressSubstitute', false);
  const out: Record<string, string> = { [OID.name]: name };
  if (nameSubstitute !== undefined) out[OID.nameSubstitute] = nameSubstitute;
  out[OID.sex] = SEX_CODE[holder.sex];
  out[OID.birthDate] = eraDate(birthDate);
  out[OID.address] = address;
  if (addressSubstitute !== undefined) out[OID.addressSubstitute] = addressSubstitute;
  return out;
}

/**
 * subjectAltName extnValue (RFC 5280 §4.2.1.6) holding one otherName per item:
 *   GeneralNames ::= SEQUENCE OF GeneralName
 *   otherName [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
 * Every value is a UTF8String (RFC 5280 §4.2.1.6 leaves the type to the type-id's owner; the
 * J-LIS profile text is not in our sources, so juki fixes UTF8String and documents it).
 */
export function basicFourSan(items: BasicFour): Uint8Array {
  const names = Object.entries(items).map(([oid, value]) => new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: [
      new asn1js.ObjectIdentifier({ value: oid }),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Utf8String({ value })] }),
    ],
  }));
  return new Uint8Array(new asn1js.Sequence({ value: names }).toBER(false));
}

/** Read the basic-four otherNames back from a subjectAltName extnValue (for tests and tools). */
export function parseBasicFourSan(extnValue: Uint8Array): BasicFour {
  const parsed = asn1js.fromBER(extnValue);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) throw invalid('subjectAltName', 'expected a DER SEQUENCE OF GeneralName');
  const out: Record<string, string> = {};
  for (const gn of parsed.result.valueBlock.value) {
    if (gn.idBlock.tagClass !== 3 || gn.idBlock.tagNumber !== 0) continue;
    const [oid, wrapped] = (gn as asn1js.Constructed).valueBlock.value as [asn1js.ObjectIdentifier, asn1js.Constructed];
    const inner = wrapped.valueBlock.value[0] as asn1js.Utf8String;
    out[oid.valueBlock.toString()] = inner.valueBlock.value;
  }
  return out;
}
