/**
 * The CA signing-key stores: software (memory, sealed folder) and PKCS#11 against a real
 * SoftHSM2 token. Signatures are checked with node:crypto from the public key alone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { Pkcs11SigningKeyStore, SoftwareSigningKeyStore, pkcs11PinFromEnv, type SigningKeyStore } from '../../src/jpki/index.ts';
import { isJukiError } from '../../src/util/index.ts';
import { createSoftHsmToken } from './softhsm.ts';

async function signsAndVerifies(store: SigningKeyStore, label: string): Promise<void> {
  const spki = await store.generate(label);
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(key.asymmetricKeyDetails?.publicExponent, 65537n);
  assert.deepEqual(await store.publicKey(label), spki);
  assert.equal(await store.has(label), true);
  const data = new TextEncoder().encode('tbsCertificate bytes');
  const sig = await store.sign(label, 'sha256WithRSAEncryption', data);
  assert.equal(sig.length, 256);
  assert.equal(verify('sha256', data, key, sig), true);
  assert.equal(verify('sha256', new TextEncoder().encode('other'), key, sig), false);
}

test('software store in memory: generates RSA-2048, signs sha256WithRSAEncryption, refuses a reused label', async () => {
  const store = SoftwareSigningKeyStore.inMemory();
  await signsAndVerifies(store, 'auth-root');
  await assert.rejects(store.generate('auth-root'), (e) => isJukiError(e, 'JUKI_ERR_CONFLICT'));
  await assert.rejects(store.publicKey('nope'), (e) => isJukiError(e, 'JUKI_ERR_NOT_FOUND'));
  await assert.rejects(store.generate('Bad Label'), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && /label/.test(e.message));
  await assert.rejects(store.sign('auth-root', 'md5WithRSA' as never, new Uint8Array(1)), (e) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && /algorithm/.test(e.message));
  assert.equal('privateKey' in store, false);
  await store.close();
});

test('software store in a folder: keys sealed at rest (AES-256-GCM), reloaded by a new instance, tampering refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-jpki-keys-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const kek = randomBytes(32);
  const a = SoftwareSigningKeyStore.inFolder(dir, kek);
  await signsAndVerifies(a, 'sign-ca');
  await a.generate('sign-root');
  const spki = await a.publicKey('sign-ca');
  await a.close();
  // No plaintext private key on disk: the file holds no PKCS#8 header and no PEM.
  const text = readFileSync(join(dir, 'sign-ca.jpkikey'), 'utf8');
  assert.doesNotMatch(text, /PRIVATE KEY/);
  const b = SoftwareSigningKeyStore.inFolder(dir, kek);
  assert.deepEqual(await b.publicKey('sign-ca'), spki);
  const sig = await b.sign('sign-ca', 'sha256WithRSAEncryption', new Uint8Array([1, 2, 3]));
  assert.equal(verify('sha256', new Uint8Array([1, 2, 3]), createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), sig), true);
  await b.close();
  // Another key-encryption key: refused.
  const c = SoftwareSigningKeyStore.inFolder(dir, randomBytes(32));
  await assert.rejects(c.sign('sign-ca', 'sha256WithRSAEncryption', new Uint8Array(1)), (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE_TAMPERED'));
  // A file renamed to another label: refused (the label is in the GCM additional data).
  renameSync(join(dir, 'sign-root.jpkikey'), join(dir, 'auth-root.jpkikey'));
  const d = SoftwareSigningKeyStore.inFolder(dir, kek);
  await assert.rejects(d.publicKey('auth-root'), (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE_TAMPERED'));
  // One flipped ciphertext byte: refused.
  const file = JSON.parse(text);
  const ct = Buffer.from(file.ct, 'base64');
  ct[10]! ^= 1;
  writeFileSync(join(dir, 'sign-ca.jpkikey'), JSON.stringify({ ...file, ct: ct.toString('base64') }));
  await assert.rejects(d.sign('sign-ca', 'sha256WithRSAEncryption', new Uint8Array(1)), (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE_TAMPERED'));
  assert.throws(() => SoftwareSigningKeyStore.inFolder(dir, randomBytes(16)), (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE') && /32 bytes/.test(e.message));
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test('[R5.2.1] CA keys live in a PKCS#11 token: SoftHSM2 generates them sensitive and non-extractable, and signs with CKM_SHA256_RSA_PKCS', async () => {
  const token = createSoftHsmToken();
  after(() => token.remove());
  const store = Pkcs11SigningKeyStore.open({ module: token.module, tokenLabel: token.tokenLabel, pin: token.pin });
  after(() => store.close());
  assert.equal(store.description, `pkcs11:${token.module}#${token.tokenLabel}`);
  await signsAndVerifies(store, 'auth-ca');
  await assert.rejects(store.generate('auth-ca'), (e) => isJukiError(e, 'JUKI_ERR_CONFLICT'));
  assert.deepEqual(store.keyProtection('auth-ca'), { sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true, local: true });

  // Ask the token directly for the private exponent: it refuses (CKR_ATTRIBUTE_SENSITIVE).
  const lib = new pkcs11js.PKCS11();
  lib.load(token.module);
  try {
    lib.C_Initialize();
  } catch (e) {
    assert.equal((e as { code?: number }).code, pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED);
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token.tokenLabel)!;
  const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }, { type: pkcs11js.CKA_LABEL, value: 'auth-ca' }]);
  const [handle] = lib.C_FindObjects(session, 1);
  lib.C_FindObjectsFinal(session);
  assert.ok(handle, 'the private key object is on the token');
  assert.throws(() => lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_PRIVATE_EXPONENT }]), (e: unknown) => (e as { code?: number }).code === pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
  lib.C_CloseSession(session);

  // A tool nobody here wrote (OpenSC pkcs11-tool) lists the key as sensitive and never extractable.
  const listing = execFileSync('pkcs11-tool', ['--module', token.module, '--token-label', token.tokenLabel, '--login', '--pin', token.pin, '--list-objects', '--type', 'privkey'], { env: token.env, encoding: 'utf8' });
  assert.match(listing, /Private Key Object; RSA/);
  assert.match(listing, /label:\s+auth-ca/);
  assert.match(listing, /Access:\s+.*sensitive.*always sensitive.*never extractable/);

  // A second store on the same module (same process) shares the initialised module.
  const second = Pkcs11SigningKeyStore.open({ module: token.module, tokenLabel: token.tokenLabel, pin: token.pin });
  assert.deepEqual(await second.publicKey('auth-ca'), await store.publicKey('auth-ca'));
  await second.close();
  assert.equal((await store.sign('auth-ca', 'sha256WithRSAEncryption', new Uint8Array([9]))).length, 256);
});

test('PKCS#11 store: a wrong PIN, an unknown token and an unset PIN are refused without echoing the PIN', async () => {
  const token = createSoftHsmToken('juki-pin-test');
  after(() => token.remove());
  assert.throws(
    () => Pkcs11SigningKeyStore.open({ module: token.module, tokenLabel: token.tokenLabel, pin: 'wrong-pin-1234' }),
    (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE') && /C_Login failed: CKR_PIN_INCORRECT/.test(e.message) && !e.message.includes('wrong-pin-1234'),
  );
  assert.throws(
    () => Pkcs11SigningKeyStore.open({ module: token.module, tokenLabel: 'no-such-token', pin: token.pin }),
    (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE') && /no token labelled "no-such-token"/.test(e.message) && !e.message.includes(token.pin),
  );
  assert.throws(() => pkcs11PinFromEnv({}), (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE') && /JUKI_JPKI_PKCS11_PIN/.test(e.message));
  assert.equal(pkcs11PinFromEnv({ JUKI_JPKI_PKCS11_PIN: 'x1' }), 'x1');
  assert.throws(
    () => Pkcs11SigningKeyStore.open({ module: '/nonexistent/libp11.so', tokenLabel: 'x', pin: 'y' }),
    (e) => isJukiError(e, 'JUKI_ERR_KEYSTORE') && /cannot load module \/nonexistent\/libp11.so/.test(e.message),
  );
});
