/**
 * The demo card from the README, end to end, with the real commands as child processes and
 * tools nobody here wrote: `juki demo card` issues a card by the counter's flows,
 * `juki card vpcd` puts it into a private pcscd's vpcd reader (inside pcscd's network
 * namespace, test/helpers/pcscd.ts), `juki serve --role jpki` serves the same data dir's CA,
 * and Debian's OpenSC and openssl check the card: certificates, PINs, a signature verified with
 * the card's certificate and chained to the CA, OCSP good → `juki jpki revoke` → revoked, and
 * three wrong PINs blocking the authentication PIN, persisted in the card image.
 *
 * Needs the Debian packages opensc, pcscd, vsmartcard-vpcd, openssl (and util-linux, iproute2);
 * without them the tests FAIL naming the packages. Runs as root (pcscd in its own namespaces).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { requirePcscTools, startPcscd, waitForCardPresent, type Pcscd } from '../helpers/pcscd.ts';
import { juki, root, startJuki, stop } from '../helpers/cli.ts';

const run = promisify(execFile);
const PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const APT = 'apt-get install -y --no-install-recommends opensc pcscd vsmartcard-vpcd openssl';
const BIN = join(root, 'bin', 'juki.js');
const PIN = '1234';
const SIGN_PASSWORD = 'JUKI2025';

function requireTools(): void {
  requirePcscTools();
  const missing: string[] = [];
  for (const [tool, pkg] of [['pkcs15-tool', 'opensc'], ['pkcs11-tool', 'opensc'], ['openssl', 'openssl']]) {
    if (!(process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, tool)))) missing.push(`${tool} (package ${pkg})`);
  }
  if (!existsSync(PKCS11)) missing.push(`${PKCS11} (package opensc-pkcs11, pulled in by opensc)`);
  if (missing.length) throw new Error(`the demo-card interoperability tests need ${missing.join(', ')}: ${APT}`);
}

const pem = (der: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

test('the Debian packages for the demo card are installed (opensc, pcscd, vsmartcard-vpcd, openssl)', () => {
  requireTools();
});

describe('the README\'s demo card: juki demo card + juki card vpcd + juki serve --role jpki, checked with OpenSC and openssl', { timeout: 600_000 }, () => {
  let dir: string;
  let pcscd: Pcscd;
  let vpcd: ChildProcess | undefined;
  let vpcdErr = '';
  let serve: ChildProcess | undefined;
  let jpkiUrl: string;
  let demo: { serial: string; certificates: { auth: { serial: string }; sign: { serial: string } }; keystore: string };
  const card = () => join(dir, 'card.img');
  const keystore = () => join(dir, 'keystore');

  /** Run a tool against the private pcscd. Never throws. */
  async function tool(cmd: string, ...args: string[]): Promise<{ code: number; out: string; stdout: string }> {
    try {
      const { stdout, stderr } = await run(cmd, args, { env: pcscd.env, cwd: dir, timeout: 120_000, encoding: 'utf8' });
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
  const readCert = async (file: string, ...args: string[]) => {
    const r = await tool('pkcs15-tool', '--read-certificate', ...args);
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, /^-----BEGIN CERTIFICATE-----/);
    writeFileSync(join(dir, file), r.stdout);
  };
  const fetchCa = async (name: string) => {
    const res = await fetch(`${jpkiUrl}/certs/${name}.cer`);
    assert.equal(res.status, 200, `GET ${jpkiUrl}/certs/${name}.cer`);
    writeFileSync(join(dir, `${name}.pem`), pem(new Uint8Array(await res.arrayBuffer())));
  };

  /** `juki card vpcd` in pcscd's network namespace (vpcd listens only there); resolves when vpcd has taken the card. */
  function startCardVpcd(): Promise<void> {
    const child = spawn('nsenter', [`--net=${pcscd.netns}`, '--', process.execPath, BIN, 'card', 'vpcd', '--card', card(), '--keystore', keystore(), '--port', String(pcscd.port)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    vpcd = child;
    vpcdErr = '';
    child.stderr!.on('data', (b: Buffer) => (vpcdErr += b.toString()));
    return new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (/^juki card vpcd: card [0-9A-F]{20} attached to vpcd at 127\.0\.0\.1:\d+/.test(line)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`juki card vpcd exited (${code}) before it attached: ${vpcdErr}`)));
    });
  }

  before(async () => {
    requireTools();
    dir = mkdtempSync(join(tmpdir(), 'juki-demo-card-'));
    const made = juki(['demo', 'card', '--out', card(), '--pin', PIN, '--sign-password', SIGN_PASSWORD, '--data-dir', dir, '--json']);
    assert.equal(made.status, 0, made.stderr);
    demo = JSON.parse(made.stdout);
    assert.equal(demo.keystore, keystore());
    pcscd = await startPcscd({ debug: process.env.JUKI_PCSCD_DEBUG === '1' });
    await startCardVpcd();
    await waitForCardPresent(pcscd, 0);
    const started = await startJuki(['serve', '--role', 'jpki', '--db', join(dir, 'jpki.sqlite'), '--keystore', keystore(), '--port', '0', '--json'], /"url":"([^"]+)"/);
    serve = started.child;
    jpkiUrl = `${started.match[1]}/jpki`;
    for (const name of ['auth-root', 'auth-ca', 'sign-root', 'sign-ca']) await fetchCa(name);
    writeFileSync(join(dir, 'data'), 'juki: a document the holder signs with the demo card\n');
  });

  after(async () => {
    if (process.env.JUKI_PCSCD_DEBUG === '1') process.stderr.write(pcscd?.output() ?? '');
    if (vpcd) await stop(vpcd);
    if (serve) await stop(serve);
    await pcscd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('pkcs15-tool --list-certificates lists both certificates of the demo card (the ones the CA issued) and both CA certificates', async () => {
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
    assert.match(out, new RegExp(`Encoded serial : 02 10 ${demo.certificates.auth.serial.match(/../g)!.join('')}`));
  });

  test('pkcs15-tool --list-pins: the PINs set on the PIN pad by juki demo card, auth 3 tries and sign 5 tries', async () => {
    const out = await ok('pkcs15-tool', '--list-pins');
    assert.match(out, /PIN \[User Authentication PIN\][\s\S]*?min_len:4, max_len:4[\s\S]*?Tries left\s+: 3/);
    assert.match(out, /PIN \[Digital Signature PIN\][\s\S]*?min_len:6, max_len:16[\s\S]*?Tries left\s+: 5/);
  });

  test('[R5.2.1] pkcs11-tool --login --sign (SHA256-RSA-PKCS) with the key made on the demo card; openssl verifies the signature with the card\'s certificate and its chain against the CA juki serve publishes', async () => {
    await ok('pkcs11-tool', '--module', PKCS11, '--login', '--pin', PIN, '--sign', '--mechanism', 'SHA256-RSA-PKCS', '--id', '01', '-i', 'data', '-o', 'auth.sig');
    assert.equal(readFileSync(join(dir, 'auth.sig')).length, 256);
    await readCert('auth.pem', '01');
    await readCert('card-auth-ca.pem', '03');
    // the CA certificate on the card is the one the CA serves
    assert.equal(readFileSync(join(dir, 'card-auth-ca.pem'), 'utf8').replace(/\s/g, ''), readFileSync(join(dir, 'auth-ca.pem'), 'utf8').replace(/\s/g, ''));
    await ok('openssl', 'x509', '-in', 'auth.pem', '-pubkey', '-noout', '-out', 'auth-pub.pem');
    assert.match(await ok('openssl', 'dgst', '-sha256', '-verify', 'auth-pub.pem', '-signature', 'auth.sig', 'data'), /Verified OK/);
    assert.match(await ok('openssl', 'verify', '-CAfile', 'auth-root.pem', '-untrusted', 'auth-ca.pem', 'auth.pem'), /auth\.pem: OK/);
  });

  test('[R5.2.1] the sign key signs after the sign password (slot 1); its certificate (the resident\'s basic four) chains to the signature CA', async () => {
    await readCert('sign.pem', '02', '--auth-id', '02', '--verify-pin', '--pin', SIGN_PASSWORD);
    await ok('pkcs11-tool', '--module', PKCS11, '--slot', '1', '--login', '--pin', SIGN_PASSWORD, '--sign', '--mechanism', 'SHA256-RSA-PKCS', '--id', '02', '-i', 'data', '-o', 'sign.sig');
    await ok('openssl', 'x509', '-in', 'sign.pem', '-pubkey', '-noout', '-out', 'sign-pub.pem');
    assert.match(await ok('openssl', 'dgst', '-sha256', '-verify', 'sign-pub.pem', '-signature', 'sign.sig', 'data'), /Verified OK/);
    assert.match(await ok('openssl', 'verify', '-CAfile', 'sign-root.pem', '-untrusted', 'sign-ca.pem', 'sign.pem'), /sign\.pem: OK/);
    const serial = (await ok('openssl', 'x509', '-in', 'sign.pem', '-noout', '-serial')).trim();
    assert.equal(serial, `serial=${demo.certificates.sign.serial}`);
  });

  test('openssl ocsp at juki serve answers "good", and "revoked" (cessationOfOperation) after juki jpki revoke --reason abolished', async () => {
    const ask = () => ok('openssl', 'ocsp', '-issuer', 'auth-ca.pem', '-cert', 'auth.pem', '-url', `${jpkiUrl}/ocsp`, '-CAfile', 'auth-root.pem');
    assert.match(await ask(), /auth\.pem: good/);
    const revoked = juki(['jpki', 'revoke', '--card', card(), '--reason', 'abolished', '--data-dir', dir, '--json']);
    assert.equal(revoked.status, 0, revoked.stderr);
    const r = JSON.parse(revoked.stdout) as { cardSerial: string; changed: { serial: string; kind: string; reason: string }[] };
    assert.equal(r.cardSerial, demo.serial);
    assert.deepEqual(r.changed.map((c) => [c.kind, c.serial, c.reason]).sort(), [['auth', demo.certificates.auth.serial, 'cessationOfOperation'], ['sign', demo.certificates.sign.serial, 'cessationOfOperation']]);
    const after = await ask();
    assert.match(after, /auth\.pem: revoked/);
    assert.match(after, /Reason: cessationOfOperation/);
  });

  test('three wrong PINs block the auth PIN (pkcs15-tool shows 0 tries); after juki card vpcd stops, juki card apdu reads 63C0 from the card image: the block was persisted', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await tool('pkcs15-tool', '--verify-pin', '--auth-id', '01', '--pin', '0000');
      assert.match(r.out, /PIN code or key incorrect/, r.out);
    }
    const right = await tool('pkcs15-tool', '--verify-pin', '--auth-id', '01', '--pin', PIN);
    assert.match(right.out, /Reference data not usable|blocked|locked/i, right.out);
    const pins = await ok('pkcs15-tool', '--list-pins');
    assert.match(pins, /PIN \[User Authentication PIN\][\s\S]*?Tries left\s+: 0/);
    assert.match(pins, /PIN \[Digital Signature PIN\][\s\S]*?Tries left\s+: 5/);

    assert.equal(await stop(vpcd!), 0, vpcdErr);
    assert.match(vpcdErr, /SIGTERM: card [0-9A-F]{20} removed after \d+ APDU\(s\)/);
    vpcd = undefined;
    const apdu = juki(['card', 'apdu', '--card', card(), '--keystore', keystore(), '--json', '00A4040C0AD392F000260100000001', '00200098']);
    assert.equal(apdu.status, 0, apdu.stderr);
    const { responses } = JSON.parse(apdu.stdout) as { responses: { sw: string }[] };
    assert.deepEqual(responses.map((x) => x.sw), ['9000', '63C0']);
  });
});
