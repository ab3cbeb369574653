/**
 * The OCSP responder (RFC 6960): answers, for certificates of the issuing CAs, good / revoked /
 * unknown, in a BasicOCSPResponse signed by the issuing CA's own key (RFC 6960 §4.2.2.2: the
 * CA that issued the certificate is an authorised responder; no delegated certificate needed).
 *
 *   request:  OCSPRequest { tbsRequest { requestList { CertID }, requestExtensions { nonce } } }
 *   response: OCSPResponse { successful, id-pkix-ocsp-basic, BasicOCSPResponse {
 *               tbsResponseData { responderID byKey, producedAt, responses, nonce echoed },
 *               sha256WithRSAEncryption, signature, certs [issuing CA] } }
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { integerHex, sha256WithRsa, signWith, subjectPublicKeyBits, toDer, wholeSeconds } from './der.ts';
import type { CaId } from './profile.ts';
import { REVOCATION_REASONS, type CertificateStatus } from './revocation.ts';
import type { SigningKeyStore } from './signing-keys.ts';

/** What the responder needs from the authority. */
export interface OcspSource {
  readonly keys: SigningKeyStore;
  now(): Date;
  issuingCas(): readonly { readonly id: CaId; readonly der: Uint8Array; readonly subject: Uint8Array; readonly spki: Uint8Array; readonly keyLabel: string }[];
  status(caId: CaId, serial: string): Promise<CertificateStatus>;
}

/** RFC 6960 §4.2.1 OCSPResponseStatus. */
export const OCSP_STATUS = { successful: 0, malformedRequest: 1, internalError: 2, tryLater: 3, sigRequired: 5, unauthorized: 6 } as const;

const OID_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const OID_OCSP_NONCE = '1.3.6.1.5.5.7.48.1.2';
/** CertID hash algorithms accepted: SHA-1 (what most clients, openssl included, send) and SHA-256. */
const HASHES: Record<string, string> = { '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256' };
/** How long a response may be cached (nextUpdate - thisUpdate, RFC 6960 §4.2.2.1). */
const RESPONSE_HOURS = 1;

/** Answer one DER OCSPRequest with a DER OCSPResponse; never throws for bad input (malformedRequest instead). */
export async function answerOcsp(source: OcspSource, requestDer: Uint8Array): Promise<Uint8Array> {
  let request: pkijs.OCSPRequest;
  try {
    request = pkijs.OCSPRequest.fromBER(requestDer);
  } catch {
    return statusOnly(OCSP_STATUS.malformedRequest);
  }
  const list = request.tbsRequest.requestList;
  if (list.length === 0) return statusOnly(OCSP_STATUS.malformedRequest);

  // Match each CertID's issuer hashes (RFC 6960 §4.1.1) to one of our issuing CAs.
  const cas = source.issuingCas();
  const matched: { caId: CaId; req: pkijs.Request }[] = [];
  for (const req of list) {
    const hash = HASHES[req.reqCert.hashAlgorithm.algorithmId];
    if (!hash) return statusOnly(OCSP_STATUS.unauthorized);
    const nameHash = Buffer.from(req.reqCert.issuerNameHash.valueBlock.valueHexView);
    const keyHash = Buffer.from(req.reqCert.issuerKeyHash.valueBlock.valueHexView);
    const ca = cas.find((c) =>
      createHash(hash).update(c.subject).digest().equals(nameHash)
      && createHash(hash).update(subjectPublicKeyBits(c.spki)).digest().equals(keyHash));
    // RFC 6960 §2.3: "unauthorized" when the responder is not authoritative for the issuer.
    if (!ca) return statusOnly(OCSP_STATUS.unauthorized);
    matched.push({ caId: ca.id, req });
  }
  // One response is signed by one CA key: a request mixing our CAs is answered for none.
  const caId = matched[0]!.caId;
  if (matched.some((m) => m.caId !== caId)) return statusOnly(OCSP_STATUS.unauthorized);
  const ca = cas.find((c) => c.id === caId)!;

  const now = wholeSeconds(source.now());
  const next = new Date(now.getTime() + RESPONSE_HOURS * 3_600_000);
  const responses: pkijs.SingleResponse[] = [];
  for (const { req } of matched) {
    const status = await source.status(caId, integerHex(req.reqCert.serialNumber));
    responses.push(new pkijs.SingleResponse({
      certID: req.reqCert, // echoed as requested (§4.2.1)
      certStatus: certStatus(status),
      thisUpdate: now,
      nextUpdate: next,
    }));
  }

  const data = new pkijs.ResponseData();
  // §4.2.2.3 ResponderID byKey: SHA-1 of the responder's subjectPublicKey BIT STRING value.
  data.responderID = new asn1js.OctetString({ valueHex: createHash('sha1').update(subjectPublicKeyBits(ca.spki)).digest() });
  data.producedAt = now;
  data.responses = responses;
  // §4.4.1: echo the request's nonce extension unchanged.
  const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === OID_OCSP_NONCE);
  if (nonce) data.responseExtensions = [nonce];
  data.tbsView = new Uint8Array(data.toSchema(true).toBER(false));

  const basic = new pkijs.BasicOCSPResponse();
  basic.tbsResponseData = data;
  basic.signatureAlgorithm = sha256WithRsa();
  basic.signature = await signWith(source.keys, ca.keyLabel, data.tbsView);
  // The signer's certificate, so a client holding only the root can build the path.
  basic.certs = [pkijs.Certificate.fromBER(ca.der)];

  const response = new pkijs.OCSPResponse();
  response.responseStatus = new asn1js.Enumerated({ value: OCSP_STATUS.successful });
  response.responseBytes = new pkijs.ResponseBytes({
    responseType: OID_OCSP_BASIC,
    response: new asn1js.OctetString({ valueHex: toDer(basic.toSchema()) }),
  });
  return toDer(response.toSchema());
}

/**
 * CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT UnknownInfo }
 * RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 */
function certStatus(status: CertificateStatus): asn1js.BaseBlock {
  if (status.status === 'good') return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } });
  if (status.status === 'unknown') return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } });
  return new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 1 },
    value: [
      new asn1js.GeneralizedTime({ valueDate: wholeSeconds(status.revokedAt) }),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new asn1js.Enumerated({ value: REVOCATION_REASONS[status.reason] })] }),
    ],
  });
}

/** An unsigned OCSPResponse with only a status (§4.2.1: no responseBytes unless successful). */
function statusOnly(status: number): Uint8Array {
  const response = new pkijs.OCSPResponse();
  response.responseStatus = new asn1js.Enumerated({ value: status });
  return toDer(response.toSchema());
}
