/**
 * The configuration files of this part of juki serve: the desks file (`--desks`) and the
 * nats-server configuration (`juki pki nats-config`). Every mistake is refused naming the entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDesks, loadDesks } from '../../src/cli/desks-file.ts';
import { pkiNatsConfigCommand } from '../../src/cli/commands/pki-nats-config.ts';
import { pkiInitCommand } from '../../src/cli/commands/pki-init.ts';
import { parseTopology } from '../../src/net/index.ts';
import { JukiError } from '../../src/util/index.ts';

const topology = parseTopology({ version: 1, nodes: [{ role: 'national' }, { role: 'prefecture', code: '13' }, { role: 'agency', code: 'passport' }] });
const ok = { agency: 'agency-passport', terminal: 'passport-desk-1', url: 'https://127.0.0.1:9501', reader: 'desk-1' };

test('desks file: a valid file, and each mistake refused naming its entry and field', () => {
  assert.deepEqual(parseDesks(JSON.stringify({ version: 1, desks: [ok] }), 'd.json', topology).desks, [ok]);
  const cases: [unknown, RegExp][] = [
    ['{', /\(file\): not JSON/],
    [{ version: 2, desks: [ok] }, /version: expected 1/],
    [{ version: 1, desks: [] }, /desks: expected a non-empty list/],
    [{ version: 1, desks: [ok], extra: 1 }, /extra: unexpected field/],
    [{ version: 1, desks: [{ ...ok, agency: 'prefecture-13' }] }, /desks\[0\]\.agency: expected an agency node id/],
    [{ version: 1, desks: [{ ...ok, agency: 'agency-pension' }] }, /desks\[0\]\.agency: agency-pension is not an agency of the network's topology/],
    [{ version: 1, desks: [{ ...ok, terminal: 'bad id!' }] }, /desks\[0\]\.terminal: expected the terminal's id/],
    [{ version: 1, desks: [ok, ok] }, /desks\[1\]\.terminal: terminal passport-desk-1 is listed twice/],
    [{ version: 1, desks: [{ ...ok, url: 'http://127.0.0.1:9501' }] }, /desks\[0\]\.url: expected https:\/\/host:port/],
    [{ version: 1, desks: [{ ...ok, url: 'https://127.0.0.1:9501/x' }] }, /desks\[0\]\.url: expected https:\/\/host:port \(mutual TLS, no path\)/],
    [{ version: 1, desks: [{ ...ok, reader: '' }] }, /desks\[0\]\.reader: expected the terminal's reader name/],
    [{ version: 1, desks: [{ ...ok, pin: '1234' }] }, /desks\[0\]\.pin: unexpected field/],
  ];
  for (const [input, why] of cases) {
    assert.throws(() => parseDesks(typeof input === 'string' ? input : JSON.stringify(input), 'd.json', topology), (e: JukiError) => e.code === 'JUKI_ERR_INVALID_INPUT' && why.test(e.message) && e.message.startsWith('desks file d.json: '), String(why));
  }
  assert.throws(() => loadDesks('/nonexistent/desks.json'), (e: JukiError) => e.code === 'JUKI_ERR_FILE' && /--desks: cannot read/.test(e.message));
});

test('juki pki nats-config: writes the verify_and_map configuration and the server certificate; refuses a missing PKI', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-natscfg-'));
  try {
    const peers = join(dir, 'peers.json');
    writeFileSync(peers, JSON.stringify({ version: 1, nodes: [{ role: 'national' }, { role: 'prefecture', code: '13' }, { role: 'agency', code: 'passport' }] }));
    const sink = { write: () => true } as unknown as NodeJS.WriteStream;
    const run = (cmd: typeof pkiNatsConfigCommand, values: Record<string, unknown>) => cmd.run({ values: { json: false, host: '127.0.0.1', ...values }, positionals: [], stdout: sink, stderr: sink } as never);
    await assert.rejects(run(pkiNatsConfigCommand, { pki: join(dir, 'pki'), topology: peers, out: join(dir, 'nats.conf') }), (e: JukiError) => e.code === 'JUKI_ERR_FILE' && /no .*ca\.crt/.test(e.message));
    await assert.rejects(run(pkiNatsConfigCommand, { pki: join(dir, 'pki'), topology: peers }), (e: JukiError) => e.code === 'JUKI_ERR_USAGE');
    assert.equal(await run(pkiInitCommand, { topology: peers, out: join(dir, 'pki') }), 0);
    await assert.rejects(run(pkiNatsConfigCommand, { pki: join(dir, 'pki'), topology: peers, out: join(dir, 'nats.conf'), port: '0' }), (e: JukiError) => e.code === 'JUKI_ERR_INVALID_INPUT' && /--port/.test(e.message));
    assert.equal(await run(pkiNatsConfigCommand, { pki: join(dir, 'pki'), topology: peers, out: join(dir, 'nats.conf'), port: '4333' }), 0);
    const conf = readFileSync(join(dir, 'nats.conf'), 'utf8');
    assert.match(conf, /port: 4333/);
    assert.match(conf, /verify_and_map: true/);
    assert.match(conf, /user: "urn:juki:node:prefecture:13"/);
    assert.match(conf, /"\$JS\.API\.STREAM\.CREATE\.JUKI_NET"/);
    assert.equal(conf.match(/\$JS\.API\.STREAM\.CREATE/g)!.length, 1, 'one stream creator');
    assert.ok(existsSync(join(dir, 'pki', 'nats-server.crt')));
    assert.equal(statSync(join(dir, 'pki', 'nats-server.key')).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
