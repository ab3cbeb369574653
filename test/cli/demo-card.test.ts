/**
 * `juki demo card`, `juki jpki revoke` and `juki card vpcd` as a user runs them (child
 * processes): input checked before anything is written, the card issued by the counter's
 * flows with the PINs set through the PIN pad, overwrite refused without --force, revocation
 * at the data dir's CA, and the vpcd bridge's refusals and clean stop. The OpenSC side is
 * test/interop/demo-card.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { juki, root, stop } from '../helpers/cli.ts';

const hexAscii = (s: string) => Buffer.from(s, 'ascii').toString('hex').toUpperCase();
const lc = (s: string) => s.length.toString(16).toUpperCase().padStart(2, '0');
const JPKI = '00A4040C0AD392F000260100000001';
const BASIC = '00A4040C0AD392F0004A554B490001';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'juki-demo-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('juki demo card: input', () => {
  test('--help says plainly that PINs on the command line are for tests and demos only', () => {
    const r = juki(['demo', 'card', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /PINs on the command line are for tests and demos only/);
    assert.match(r.stdout, /--sign-password/);
  });

  for (const [args, field, message] of [
    [['--pin', '123', '--sign-password', 'JUKI2025'], '--pin', /expected 4 digits, got 3 characters/],
    [['--pin', '12a4', '--sign-password', 'JUKI2025'], '--pin', /expected 4 digits, got 4 characters \(not all digits\)/],
    [['--pin', '1234', '--sign-password', 'juki2025'], '--sign-password', /expected only A-Z 0-9/],
    [['--pin', '1234', '--sign-password', 'JUKIJUKI'], '--sign-password', /expected at least one letter and one digit, got no digit/],
    [['--pin', '1234', '--sign-password', '20252025'], '--sign-password', /got no letter/],
    [['--pin', '1234', '--sign-password', 'JK25'], '--sign-password', /expected 6 to 16/],
    [['--pin', '1234', '--sign-password', 'JUKI2025', '--municipality', '999999'], '--municipality', /999999/],
    [['--pin', '1234', '--sign-password', 'JUKI2025', '--url', 'ftp://x'], '--url', /expected http/],
  ] as [string[], string, RegExp][]) {
    test(`bad ${field} (${args.join(' ')}) is refused in one line, and nothing is written`, () => {
      const data = join(dir, `bad-${field.slice(2)}-${Math.random().toString(36).slice(2)}`);
      mkdirSync(data);
      const r = juki(['demo', 'card', '--out', join(data, 'card.img'), '--data-dir', data, ...args]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(field), r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(data), [], 'no card, database or key store written');
    });
  }

  test('missing --out or --pin is a usage error (exit 2)', () => {
    assert.equal(juki(['demo', 'card', '--pin', '1234', '--sign-password', 'JUKI2025']).status, 2);
    const r = juki(['demo', 'card', '--out', join(dir, 'x.img'), '--sign-password', 'JUKI2025']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--pin: required/);
  });
});

describe('juki demo card: a card issued by the counter\'s flows, then juki jpki revoke', { timeout: 300_000 }, () => {
  const data = () => join(dir, 'issued');
  const card = () => join(data(), 'card.img');
  const keystore = () => join(data(), 'keystore');
  let made: { serial: string; municipality: string; resident: { residentCode: string; birthDate: string }; certificates: { auth: { serial: string }; sign: { serial: string } }; ocsp: string };

  before(() => {
    mkdirSync(data());
    const r = juki(['demo', 'card', '--out', card(), '--pin', '1234', '--sign-password', 'JUKI2025', '--data-dir', data(), '--seed', '7', '--json']);
    assert.equal(r.status, 0, r.stderr);
    made = JSON.parse(r.stdout);
  });

  test('prints the card serial, the synthetic resident, both certificate serials and the OCSP address; never a PIN', () => {
    assert.match(made.serial, /^[0-9A-F]{20}$/);
    assert.equal(made.municipality, '131016');
    assert.match(made.resident.residentCode, /^[0-9]{11}$/);
    assert.match(made.certificates.auth.serial, /^[0-9A-F]{32}$/);
    assert.match(made.certificates.sign.serial, /^[0-9A-F]{32}$/);
    assert.equal(made.ocsp, 'http://127.0.0.1:8392/jpki/ocsp');
    const text = JSON.stringify(made);
    assert.ok(!text.includes('JUKI2025') && !text.includes('1234'), text);
    assert.ok(existsSync(join(data(), 'jpki.sqlite')), 'the CA of the data dir\'s jpki node');
  });

  test('the card is active and its three PINs were set through the PIN pad: basic 1234, JPKI auth 1234, JPKI sign JUKI2025', () => {
    const r = juki(['card', 'apdu', '--card', card(), '--keystore', keystore(), '--json',
      BASIC, '00200081', '0020008104' + hexAscii('1234'),
      JPKI, '0020009804' + hexAscii('1234'), `0020009B${lc('JUKI2025')}${hexAscii('JUKI2025')}`,
      '00A4040C08A000000151000000', '80CA9F7000']);
    assert.equal(r.status, 0, r.stderr);
    const { responses } = JSON.parse(r.stdout) as { responses: { data: string; sw: string }[] };
    assert.deepEqual(responses.map((x) => x.sw), ['9000', '63C3', '9000', '9000', '9000', '9000', '9000', '9000']);
    assert.equal(responses[7]!.data, '9F70010F', 'lifecycle active');
  });

  test('an existing --out is refused without --force (file unchanged); with --force it is replaced by a new card', () => {
    const before = readFileSync(card());
    const refused = juki(['demo', 'card', '--out', card(), '--pin', '1234', '--sign-password', 'JUKI2025', '--data-dir', data()]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /already exists; use --force/);
    assert.deepEqual(readFileSync(card()), before);
    const again = juki(['demo', 'card', '--out', card(), '--pin', '4321', '--sign-password', 'ABC123', '--data-dir', data(), '--force', '--json']);
    assert.equal(again.status, 0, again.stderr);
    const second = JSON.parse(again.stdout) as { serial: string };
    assert.notEqual(second.serial, made.serial);
    made = { ...made, ...JSON.parse(again.stdout) };
    assert.ok(!existsSync(`${card()}.partial`));
  });

  test('juki jpki revoke --reason abolished revokes both certificates of the card once; a repeat changes nothing', () => {
    const r = juki(['jpki', 'revoke', '--card-serial', made.serial.toLowerCase(), '--reason', 'abolished', '--data-dir', data(), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { cardSerial: string; changed: { kind: string; serial: string; reason: string }[] };
    assert.equal(out.cardSerial, made.serial);
    assert.deepEqual(out.changed.map((c) => [c.kind, c.serial, c.reason]).sort(), [['auth', made.certificates.auth.serial, 'cessationOfOperation'], ['sign', made.certificates.sign.serial, 'cessationOfOperation']]);
    const repeat = juki(['jpki', 'revoke', '--card', card(), '--reason', 'lost', '--data-dir', data()]);
    assert.equal(repeat.status, 0, repeat.stderr);
    assert.match(repeat.stdout, /nothing changed/);
  });

  test('juki jpki revoke refuses a bad reason, an unknown card and a data dir without a CA, in one line', () => {
    const bad = juki(['jpki', 'revoke', '--card-serial', made.serial, '--reason', 'stolen', '--data-dir', data()]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--reason: expected abolished, suspended, lost, got "stolen"/);
    const unknown = juki(['jpki', 'revoke', '--card-serial', '00112233445566778899', '--reason', 'abolished', '--data-dir', data()]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /issued no certificate for card 00112233445566778899/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = juki(['jpki', 'revoke', '--card-serial', made.serial, '--reason', 'abolished', '--data-dir', empty]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no JPKI CA in/);
    assert.equal(juki(['jpki', 'revoke', '--reason', 'abolished']).status, 2);
  });
});

describe('juki card vpcd: refusals and a clean stop', () => {
  test('a missing image and a file that is no card image are refused in one line (exit 1)', () => {
    const missing = juki(['card', 'vpcd', '--card', join(dir, 'nope.img'), '--keystore', join(dir, 'ks')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^juki: --card: no such file: .*nope\.img\n$/);
    const junk = join(dir, 'junk.img');
    writeFileSync(junk, 'not a card');
    const broken = juki(['card', 'vpcd', '--card', junk, '--keystore', join(dir, 'ks')]);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /^juki: --card: .*junk\.img was refused: it is not a sealed card image/);
    assert.equal(juki(['card', 'vpcd']).status, 2);
  });

  test('with no vpcd listening it says so once and keeps retrying; SIGTERM removes the card and exits 0', async () => {
    const data = join(dir, 'issued');
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const child = spawn(process.execPath, [join(root, 'bin', 'juki.js'), 'card', 'vpcd', '--card', join(data, 'card.img'), '--keystore', join(data, 'keystore'), '--port', String(port)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const closed = once(child, 'close');
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        err += line + '\n';
        if (line.includes('retrying until it is')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    assert.match(err, new RegExp(`vpcd not reachable at 127\\.0\\.0\\.1:${port}`));
    assert.equal(await stop(child), 0);
    await closed;
    assert.match(err, /SIGTERM: card [0-9A-F]{20} removed after 0 APDU\(s\)/);
    assert.equal(err.match(/not reachable/g)!.length, 1, err);
  });
});
