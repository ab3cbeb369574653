/**
 * The whole CA on a PKCS#11 token (SoftHSM2): every CA key is generated on the token, stays
 * non-extractable, and the certificates, CRLs and OCSP answers it signs verify with openssl.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/index.ts';
import { CA_IDS, JpkiAuthority, Pkcs11SigningKeyStore, answerOcsp } from '../../src/jpki/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { BASE_URL, cardKey, openssl, pem, writeDer, writePem } from './fixtures.ts';
import { createSoftHsmToken } from './softhsm.ts';

test('[R5.2.1] CA keys live in a PKCS#11 token: SoftHSM2 holds all four CA keys, non-extractable, and openssl verifies what they sign', async (t) => {
  const token = createSoftHsmToken('juki-ca');
  const keys = Pkcs11SigningKeyStore.open({ module: token.module, tokenLabel: token.tokenLabel, pin: token.pin });
  const database = await openTestDb();
  t.after(async () => {
    await database.close();
    await keys.close();
    token.remove();
  });
  const audit = new AuditLog(database, 'jpki');
  const authority = await JpkiAuthority.open({ database, audit, keys, baseUrl: BASE_URL });

  for (const id of CA_IDS) {
    const ca = authority.ca(id);
    assert.deepEqual(keys.keyProtection(ca.keyLabel), { sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true, local: true }, id);
    assert.deepEqual(await keys.publicKey(ca.keyLabel), ca.spki);
  }
  // The database names the keys; it holds no key material.
  const rows = await database.db.selectFrom('jpki_cas').select(['ca_id', 'key_label']).orderBy('ca_id').execute();
  assert.deepEqual(rows.map((r) => r.ca_id), ['auth-ca', 'auth-root', 'sign-ca', 'sign-root']);
  const created = (await audit.list({ limit: 10 })).filter((e) => e.type === 'jpki.ca.created');
  assert.equal(JSON.parse(created[0]!.details).store, `pkcs11:${token.module}#juki-ca`);

  const issued = await authority.issueAuthCertificate(cardKey().spki, { cardSerial: 'JC-HSM-1' });
  const dir = token.dir;
  const root = writePem(dir, 'root.pem', authority.ca('auth-root').der);
  const ca = writePem(dir, 'ca.pem', issued.caCertificate);
  const leaf = writePem(dir, 'leaf.pem', issued.der);
  const v = openssl(['verify', '-x509_strict', '-CAfile', root, '-untrusted', ca, leaf]);
  assert.equal(v.status, 0, v.out);

  await authority.revokeForCard('JC-HSM-1', 'lost');
  const chain = join(dir, 'chain.pem');
  writeFileSync(chain, pem(authority.ca('auth-root').der) + pem(issued.caCertificate));
  const crl = writeDer(dir, 'crl.der', await authority.crl('auth-ca'));
  const c = openssl(['crl', '-inform', 'DER', '-in', crl, '-CAfile', chain, '-noout']);
  assert.match(c.out, /verify OK/);

  // An OCSP answer signed on the token, read by openssl from file.
  const reqFile = join(dir, 'req.der');
  assert.equal(openssl(['ocsp', '-issuer', ca, '-cert', leaf, '-no_nonce', '-reqout', reqFile]).status, 0);
  const { readFileSync } = await import('node:fs');
  const resp = writeDer(dir, 'resp.der', await answerOcsp(authority, new Uint8Array(readFileSync(reqFile))));
  const o = openssl(['ocsp', '-respin', resp, '-issuer', ca, '-cert', leaf, '-CAfile', root, '-no_nonce']);
  assert.equal(o.status, 0, o.out);
  assert.match(o.out, /Response verify OK/);
  assert.match(o.out, /leaf.pem: revoked/);
  assert.match(o.out, /Reason: keyCompromise/);
});

