/**
 * Certificate revocation lists (RFC 5280 §5): one per CA, v2, signed with the CA's key.
 *
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
 *   tbsCertList: version v2, signature, issuer, thisUpdate, nextUpdate,
 *                revokedCertificates (absent when empty, §5.1.2.6) { serial, date, reasonCode },
 *                crlExtensions { authorityKeyIdentifier (§5.2.1), cRLNumber (§5.2.3) }
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { keyIdentifier, serialInteger, sha256WithRsa, signWith, toDer, x509Time } from './der.ts';
import { REVOCATION_REASONS, type RevocationReason } from './revocation.ts';
import type { SigningKeyStore } from './signing-keys.ts';

export interface CrlEntry {
  /** Upper-case hex. */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
}

export interface CrlSpec {
  /** The CA's subject Name DER (the CRL issuer, §5.1.2.3). */
  readonly issuer: Uint8Array;
  readonly issuerSpki: Uint8Array;
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly entries: readonly CrlEntry[];
  readonly keys: SigningKeyStore;
  readonly signerLabel: string;
}

const OID_CRL_NUMBER = '2.5.29.20';
const OID_REASON_CODE = '2.5.29.21';
const OID_AKI = '2.5.29.35';

/** Encode and sign a CRL; returns its DER. */
export async function buildCrl(spec: CrlSpec): Promise<Uint8Array> {
  const crl = new pkijs.CertificateRevocationList();
  crl.version = 1; // v2 (§5.1.2.1): CRL extensions are present
  crl.signature = sha256WithRsa();
  crl.signatureAlgorithm = sha256WithRsa();
  crl.issuer = pkijs.RelativeDistinguishedNames.fromBER(spec.issuer);
  crl.thisUpdate = x509Time(spec.thisUpdate);
  crl.nextUpdate = x509Time(spec.nextUpdate); // §5.1.2.5: conforming CAs MUST include nextUpdate
  if (spec.entries.length > 0) {
    crl.revokedCertificates = spec.entries.map((e) => new pkijs.RevokedCertificate({
      userCertificate: serialInteger(e.serial),
      revocationDate: x509Time(e.revokedAt),
      crlEntryExtensions: new pkijs.Extensions({
        extensions: [new pkijs.Extension({
          extnID: OID_REASON_CODE, // §5.3.1: CRLReason ::= ENUMERATED
          critical: false,
          extnValue: new asn1js.Enumerated({ value: REVOCATION_REASONS[e.reason] }).toBER(false),
        })],
      }),
    }));
  }
  // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
  const aki = new asn1js.Sequence({ value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: keyIdentifier(spec.issuerSpki) })] });
  crl.crlExtensions = new pkijs.Extensions({
    extensions: [
      new pkijs.Extension({ extnID: OID_AKI, critical: false, extnValue: aki.toBER(false) }),
      new pkijs.Extension({ extnID: OID_CRL_NUMBER, critical: false, extnValue: new asn1js.Integer({ value: spec.number }).toBER(false) }),
    ],
  });
  // encodeTBS is protected in pkijs's typings; it is the same encoder sign() would use.
  crl.tbsView = new Uint8Array((crl as unknown as { encodeTBS(): asn1js.Sequence }).encodeTBS().toBER(false));
  crl.signatureValue = await signWith(spec.keys, spec.signerLabel, crl.tbsView);
  return toDer(crl.toSchema(false));
}
