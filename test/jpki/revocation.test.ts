/**
 * Revocation when a card is suspended, abolished or lost, and the CRLs that publish it, checked
 * with openssl (`openssl crl -verify`, `openssl verify -crl_check`).
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import { isJukiError } from '../../src/util/index.ts';
import { cardKey, count, openFixture, openssl, writePem, writeDer } from './fixtures.ts';

const HOLDER = { cardSerial: 'JC-7', name: '佐藤 花子', sex: 'female', birthDate: '1990-10-10', address: '大阪府大阪市北区1-1' } as const;

test('[R5.2.1] revocation follows the card: suspended -> certificateHold, lost -> keyCompromise, abolished -> cessationOfOperation; each change audited with it', async () => {
  const f = await openFixture();
  try {
    const auth = await f.authority.issueAuthCertificate(cardKey().spki, { cardSerial: 'JC-7' });
    const sign = await f.authority.issueSignCertificate(cardKey().spki, HOLDER);
    const other = await f.authority.issueAuthCertificate(cardKey().spki, { cardSerial: 'JC-8' });
    const actor = { kind: 'node', id: 'municipality-131016' } as const;

    const held = await f.authority.revokeForCard('JC-7', 'suspended', { actor });
    assert.deepEqual(held.map((c) => [c.kind, c.reason]).sort(), [['auth', 'certificateHold'], ['sign', 'certificateHold']]);
    assert.deepEqual(await f.authority.status('auth-ca', auth.serial), { status: 'revoked', revokedAt: held.find((c) => c.kind === 'auth')!.revokedAt, reason: 'certificateHold' });
    assert.deepEqual(await f.authority.status('auth-ca', other.serial), { status: 'good' });
    // Repeating changes nothing and audits nothing.
    const entries = await count(f.database, 'audit_entries');
    assert.deepEqual(await f.authority.revokeForCard('JC-7', 'suspended'), []);
    assert.equal(await count(f.database, 'audit_entries'), entries);

    // The suspension is lifted: good again, audited.
    const released = await f.authority.releaseHoldForCard('JC-7', { actor });
    assert.equal(released.length, 2);
    assert.deepEqual(await f.authority.status('sign-ca', sign.serial), { status: 'good' });

    // Lost: final. The hold->final path keeps the first revocation time.
    await f.authority.revokeForCard('JC-7', 'suspended');
    const firstTime = (await f.authority.certificatesForCard('JC-7'))[0]!.revokedAt;
    const lost = await f.authority.revokeForCard('JC-7', 'lost');
    assert.deepEqual(lost.map((c) => c.reason), ['keyCompromise', 'keyCompromise']);
    assert.deepEqual((await f.authority.certificatesForCard('JC-7'))[0]!.revokedAt, firstTime);
    // A final revocation is not undone by a hold release, nor changed by a later cause.
    assert.deepEqual(await f.authority.releaseHoldForCard('JC-7'), []);
    assert.deepEqual(await f.authority.revokeForCard('JC-7', 'abolished'), []);

    const abolished = await f.authority.revokeForCard('JC-8', 'abolished');
    assert.deepEqual(abolished.map((c) => c.reason), ['cessationOfOperation']);

    const audit = (await f.audit.list({ limit: 100 })).filter((e) => e.type.startsWith('jpki.certificate.') && e.type !== 'jpki.certificate.issued');
    assert.deepEqual(audit.map((e) => [e.type, JSON.parse(e.details).reason ?? null]), [
      ['jpki.certificate.revoked', 'certificateHold'], ['jpki.certificate.revoked', 'certificateHold'],
      ['jpki.certificate.released', null], ['jpki.certificate.released', null],
      ['jpki.certificate.revoked', 'certificateHold'], ['jpki.certificate.revoked', 'certificateHold'],
      ['jpki.certificate.revoked', 'keyCompromise'], ['jpki.certificate.revoked', 'keyCompromise'],
      ['jpki.certificate.revoked', 'cessationOfOperation'],
    ]);
    assert.equal(audit[0]!.actor, 'node:municipality-131016');
    assert.equal(audit[0]!.subject, 'card:JC-7');
    assert.equal((await f.audit.verify()).ok, true);

    await assert.rejects(f.authority.revokeForCard('JC-7', 'stolen' as never), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && /^cause: expected one of suspended, abolished, lost, got "stolen"$/.test(e.message));
    await assert.rejects(f.authority.revokeForCard('', 'lost'), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && /^cardSerial:/.test(e.message));
  } finally {
    await f.close();
  }
});

test('a revocation whose audit entry fails rolls back: status and audit commit together or not at all', async () => {
  const f = await openFixture();
  try {
    const auth = await f.authority.issueAuthCertificate(cardKey().spki, { cardSerial: 'JC-9' });
    // Occupy the audit chain's next seq, so the append fails inside the revocation's transaction.
    const head = await f.audit.head();
    await f.database.db.insertInto('audit_entries').values({
      node_id: 'jpki', seq: head.seq + 1, at: '', event_type: 'x', actor: '', subject: '', outcome: '', reason: '', details: '', prev_hash: '', hash: '',
    }).execute();
    await assert.rejects(f.authority.revokeForCard('JC-9', 'lost'));
    assert.deepEqual(await f.authority.status('auth-ca', auth.serial), { status: 'good' });
  } finally {
    await f.close();
  }
});

test('CRLs: v2, numbered, signed by the issuing CA and verified by openssl; a revoked card certificate fails openssl verify -crl_check', async () => {
  const f = await openFixture();
  try {
    const card = await f.authority.issueAuthCertificate(cardKey().spki, { cardSerial: 'JC-10' });
    const root = writePem(f.dir, 'root.pem', f.authority.ca('auth-root').der);
    const ca = writePem(f.dir, 'ca.pem', f.authority.ca('auth-ca').der);
    const chain = writePem(f.dir, 'chain.pem', new Uint8Array(0));
    const { readFileSync, writeFileSync } = await import('node:fs');
    writeFileSync(chain, readFileSync(root, 'utf8') + readFileSync(ca, 'utf8'));
    const leaf = writePem(f.dir, 'leaf.pem', card.der);

    const crl1 = await f.authority.crl('auth-ca');
    assert.deepEqual(await f.authority.crl('auth-ca'), crl1, 'reused while nothing changed');
    const crl1File = writeDer(f.dir, 'crl1.der', crl1);
    const v1 = openssl(['crl', '-inform', 'DER', '-in', crl1File, '-CAfile', chain, '-noout']);
    assert.equal(v1.status, 0, v1.out);
    assert.match(v1.out, /verify OK/);
    const text1 = openssl(['crl', '-inform', 'DER', '-in', crl1File, '-noout', '-text']).out;
    assert.match(text1, /Version 2 \(0x1\)/);
    assert.match(text1, /X509v3 CRL Number: \n\s+1\n/);
    assert.match(text1, /No Revoked Certificates/);
    assert.match(text1, /Next Update:/);
    const rootCrl = writePem(f.dir, 'root-crl.pem', await f.authority.crl('auth-root'), 'X509 CRL');
    const caCrl1 = writePem(f.dir, 'ca-crl1.pem', crl1, 'X509 CRL');
    const ok = openssl(['verify', '-crl_check_all', '-CAfile', root, '-untrusted', ca, '-CRLfile', rootCrl, '-CRLfile', caCrl1, leaf]);
    assert.equal(ok.status, 0, ok.out);

    await f.authority.revokeForCard('JC-10', 'lost');
    const crl2 = await f.authority.crl('auth-ca');
    const crl2File = writeDer(f.dir, 'crl2.der', crl2);
    assert.match(openssl(['crl', '-inform', 'DER', '-in', crl2File, '-CAfile', chain, '-noout']).out, /verify OK/);
    const text2 = openssl(['crl', '-inform', 'DER', '-in', crl2File, '-noout', '-text']).out;
    assert.match(text2, /X509v3 CRL Number: \n\s+2\n/);
    assert.match(text2, new RegExp(`Serial Number: ${card.serial}`));
    assert.match(text2, /X509v3 CRL Reason Code: \n\s+Key Compromise/);
    const caCrl2 = writePem(f.dir, 'ca-crl2.pem', crl2, 'X509 CRL');
    const bad = openssl(['verify', '-crl_check_all', '-CAfile', root, '-untrusted', ca, '-CRLfile', rootCrl, '-CRLfile', caCrl2, leaf]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.out, /certificate revoked/);

    // Parsed independently with @peculiar/x509: issuer and entries.
    const parsed = new x509.X509Crl(crl2);
    assert.equal(parsed.issuer, new x509.X509Certificate(f.authority.ca('auth-ca').der).subject);
    assert.deepEqual(parsed.entries.map((e) => e.serialNumber.toUpperCase()), [card.serial]);
    assert.equal(await count(f.database, 'jpki_crls'), 3);
  } finally {
    await f.close();
  }
});
