/**
 * The JPKI CA's hierarchy and certificate profiles, checked with @peculiar/x509 and with
 * openssl (a tool nobody here wrote): chains verify, signatures made "on the card" verify
 * against the issued certificate, the authentication certificate carries no personal data,
 * the signature certificate exactly the basic four.
 */
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, sign as rsaSign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { AUDIT_EVENTS } from '../../src/audit/index.ts';
import { JpkiAuthority, OID, JUKI_OID_ARC, parseBasicFourSan, rsaSpki, eraDate, type SignHolder } from '../../src/jpki/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { BASE_URL, cardKey, certText, count, openFixture, openssl, writePem } from './fixtures.ts';

const HOLDER: SignHolder = {
  cardSerial: 'JC-0000001',
  name: '山田 太郎',
  nameSubstitute: '山田 太郎',
  sex: 'male',
  birthDate: '1985-04-12',
  address: '東京都千代田区霞が関二丁目1番2号',
  addressSubstitute: '東京都千代田区霞が関二丁目1番2号',
};

test('the hierarchy: roots self-signed, issuing CAs under them, RFC 5280 CA extensions, juki names not J-LIS', async () => {
  const f = await openFixture();
  try {
    for (const kind of ['auth', 'sign'] as const) {
      const root = new x509.X509Certificate(f.authority.ca(`${kind}-root`).der);
      const ca = new x509.X509Certificate(f.authority.ca(`${kind}-ca`).der);
      const unit = kind === 'auth' ? 'JPKI for user authentication' : 'JPKI for digital signature';
      assert.equal(root.subject, `C=JP, O=JPKI-juki, OU=${unit}, OU=juki root certification authority`);
      assert.equal(ca.subject, `C=JP, O=JPKI-juki, OU=${unit}, OU=juki certification authority`);
      assert.equal(root.issuer, root.subject);
      assert.equal(ca.issuer, root.subject);
      assert.equal(await root.verify({ publicKey: root.publicKey, signatureOnly: true }), true);
      assert.equal(await ca.verify({ publicKey: root.publicKey, signatureOnly: true }), true);
      const bc = ca.getExtension(x509.BasicConstraintsExtension)!;
      assert.deepEqual([bc.ca, bc.pathLength, bc.critical], [true, 0, true]);
      const ku = ca.getExtension(x509.KeyUsagesExtension)!;
      assert.equal(ku.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
      assert.equal(ku.critical, true);
      assert.equal(ca.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId, root.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
      // asn1js prints arcs above 2^53 in its own hex form, so read the policy OID with openssl.
      assert.match(certText(new Uint8Array(ca.rawData)), new RegExp(`Policy: ${(kind === 'auth' ? OID.policyAuth : OID.policySign).replaceAll('.', '\\.')}\\n`));
      assert.ok(OID.policyAuth.startsWith(`${JUKI_OID_ARC}.`));
      // Key sizes and header: RSA-2048, `30 82 LL LL` (reference §2.1).
      for (const der of [root.rawData, ca.rawData]) {
        const b = new Uint8Array(der);
        assert.deepEqual([b[0], b[1]], [0x30, 0x82]);
        assert.equal(((b[2]! << 8) | b[3]!) + 4, b.length);
      }
      assert.equal((root.publicKey.algorithm as { modulusLength?: number }).modulusLength, 2048);
      assert.doesNotMatch(root.subject, /O=JPKI,|Japan Agency for Local Authority/);
    }
    // Created once, audited, and loaded again (not re-created) on reopen.
    const created = await f.audit.list({ limit: 100 });
    assert.deepEqual(created.map((e) => e.type), Array(4).fill('jpki.ca.created'));
    const again = await JpkiAuthority.open({ database: f.database, audit: f.audit, keys: f.keys, baseUrl: BASE_URL });
    assert.deepEqual(again.ca('auth-ca').der, f.authority.ca('auth-ca').der);
    assert.equal((await f.audit.list({ limit: 100 })).length, 4);
    assert.ok(AUDIT_EVENTS['jpki.certificate.issued']);
  } finally {
    await f.close();
  }
});

test('[R5.2.1] openssl verifies the chain root -> issuing -> card certificate, and a signature made with the card key against the certificate', async () => {
  const f = await openFixture();
  try {
    for (const kind of ['auth', 'sign'] as const) {
      const card = cardKey();
      const issued = kind === 'auth'
        ? await f.authority.issueAuthCertificate(card.spki, { cardSerial: 'JC-0000002' })
        : await f.authority.issueSignCertificate(card.spki, { ...HOLDER, cardSerial: 'JC-0000002' });
      const root = writePem(f.dir, `${kind}-root.pem`, f.authority.ca(`${kind}-root`).der);
      const ca = writePem(f.dir, `${kind}-ca.pem`, issued.caCertificate);
      const leaf = writePem(f.dir, `${kind}-leaf.pem`, issued.der);
      const v = openssl(['verify', '-x509_strict', '-CAfile', root, '-untrusted', ca, leaf]);
      assert.equal(v.status, 0, v.out);
      assert.match(v.out, new RegExp(`${kind}-leaf.pem: OK`));
      // The wrong root does not verify it.
      const other = kind === 'auth' ? 'sign' : 'auth';
      const wrong = writePem(f.dir, `${other}-root-x.pem`, f.authority.ca(`${other}-root`).der);
      assert.notEqual(openssl(['verify', '-CAfile', wrong, '-untrusted', ca, leaf]).status, 0);

      // "The card" signs (80 2A: PKCS#1 v1.5 over SHA-256); openssl checks it with the certificate's key.
      const data = new TextEncoder().encode(`document signed with the ${kind} key`);
      const sig = rsaSign('sha256', data, card.privateKey);
      const dataFile = join(f.dir, `${kind}.txt`);
      const sigFile = join(f.dir, `${kind}.sig`);
      writeFileSync(dataFile, data);
      writeFileSync(sigFile, sig);
      const pub = openssl(['x509', '-in', leaf, '-noout', '-pubkey']);
      const pubFile = writePem(f.dir, `${kind}-pub.pem`, new Uint8Array(0));
      writeFileSync(pubFile, pub.out);
      const check = openssl(['dgst', '-sha256', '-verify', pubFile, '-signature', sigFile, dataFile]);
      assert.equal(check.status, 0, check.out);
      assert.match(check.out, /Verified OK/);
      // The certificate holds exactly the card's public key.
      assert.deepEqual(new Uint8Array(new x509.X509Certificate(issued.der).publicKey.rawData), card.spki);
    }
  } finally {
    await f.close();
  }
});

test('[R5.2.2] the authentication certificate carries no personal data: subject CN=<serial>, C=JP, no subjectAltName, no holder text anywhere', async () => {
  const f = await openFixture();
  try {
    const card = cardKey();
    const issued = await f.authority.issueAuthCertificate(card.spki, { cardSerial: 'JC-0000003' });
    const cert = new x509.X509Certificate(issued.der);
    assert.equal(cert.subject, `C=JP, CN=${issued.serial}`);
    assert.equal(cert.serialNumber.toUpperCase(), issued.serial);
    assert.deepEqual([...cert.extensions].map((e) => e.type).sort(), [
      '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
      '2.5.29.14', '2.5.29.15', '2.5.29.31', '2.5.29.32', '2.5.29.35', '2.5.29.37',
    ]);
    assert.equal(cert.getExtension(OID.subjectAltName), null);
    assert.deepEqual([...cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [OID.clientAuth]);
    assert.equal(cert.getExtension(x509.KeyUsagesExtension)!.usages, x509.KeyUsageFlags.digitalSignature);
    // No card serial in the certificate either: the link to the card lives only in the CA's records.
    const text = certText(issued.der);
    assert.doesNotMatch(text, /JC-0000003|othername/);
    assert.equal(Buffer.from(issued.der).includes(Buffer.from('JC-0000003')), false);
    assert.equal(issued.caId, 'auth-ca');
  } finally {
    await f.close();
  }
});

test('[R5.2.2] the signature certificate carries exactly the basic four (name, sex, birth date, address, and given substitutes) in subjectAltName otherNames', async () => {
  const f = await openFixture();
  try {
    const issued = await f.authority.issueSignCertificate(cardKey().spki, HOLDER);
    const cert = new x509.X509Certificate(issued.der);
    assert.equal(cert.subject, `C=JP, CN=${issued.serial}`);
    const san = cert.getExtension(OID.subjectAltName)!;
    assert.equal(san.critical, false);
    assert.deepEqual(parseBasicFourSan(new Uint8Array(san.value)), {
      [OID.name]: HOLDER.name,
      [OID.nameSubstitute]: HOLDER.nameSubstitute,
      [OID.sex]: '1',
      [OID.birthDate]: '319850412', // Showa (3), 1985-04-12
      [OID.address]: HOLDER.address,
      [OID.addressSubstitute]: HOLDER.addressSubstitute,
    });
    assert.equal(cert.getExtension(x509.KeyUsagesExtension)!.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation);
    // openssl reads the same otherNames.
    const text = certText(issued.der);
    assert.match(text, /othername: 1\.2\.392\.200149\.8\.5\.5\.1::山田 太郎/);
    assert.match(text, /othername: 1\.2\.392\.200149\.8\.5\.5\.4::319850412/);
    // Without substitutes: four otherNames only, in arc order.
    const { nameSubstitute: _n, addressSubstitute: _a, ...four } = HOLDER;
    const plain = await f.authority.issueSignCertificate(cardKey().spki, { ...four, sex: 'female', birthDate: '2019-05-01' });
    const items = parseBasicFourSan(new Uint8Array(new x509.X509Certificate(plain.der).getExtension(OID.subjectAltName)!.value));
    assert.deepEqual(Object.keys(items), [OID.name, OID.sex, OID.birthDate, OID.address]);
    assert.equal(items[OID.sex], '2');
    assert.equal(items[OID.birthDate], '520190501');
  } finally {
    await f.close();
  }
});

test('era-prefixed birth dates switch era on the first day of each era', () => {
  assert.equal(eraDate('1912-07-29'), '119120729');
  assert.equal(eraDate('1912-07-30'), '219120730');
  assert.equal(eraDate('1926-12-24'), '219261224');
  assert.equal(eraDate('1926-12-25'), '319261225');
  assert.equal(eraDate('1989-01-07'), '319890107');
  assert.equal(eraDate('1989-01-08'), '419890108');
  assert.equal(eraDate('2019-04-30'), '420190430');
  assert.equal(eraDate('2019-05-01'), '520190501');
  assert.throws(() => eraDate('1868-10-22'), (e) => isJukiError(e, 'JUKI_ERR_INVALID_DATE'));
});

test('[R5.2.1] the CA issues from a public key only: a private key offered in its place is refused and nothing is written', async () => {
  const f = await openFixture();
  try {
    const card = cardKey();
    const before = [await count(f.database, 'jpki_certificates'), await count(f.database, 'audit_entries')];
    const pkcs8 = new Uint8Array(card.privateKey.export({ type: 'pkcs8', format: 'der' }));
    const pkcs1 = new Uint8Array(card.privateKey.export({ type: 'pkcs1', format: 'der' }));
    for (const key of [pkcs8, pkcs1]) {
      await assert.rejects(f.authority.issueAuthCertificate(key, { cardSerial: 'JC-1' }), (e) =>
        isJukiError(e, 'JUKI_ERR_JPKI_PUBLIC_KEY') && e.message === 'publicKey: a private key was given: the CA takes only the public key made on the card and never handles a private key');
      await assert.rejects(f.authority.issueSignCertificate(key, HOLDER), (e) => isJukiError(e, 'JUKI_ERR_JPKI_PUBLIC_KEY'));
    }
    assert.deepEqual([await count(f.database, 'jpki_certificates'), await count(f.database, 'audit_entries')], before);
    // The signatures of the API take key bytes, never a KeyObject.
    await assert.rejects(f.authority.issueAuthCertificate(card.privateKey as never, { cardSerial: 'JC-1' }), (e) =>
      isJukiError(e, 'JUKI_ERR_JPKI_PUBLIC_KEY') && /expected SubjectPublicKeyInfo DER bytes, got object/.test(e.message));
    // A counter holding the card's modulus (GENERATE KEY PAIR answer) gets the same SPKI.
    const jwk = createPublicKey({ key: Buffer.from(card.spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    assert.deepEqual(rsaSpki(Buffer.from(jwk.n!, 'base64url'), Buffer.from(jwk.e!, 'base64url')), card.spki);
  } finally {
    await f.close();
  }
});

test('bad input is refused with precise errors and writes nothing: malformed SPKI, wrong key size or type, bad holder fields', async () => {
  const f = await openFixture();
  try {
    const before = [await count(f.database, 'jpki_certificates'), await count(f.database, 'audit_entries')];
    const good = cardKey().spki;
    const small = cardKey(1024).spki;
    const { generateKeyPairSync } = await import('node:crypto');
    const ec = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    const e3 = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey.export({ type: 'spki', format: 'der' }));
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /^publicKey: expected SubjectPublicKeyInfo DER bytes, got 0 bytes$/],
      [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), /^publicKey: expected DER SubjectPublicKeyInfo, got 5 bytes that do not parse as one \(starting 30030201\)$/],
      [good.slice(0, 100), /^publicKey: expected DER SubjectPublicKeyInfo, got 100 bytes/],
      [new Uint8Array([...good, 0x00]), /^publicKey: expected (canonical DER|DER SubjectPublicKeyInfo)/],
      [small, /^publicKey: expected a 2048-bit RSA key, got 1024 bits$/],
      [ec, /^publicKey: expected an RSA key \(rsaEncryption\), got ec$/],
      [e3, /^publicKey: expected public exponent 65537, got 3$/],
    ];
    for (const [spki, message] of cases) {
      await assert.rejects(f.authority.issueAuthCertificate(spki, { cardSerial: 'JC-9' }), (e) => isJukiError(e, 'JUKI_ERR_JPKI_PUBLIC_KEY') && message.test(e.message), message.source);
    }
    const holderCases: [Partial<SignHolder> & Record<string, unknown>, string, RegExp][] = [
      [{ name: '' }, 'JUKI_ERR_INVALID_INPUT', /^name: expected a non-empty string, got an empty one$/],
      [{ name: '   ' }, 'JUKI_ERR_INVALID_INPUT', /^name: expected a non-empty string, got an empty one$/],
      [{ name: 'x'.repeat(101) }, 'JUKI_ERR_INVALID_INPUT', /^name: expected at most 100 characters, got 101$/],
      [{ name: '山田\u0000太郎' }, 'JUKI_ERR_INVALID_INPUT', /^name: expected printable text, got control character U\+0000$/],
      [{ name: '山田\ud800' }, 'JUKI_ERR_INVALID_INPUT', /^name: expected well-formed Unicode, got a lone surrogate$/],
      [{ nameSubstitute: '' }, 'JUKI_ERR_INVALID_INPUT', /^nameSubstitute: expected a non-empty string or no value/],
      [{ address: '' }, 'JUKI_ERR_INVALID_INPUT', /^address: expected a non-empty string, got an empty one$/],
      [{ sex: 'x' as never }, 'JUKI_ERR_INVALID_INPUT', /^sex: expected "male" or "female", got "x"$/],
      [{ birthDate: '1985-02-30' }, 'JUKI_ERR_INVALID_DATE', /^birthDate: expected a real calendar date, got 1985-02-30$/],
      [{ birthDate: '19850412' }, 'JUKI_ERR_INVALID_DATE', /^birthDate: expected YYYY-MM-DD, got "19850412"$/],
      [{ birthDate: '2999-01-01' }, 'JUKI_ERR_INVALID_DATE', /^birthDate: expected a date not after today, got 2999-01-01$/],
      [{ cardSerial: '' }, 'JUKI_ERR_INVALID_INPUT', /^cardSerial: expected a card serial/],
      [{ cardSerial: 'a b' }, 'JUKI_ERR_INVALID_INPUT', /^cardSerial: expected a card serial/],
    ];
    for (const [change, code, message] of holderCases) {
      await assert.rejects(f.authority.issueSignCertificate(good, { ...HOLDER, ...change } as SignHolder), (e) => isJukiError(e, code as never) && message.test(e.message), message.source);
    }
    await assert.rejects(f.authority.issueAuthCertificate(good, { cardSerial: '../x' }), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && /^cardSerial:/.test(e.message));
    await assert.rejects(f.authority.issueAuthCertificate(good, { cardSerial: 'JC-1' }, { notAfter: new Date(0) }), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && /^notAfter: expected a time after now/.test(e.message));
    assert.deepEqual([await count(f.database, 'jpki_certificates'), await count(f.database, 'audit_entries')], before);
  } finally {
    await f.close();
  }
});

test('issuance is recorded and audited in one transaction; serials are unique, positive, 16 octets; validity capped at the requested end', async () => {
  const f = await openFixture();
  try {
    const serials = new Set<string>();
    const card = cardKey();
    const end = new Date(Date.now() + 400 * 86_400_000);
    for (let i = 0; i < 5; i++) {
      const issued = await f.authority.issueAuthCertificate(card.spki, { cardSerial: 'JC-0000005' }, { actor: { kind: 'node', id: 'municipality-131016' }, notAfter: end });
      assert.match(issued.serial, /^[4-7][0-9A-F]{31}$/);
      serials.add(issued.serial);
      assert.equal(issued.notAfter.getTime(), Math.floor(end.getTime() / 1000) * 1000);
    }
    assert.equal(serials.size, 5);
    const records = await f.authority.certificatesForCard('JC-0000005');
    assert.deepEqual(new Set(records.map((r) => r.serial)), serials);
    assert.ok(records.every((r) => r.status === 'good' && r.kind === 'auth' && r.caId === 'auth-ca'));
    const entries = (await f.audit.list({ limit: 100 })).filter((e) => e.type === 'jpki.certificate.issued');
    assert.equal(entries.length, 5);
    assert.equal(entries[0]!.actor, 'node:municipality-131016');
    assert.equal(entries[0]!.subject, 'card:JC-0000005');
    assert.deepEqual((await f.audit.verify()).ok, true);
  } finally {
    await f.close();
  }
});
