/**
 * The OCSP responder and the CA's HTTP endpoints, exercised by real clients: `openssl ocsp`
 * against a server on port 0 (good before revocation, revoked after), GET-form requests, CA
 * certificates and CRLs at the URLs the certificates name.
 */
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import type { FastifyInstance } from 'fastify';
import { answerOcsp, jpkiHttpPlugin, OCSP_STATUS } from '../../src/jpki/index.ts';
import { createServer } from '../../src/web/server.ts';
import { cardKey, openFixture, writePem, type Fixture } from './fixtures.ts';

const run = promisify(execFile);

/** Run openssl without blocking this process's event loop (the server answers it from here). */
async function openssl(args: string[]): Promise<{ status: number; out: string }> {
  try {
    const { stdout, stderr } = await run('openssl', args, { encoding: 'utf8' });
    return { status: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('openssl could not run: install the Debian package with `apt-get install -y openssl`');
    return { status: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

let f: Fixture;
let app: FastifyInstance;
let base: string;

before(async () => {
  f = await openFixture();
  app = await createServer({ nodes: [], version: 'test', plugins: [{ prefix: '/jpki', plugin: jpkiHttpPlugin(f.authority) }] });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  base = `http://127.0.0.1:${address.port}/jpki`;
});

after(async () => {
  await app.close();
  await f.close();
});

for (const kind of ['auth', 'sign'] as const) {
  test(`[R5.2.1] openssl ocsp gets "good" for a ${kind} certificate before the card is abolished and "revoked" after`, async () => {
    const cardSerial = `JC-OCSP-${kind}`;
    const issued = kind === 'auth'
      ? await f.authority.issueAuthCertificate(cardKey().spki, { cardSerial })
      : await f.authority.issueSignCertificate(cardKey().spki, { cardSerial, name: '鈴木 一郎', sex: 'male', birthDate: '1970-01-01', address: '北海道札幌市中央区1' });
    const root = writePem(f.dir, `${kind}-root.pem`, f.authority.ca(`${kind}-root`).der);
    const ca = writePem(f.dir, `${kind}-ca.pem`, issued.caCertificate);
    const leaf = writePem(f.dir, `${kind}-leaf.pem`, issued.der);
    const ask = () => openssl(['ocsp', '-issuer', ca, '-cert', leaf, '-url', `${base}/ocsp`, '-CAfile', root, '-resp_text']);

    const good = await ask();
    assert.equal(good.status, 0, good.out);
    assert.match(good.out, /Response verify OK/);
    assert.match(good.out, new RegExp(`${kind}-leaf.pem: good`));
    assert.match(good.out, /OCSP Nonce:/); // openssl sends a nonce by default; the response echoes it
    assert.doesNotMatch(good.out, /WARNING: no nonce in response|nonce verify error/i);

    await f.authority.revokeForCard(cardSerial, 'abolished');
    const revoked = await ask();
    assert.equal(revoked.status, 0, revoked.out);
    assert.match(revoked.out, /Response verify OK/);
    assert.match(revoked.out, new RegExp(`${kind}-leaf.pem: revoked`));
    assert.match(revoked.out, /Reason: cessationOfOperation/);
  });
}

test('OCSP: an unknown serial of a known issuer is "unknown"; a certificate of a foreign issuer is answered "unauthorized"', async () => {
  const root = writePem(f.dir, 'u-root.pem', f.authority.ca('auth-root').der);
  const ca = writePem(f.dir, 'u-ca.pem', f.authority.ca('auth-ca').der);
  const unknown = await openssl(['ocsp', '-issuer', ca, '-serial', '0x4242424242424242', '-url', `${base}/ocsp`, '-CAfile', root]);
  assert.equal(unknown.status, 0, unknown.out);
  assert.match(unknown.out, /0x4242424242424242: unknown/);
  // The root is not a responder here (its key signs only the issuing CA's certificate).
  const rootIssued = await openssl(['ocsp', '-issuer', root, '-cert', ca, '-url', `${base}/ocsp`, '-CAfile', root]);
  assert.match(rootIssued.out, /Responder Error: unauthorized \(6\)/);
});

test('OCSP over GET (RFC 6960 App. A.1): url-encoded base64 of the DER request; malformed input answered malformedRequest', async () => {
  const issued = await f.authority.issueAuthCertificate(cardKey().spki, { cardSerial: 'JC-GET' });
  const ca = writePem(f.dir, 'g-ca.pem', issued.caCertificate);
  const leaf = writePem(f.dir, 'g-leaf.pem', issued.der);
  const reqFile = join(f.dir, 'req.der');
  const made = await openssl(['ocsp', '-issuer', ca, '-cert', leaf, '-no_nonce', '-reqout', reqFile]);
  assert.equal(made.status, 0, made.out);
  const request = readFileSync(reqFile);
  const res = await fetch(`${base}/ocsp/${encodeURIComponent(request.toString('base64'))}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
  const respFile = join(f.dir, 'resp.der');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(respFile, Buffer.from(await res.arrayBuffer()));
  const root = writePem(f.dir, 'g-root.pem', f.authority.ca('auth-root').der);
  const read = await openssl(['ocsp', '-respin', respFile, '-issuer', ca, '-cert', leaf, '-CAfile', root, '-no_nonce']);
  assert.equal(read.status, 0, read.out);
  assert.match(read.out, /g-leaf.pem: good/);

  // Garbage: a successful HTTP exchange carrying OCSPResponseStatus malformedRequest (1), unsigned.
  for (const body of [Buffer.from('not der'), Buffer.alloc(0)]) {
    const post = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
    const der = new Uint8Array(await post.arrayBuffer());
    assert.deepEqual([...der], [0x30, 0x03, 0x0a, 0x01, OCSP_STATUS.malformedRequest]);
  }
  assert.deepEqual([...await answerOcsp(f.authority, new Uint8Array([0x30, 0x00]))], [0x30, 0x03, 0x0a, 0x01, OCSP_STATUS.malformedRequest]);
  const wrongType = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  // text/plain is parsed by Fastify itself; the route's header schema then refuses it.
  assert.equal(wrongType.status, 400);
  assert.match(((await wrongType.json()) as { message: string }).message, /content-type/);
});

test('the URLs in AIA and CDP serve the CA certificates (application/pkix-cert) and CRLs (application/pkix-crl)', async () => {
  const issued = await f.authority.issueSignCertificate(cardKey().spki, { cardSerial: 'JC-URL', name: '高橋 次郎', sex: 'male', birthDate: '2000-02-29', address: '福岡県福岡市1' });
  const cert = new x509.X509Certificate(issued.der);
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension)!;
  const cdp = cert.getExtension(x509.CRLDistributionPointsExtension)!;
  const caUrl = aia.caIssuers[0]!.value;
  const ocspUrl = aia.ocsp[0]!.value;
  const crlUrl = cdp.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
  assert.equal(caUrl, 'http://jpki.juki.test/jpki/certs/sign-ca.cer');
  assert.equal(ocspUrl, 'http://jpki.juki.test/jpki/ocsp');
  assert.equal(crlUrl, 'http://jpki.juki.test/jpki/crl/sign-ca.crl');
  const local = (url: string) => url.replace('http://jpki.juki.test/jpki', base);

  const caRes = await fetch(local(caUrl));
  assert.equal(caRes.status, 200);
  assert.equal(caRes.headers.get('content-type'), 'application/pkix-cert');
  assert.deepEqual(new Uint8Array(await caRes.arrayBuffer()), issued.caCertificate);
  const crlRes = await fetch(local(crlUrl));
  assert.equal(crlRes.status, 200);
  assert.equal(crlRes.headers.get('content-type'), 'application/pkix-crl');
  const crl = new x509.X509Crl(await crlRes.arrayBuffer());
  assert.equal(await crl.verify({ publicKey: new x509.X509Certificate(issued.caCertificate).publicKey }), true);
  for (const id of ['auth-root', 'auth-ca', 'sign-root']) {
    assert.equal((await fetch(`${base}/certs/${id}.cer`)).status, 200);
    assert.equal((await fetch(`${base}/crl/${id}.crl`)).status, 200);
  }
  assert.equal((await fetch(`${base}/certs/other.cer`)).status, 400);
  assert.equal((await fetch(`${base}/crl/auth-ca.cer`)).status, 404);
});
