/**
 * The JPKI area through tools nobody here wrote: Debian's pcscd + vsmartcard's vpcd, and
 * Debian's OpenSC (the `jpki` driver and its PKCS#15 emulation, opensc-pkcs11.so), with
 * openssl checking what comes out.
 *
 * The card is made by the real flow (blank → the CS's ISD personalisation → the ISD installs
 * the JPKI area → src/jpki/card-personalisation.ts generates the keys on the card and writes
 * the CA's certificates → the holder sets the PINs), then attached to a private pcscd.
 *
 * Needs the Debian packages opensc, pcscd, vsmartcard-vpcd (and openssl); without them the
 * tests FAIL naming the packages. Runs as root (pcscd in its own namespaces).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { attachToVpcd, type VpcdAttachment } from '../../src/reader/index.ts';
import { jpkiHttpPlugin } from '../../src/jpki/index.ts';
import { createServer } from '../../src/web/server.ts';
import { requirePcscTools, startPcscd, waitForCardPresent, type Pcscd } from '../helpers/pcscd.ts';
import { openFixture, writePem, type Fixture } from '../jpki/fixtures.ts';
import { JPKI_PINS, jpkiCard, type JpkiMadeCard } from '../card/jpki-card.ts';
import { bridgeToVpcd, type VpcdBridge } from './vpcd-bridge.ts';

const run = promisify(execFile);
const PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const APT = 'apt-get install -y --no-install-recommends opensc pcscd vsmartcard-vpcd openssl';

function requireTools(): void {
  requirePcscTools();
  const missing: string[] = [];
  for (const [tool, pkg] of [['pkcs15-tool', 'opensc'], ['pkcs11-tool', 'opensc'], ['openssl', 'openssl']]) {
    if (!(process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, tool)))) missing.push(`${tool} (package ${pkg})`);
  }
  if (!existsSync(PKCS11)) missing.push(`${PKCS11} (package opensc-pkcs11, pulled in by opensc)`);
  if (missing.length) throw new Error(`the OpenSC interoperability tests need ${missing.join(', ')}: ${APT}`);
}

test('the Debian packages are installed (opensc, pcscd, vsmartcard-vpcd, openssl)', () => {
  requireTools();
});

describe('OpenSC\'s jpki driver against the juki card\'s JPKI area (pcscd + vpcd)', { timeout: 300_000 }, () => {
  let pcscd: Pcscd;
  let f: Fixture;
  let m: JpkiMadeCard;
  let bridge: VpcdBridge;
  let attachment: VpcdAttachment;
  let app: FastifyInstance;
  let ocspUrl: string;
  /** Every APDU the card answered, as `command → SW`, for checking what OpenSC really sent. */
  const trace: string[] = [];
  const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

  /** Run a tool against the private pcscd, asynchronously (the card answers from this process). Never throws. */
  async function tool(cmd: string, ...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
    try {
      const { stdout, stderr } = await run(cmd, args, { env: pcscd.env, cwd: f.dir, timeout: 60_000, encoding: 'utf8' });
      return { code: 0, out: stdout + stderr, stdout };
    } catch (e) {
      const err = e as { code?: number | string; stdout?: string; stderr?: string; message: string };
      return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}${typeof err.code === 'number' ? '' : err.message}`, stdout: err.stdout ?? '' };
    }
  }
  const ok = async (cmd: string, ...args: string[]) => {
    const r = await tool(cmd, ...args);
    assert.equal(r.code, 0, `${cmd} ${args.join(' ')}:\n${r.out}`);
    return r.out;
  };
  /** A certificate read with pkcs15-tool --read-certificate, saved as PEM (stdout only). */
  const readCert = async (file: string, ...args: string[]) => {
    const r = await tool('pkcs15-tool', '--read-certificate', ...args);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, /^-----BEGIN CERTIFICATE-----/);
    writeFileSync(join(f.dir, file), r.stdout);
  };

  before(async () => {
    requireTools();
    pcscd = await startPcscd({ debug: process.env.JUKI_PCSCD_DEBUG === '1' });
    f = await openFixture();
    m = await jpkiCard({ fixture: f });
    bridge = await bridgeToVpcd(pcscd, 0);
    attachment = attachToVpcd(m.card, {
      port: bridge.port,
      onChange: (e) => {
        if (e.kind === 'apdu') trace.push(`${hexOf(e.command)} → ${hexOf(e.response.subarray(e.response.length - 2))}`);
      },
    });
    await attachment.whenAttached();
    await waitForCardPresent(pcscd, 0);
    app = await createServer({ nodes: [], version: 'test', plugins: [{ prefix: '/jpki', plugin: jpkiHttpPlugin(f.authority) }] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    ocspUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/jpki/ocsp`;
    writePem(f.dir, 'auth-root.pem', f.authority.ca('auth-root').der);
    writePem(f.dir, 'sign-root.pem', f.authority.ca('sign-root').der);
    writeFileSync(join(f.dir, 'data'), 'juki: a document the holder signs with the card\n');
  });

  after(async () => {
    if (process.env.JUKI_PCSCD_DEBUG === '1') process.stderr.write(pcscd?.output() ?? '');
    await app?.close();
    await attachment?.close();
    await bridge?.close();
    await pcscd?.stop();
    await f?.close();
  });

  test('opensc-tool -l lists the reader with the card; -a prints its ATR; -n names the card "jpki" (detected by the AID probe)', async () => {
    const list = await ok('opensc-tool', '-l');
    assert.match(list, new RegExp(`^0\\s+Yes\\s+${pcscd.readerName(0)}$`, 'm'));
    const atr = await ok('opensc-tool', '-r', '0', '-a');
    assert.equal(atr.trim().replaceAll(':', '').toUpperCase(), hexOf(m.card.atr));
    const from = trace.length;
    assert.equal((await ok('opensc-tool', '-r', '0', '-n')).trim(), 'jpki');
    const seen = trace.slice(from);
    // every other driver's AID probe was refused; the JPKI AID was selected with P2=0C
    assert.ok(seen.includes('00A4040C0AD392F000260100000001 → 9000'), seen.join('\n'));
    assert.ok(seen.filter((s) => s.startsWith('00A40400') || s.startsWith('00A4040C')).every((s) => s.endsWith('6A82') || s.includes('D392F000260100000001')), seen.join('\n'));
  });

  test('pkcs15-tool --list-certificates lists both certificates and both CA certificates (the sign certificate flagged private)', async () => {
    const out = await ok('pkcs15-tool', '--list-certificates');
    for (const [label, path, id] of [
      ['User Authentication Certificate', '000a', '01'],
      ['Digital Signature Certificate', '0001', '02'],
      ['User Authentication Certificate CA', '000b', '03'],
      ['Digital Signature Certificate CA', '0002', '04'],
    ]) {
      const entry = out.split(/\n\s*\n/).find((e) => e.includes(`X.509 Certificate [${label}]`));
      assert.ok(entry, `${label} not listed:\n${out}`);
      assert.match(entry, new RegExp(`Path\\s+: ${path}\\s+ID\\s+: ${id}`), entry);
    }
    assert.match(out, /\[Digital Signature Certificate\]\s+Object Flags\s+: \[0x01\], private/);
    assert.match(out, new RegExp(`Encoded serial : 02 10 ${m.result.auth.serial.match(/../g)!.join('')}`));
  });

  test('pkcs15-tool --list-pins shows the auth PIN (4/4, 3 tries) and the sign PIN (6/16, 5 tries)', async () => {
    const out = await ok('pkcs15-tool', '--list-pins');
    assert.match(out, /PIN \[User Authentication PIN\][\s\S]*?min_len:4, max_len:4[\s\S]*?Tries left\s+: 3/);
    assert.match(out, /PIN \[Digital Signature PIN\][\s\S]*?min_len:6, max_len:16[\s\S]*?Tries left\s+: 5/);
  });

  test('pkcs11-tool --login --sign SHA256-RSA-PKCS with key 01 (the card pads); openssl verifies the signature with the certificate read from the card and the chain against the CA', async () => {
    await ok('pkcs11-tool', '--module', PKCS11, '--login', '--pin', JPKI_PINS.auth, '--sign', '--mechanism', 'SHA256-RSA-PKCS', '--id', '01', '-i', 'data', '-o', 'auth.sig');
    assert.equal(readFileSync(join(f.dir, 'auth.sig')).length, 256);
    assert.ok(trace.some((s) => /^802A0080333031300D060960864801650304020105000420[0-9A-F]{64}00 → 9000$/.test(s)), 'OpenSC sent the DigestInfo with 80 2A');
    await readCert('auth.pem', '01');
    await readCert('auth-ca.pem', '03');
    await ok('openssl', 'x509', '-in', 'auth.pem', '-pubkey', '-noout', '-out', 'auth-pub.pem');
    assert.match(await ok('openssl', 'dgst', '-sha256', '-verify', 'auth-pub.pem', '-signature', 'auth.sig', 'data'), /Verified OK/);
    assert.match(await ok('openssl', 'verify', '-CAfile', 'auth-root.pem', '-untrusted', 'auth-ca.pem', 'auth.pem'), /auth\.pem: OK/);
    // what OpenSC read is what the CA issued
    assert.equal(readFileSync(join(f.dir, 'auth.pem'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''), Buffer.from(m.result.auth.der).toString('base64'));
  });

  test('the sign key 02 signs after the sign password (slot 1, CKA_ALWAYS_AUTHENTICATE); the sign certificate reads only with the password', async () => {
    const from = trace.length;
    const denied = await tool('pkcs15-tool', '--read-certificate', '02');
    assert.notEqual(denied.out.includes('BEGIN CERTIFICATE'), true, denied.out);
    assert.match(denied.out, /failed/i);
    assert.ok(trace.slice(from).includes('00B0000004 → 6982'), trace.slice(from).join('\n'));
    await readCert('sign.pem', '02', '--auth-id', '02', '--verify-pin', '--pin', JPKI_PINS.sign);
    await readCert('sign-ca.pem', '04');
    await ok('pkcs11-tool', '--module', PKCS11, '--slot', '1', '--login', '--pin', JPKI_PINS.sign, '--sign', '--mechanism', 'SHA256-RSA-PKCS', '--id', '02', '-i', 'data', '-o', 'sign.sig');
    await ok('openssl', 'x509', '-in', 'sign.pem', '-pubkey', '-noout', '-out', 'sign-pub.pem');
    assert.match(await ok('openssl', 'dgst', '-sha256', '-verify', 'sign-pub.pem', '-signature', 'sign.sig', 'data'), /Verified OK/);
    assert.match(await ok('openssl', 'verify', '-CAfile', 'sign-root.pem', '-untrusted', 'sign-ca.pem', 'sign.pem'), /sign\.pem: OK/);
    // the basic four are in the sign certificate's subjectAltName (and nowhere in the auth one)
    const text = await ok('openssl', 'x509', '-in', 'sign.pem', '-noout', '-ext', 'subjectAltName');
    assert.match(text, /othername/i);
  });

  test('openssl ocsp answers "good" for the certificate read from the card, and "revoked" once the card is abolished (the CA\'s revocation API)', async () => {
    const ask = () => ok('openssl', 'ocsp', '-issuer', 'auth-ca.pem', '-cert', 'auth.pem', '-url', ocspUrl, '-CAfile', 'auth-root.pem');
    assert.match(await ask(), /auth\.pem: good/);
    await f.authority.revokeForCard(m.result.cardSerial, 'abolished');
    const revoked = await ask();
    assert.match(revoked, /auth\.pem: revoked/);
    assert.match(revoked, /Reason: cessationOfOperation/);
  });

  test('three wrong PINs block the auth PIN: pkcs15-tool --list-pins then shows 0 tries, PKCS#11 reports the PIN locked, and the right PIN no longer signs', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await tool('pkcs15-tool', '--verify-pin', '--auth-id', '01', '--pin', '0000');
      assert.match(r.out, /PIN code or key incorrect/, r.out);
    }
    const after3 = await tool('pkcs15-tool', '--verify-pin', '--auth-id', '01', '--pin', JPKI_PINS.auth);
    assert.match(after3.out, /Reference data not usable|blocked|locked/i, after3.out);
    const pins = await ok('pkcs15-tool', '--list-pins');
    assert.match(pins, /PIN \[User Authentication PIN\][\s\S]*?Tries left\s+: 0/);
    assert.match(pins, /PIN \[Digital Signature PIN\][\s\S]*?Tries left\s+: 5/);
    assert.match(await ok('pkcs11-tool', '--module', PKCS11, '-L'), /JPKI \(User Authentication PIN\)[\s\S]*?user PIN locked/);
    const sign = await tool('pkcs11-tool', '--module', PKCS11, '--login', '--pin', JPKI_PINS.auth, '--sign', '--mechanism', 'SHA256-RSA-PKCS', '--id', '01', '-i', 'data', '-o', 'blocked.sig');
    assert.notEqual(sign.code, 0, sign.out);
    assert.ok(trace.slice(-40).some((s) => s === `0020008004${Buffer.from(JPKI_PINS.auth).toString('hex').toUpperCase()} → 6984`));
  });
});
