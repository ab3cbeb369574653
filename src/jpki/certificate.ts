/**
 * Building and reading X.509 v3 certificates (RFC 5280 §4.1). Extensions are made with
 * @peculiar/x509 and handed to pkijs as DER; pkijs encodes the TBSCertificate, the CA key store
 * signs those exact bytes, and the result is the DER Certificate.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { JukiError } from '../util/index.ts';
import { integerHex, keyIdentifier, sha256WithRsa, signWith, toDer, x509Time } from './der.ts';
import { OID, type CaId, type CertificateKind } from './profile.ts';
import type { SigningKeyStore } from './signing-keys.ts';

/** Where this CA publishes: the URLs written into AIA and CDP, served by http.ts. */
export interface CaUrls {
  readonly ocsp: string;
  caCertificate(id: CaId): string;
  crl(id: CaId): string;
}

export function caUrls(baseUrl: string): CaUrls {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    ocsp: `${base}/ocsp`,
    caCertificate: (id) => `${base}/certs/${id}.cer`,
    crl: (id) => `${base}/crl/${id}.crl`,
  };
}

export interface CertificateSpec {
  readonly serial: Uint8Array;
  /** The issuer's subject Name DER, byte for byte (RFC 5280 §4.1.2.4: name chaining compares it). */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly extensions: readonly x509.Extension[];
  readonly keys: SigningKeyStore;
  readonly signerLabel: string;
}

/** Encode, sign and return a DER certificate. */
export async function buildCertificate(spec: CertificateSpec): Promise<Uint8Array> {
  const cert = new pkijs.Certificate();
  cert.version = 2; // v3 (RFC 5280 §4.1.2.1): extensions are present
  cert.serialNumber = new asn1js.Integer({ valueHex: spec.serial });
  cert.signature = sha256WithRsa(); // must equal signatureAlgorithm (RFC 5280 §4.1.1.2)
  cert.signatureAlgorithm = sha256WithRsa();
  cert.issuer = pkijs.RelativeDistinguishedNames.fromBER(spec.issuer);
  cert.subject = pkijs.RelativeDistinguishedNames.fromBER(spec.subject);
  cert.notBefore = x509Time(spec.notBefore);
  cert.notAfter = x509Time(spec.notAfter);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(spec.spki);
  cert.extensions = spec.extensions.map((e) => pkijs.Extension.fromBER(e.rawData));
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER(false));
  cert.signatureValue = await signWith(spec.keys, spec.signerLabel, cert.tbsView);
  return toDer(cert.toSchema(false));
}

/** A Name's DER from the DER-order string form (`C=JP, O=..., OU=...`). */
export function nameDer(name: string): Uint8Array {
  return new Uint8Array(new x509.Name(name).toArrayBuffer());
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Root CA: self-signed; basicConstraints cA (critical), keyCertSign|cRLSign (critical), SKI (RFC 5280 §4.2.1.1 lets a self-signed root omit AKI). */
export function rootExtensions(spki: Uint8Array): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 1, true), // §4.2.1.9: MUST be critical in CA certificates
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), // §4.2.1.3
    new x509.SubjectKeyIdentifierExtension(hex(keyIdentifier(spki))), // §4.2.1.2: MUST in CA certificates
  ];
}

/** Issuing CA: pathLen 0 (it issues only end-entity certificates), AKI to the root, the root's CRL and certificate URLs, the kind's policy. */
export function issuingExtensions(kind: CertificateKind, spki: Uint8Array, rootSpki: Uint8Array, rootId: CaId, urls: CaUrls): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.SubjectKeyIdentifierExtension(hex(keyIdentifier(spki))),
    new x509.AuthorityKeyIdentifierExtension(hex(keyIdentifier(rootSpki))), // §4.2.1.1: MUST, except self-signed
    new x509.CRLDistributionPointsExtension([urls.crl(rootId)]), // §4.2.1.13
    new x509.AuthorityInfoAccessExtension({ caIssuers: urls.caCertificate(rootId) }), // §4.2.2.1
    new x509.CertificatePolicyExtension([kind === 'auth' ? OID.policyAuth : OID.policySign]), // §4.2.1.4
  ];
}

/**
 * End-entity certificate made for a card's key. Authentication: digitalSignature and
 * id-kp-clientAuth, no subjectAltName (R5.2.2: no personal data). Signature: digitalSignature
 * and nonRepudiation (contentCommitment), and the basic four in subjectAltName.
 */
export function leafExtensions(kind: CertificateKind, spki: Uint8Array, caSpki: Uint8Array, caId: CaId, urls: CaUrls, san?: Uint8Array): x509.Extension[] {
  const usage = kind === 'auth'
    ? x509.KeyUsageFlags.digitalSignature
    : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation;
  const out: x509.Extension[] = [
    new x509.KeyUsagesExtension(usage, true),
    new x509.SubjectKeyIdentifierExtension(hex(keyIdentifier(spki))),
    new x509.AuthorityKeyIdentifierExtension(hex(keyIdentifier(caSpki))),
    new x509.CRLDistributionPointsExtension([urls.crl(caId)]),
    new x509.AuthorityInfoAccessExtension({ ocsp: urls.ocsp, caIssuers: urls.caCertificate(caId) }), // RFC 6960 §3.1 responder location
    new x509.CertificatePolicyExtension([kind === 'auth' ? OID.policyAuth : OID.policySign]),
  ];
  if (kind === 'auth') out.push(new x509.ExtendedKeyUsageExtension([OID.clientAuth])); // §4.2.1.12
  // §4.2.1.6: non-critical because the subject is not empty.
  if (san) out.push(new x509.Extension(OID.subjectAltName, false, san));
  return out;
}

/** The parts of a DER certificate the CA keeps at hand, taken from the exact encoded bytes. */
export interface CertificateParts {
  readonly serial: string;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly spki: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export function certificateParts(der: Uint8Array): CertificateParts {
  const parsed = asn1js.fromBER(der);
  if (parsed.offset === -1) throw new JukiError('JUKI_ERR_INTERNAL', 'jpki: a stored certificate does not parse as DER');
  const tbs = (parsed.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
  const f = tbs.valueBlock.value;
  const at = f[0]!.idBlock.tagClass === 3 ? 1 : 0; // [0] EXPLICIT version present
  const raw = (b: asn1js.AsnType) => new Uint8Array((b as asn1js.BaseBlock).valueBeforeDecodeView);
  const validity = (f[at + 3] as asn1js.Sequence).valueBlock.value as (asn1js.UTCTime | asn1js.GeneralizedTime)[];
  return {
    serial: integerHex(f[at] as asn1js.Integer),
    issuer: raw(f[at + 2]!),
    subject: raw(f[at + 4]!),
    spki: raw(f[at + 5]!),
    notBefore: validity[0]!.toDate(),
    notAfter: validity[1]!.toDate(),
  };
}
