/**
 * The JPKI CA over HTTP, as a Fastify plugin for the `jpki` role (register it under the
 * prefix that `baseUrl` names, e.g. `/jpki`):
 *
 *   POST /ocsp               body application/ocsp-request   -> application/ocsp-response  (RFC 6960 App. A.1)
 *   GET  /ocsp/<base64 DER>  url-encoded base64 request       -> application/ocsp-response  (RFC 6960 App. A.1)
 *   GET  /certs/<ca>.cer     CA certificate, DER              -> application/pkix-cert      (RFC 2585 §4.1; AIA caIssuers)
 *   GET  /crl/<ca>.crl       current CRL of that CA, DER      -> application/pkix-crl       (RFC 2585 §4.2; CDP)
 *
 * <ca> is auth-root, auth-ca, sign-root or sign-ca. Plain HTTP is the norm for these (the
 * objects are signed); put TLS in front if the deployment wants it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { JpkiAuthority } from './ca.ts';
import { answerOcsp } from './ocsp.ts';
import { isCaId } from './profile.ts';

/** Largest OCSP request accepted: a few hundred bytes is typical; this allows long request lists. */
const OCSP_REQUEST_LIMIT = 16 * 1024;

const caParam = {
  type: 'object',
  properties: { file: { type: 'string', pattern: '^(auth|sign)-(root|ca)\\.(cer|crl)$' } },
  required: ['file'],
} as const;

export function jpkiHttpPlugin(authority: JpkiAuthority): FastifyPluginAsync {
  return async (app) => {
    app.addContentTypeParser('application/ocsp-request', { parseAs: 'buffer', bodyLimit: OCSP_REQUEST_LIMIT }, (_req, body, done) => done(null, body));

    app.post('/ocsp', {
      schema: { headers: { type: 'object', properties: { 'content-type': { type: 'string', const: 'application/ocsp-request' } }, required: ['content-type'] } },
    }, async (req, reply) => {
      const body = req.body as Buffer;
      const der = await answerOcsp(authority, new Uint8Array(body));
      return reply.type('application/ocsp-response').header('cache-control', 'no-store').send(Buffer.from(der));
    });

    app.get('/ocsp/*', {
      schema: { params: { type: 'object', properties: { '*': { type: 'string', maxLength: OCSP_REQUEST_LIMIT * 2 } } } },
    }, async (req, reply) => {
      const encoded = (req.params as { '*': string })['*'];
      let der: Uint8Array;
      try {
        der = new Uint8Array(Buffer.from(decodeURIComponent(encoded), 'base64'));
      } catch {
        der = new Uint8Array(0); // answered as malformedRequest below
      }
      const out = await answerOcsp(authority, der);
      return reply.type('application/ocsp-response').send(Buffer.from(out));
    });

    app.get('/certs/:file', { schema: { params: caParam } }, async (req, reply) => {
      const id = (req.params as { file: string }).file.replace(/\.cer$/, '');
      if (!isCaId(id) || !(req.params as { file: string }).file.endsWith('.cer')) return reply.status(404).send({ code: 'JUKI_ERR_NOT_FOUND', message: `no CA certificate ${id}`, details: {} });
      return reply.type('application/pkix-cert').send(Buffer.from(authority.ca(id).der));
    });

    app.get('/crl/:file', { schema: { params: caParam } }, async (req, reply) => {
      const id = (req.params as { file: string }).file.replace(/\.crl$/, '');
      if (!isCaId(id) || !(req.params as { file: string }).file.endsWith('.crl')) return reply.status(404).send({ code: 'JUKI_ERR_NOT_FOUND', message: `no CRL ${id}`, details: {} });
      return reply.type('application/pkix-crl').send(Buffer.from(await authority.crl(id)));
    });
  };
}
