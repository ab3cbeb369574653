import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { juki, startJuki, stop } from '../helpers/cli.ts';

test('juki --help lists the commands; each command has --help', () => {
  const r = juki(['--help']);
  assert.equal(r.status, 0);
  for (const c of ['up', 'serve', 'conformance']) assert.match(r.stdout, new RegExp(`juki ${c}\\b`));
  const h = juki(['serve', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^Usage: juki serve --role ROLE/);
});

test('unknown commands and options are one clear line on stderr and exit 2', () => {
  for (const args of [['frobnicate'], ['up', '--frob'], ['conformance', 'extra']]) {
    const r = juki(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^juki: /);
  }
});

test('juki serve refuses a bad role, code, port or database URL with the field named, and writes nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-serve-'));
  const env = { JUKI_DATA_DIR: dir };
  const cases: [string[], RegExp][] = [
    [['serve', '--role', 'wizard'], /role: expected one of municipality, .* got "wizard"/],
    [['serve', '--role', 'prefecture', '--code', '48'], /code: a prefecture code is 2 digits 01-47, got "48"/],
    [['serve', '--role', 'national', '--code', '1'], /code: the national role takes no code/],
    [['serve', '--role', 'national', '--port', '70000'], /--port: expected a TCP port 0-65535, got "70000"/],
    [['serve', '--role', 'national', '--db', 'mysql://h/db'], /database: unsupported scheme 'mysql:\/\/'/],
    [['serve', '--role', 'national', '--db', 'postgres://u@h'], /database: PostgreSQL URL names no database/],
    [['serve'], /missing --role/],
  ];
  for (const [args, message] of cases) {
    const r = juki(args, env);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('juki up runs the default network, serves health, nodes and OpenAPI, and stops on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-up-'));
  const { child, match } = await startJuki(['up', '--port', '0', '--data-dir', dir], /listening on (http:\/\/\S+)/);
  try {
    const url = match[1]!;
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; nodes: { id: string; transport?: string; connected?: boolean }[] };
    assert.equal(health.status, 'ok');
    assert.equal(health.nodes.length, 6);
    assert.ok(health.nodes.every((n) => n.transport === 'in-process' && n.connected === true), JSON.stringify(health));
    const nodes = (await (await fetch(`${url}/api/nodes`)).json()) as { id: string; storage: { dialect: string } }[];
    assert.deepEqual(nodes.map((n) => n.id).sort(), ['agency-passport', 'jpki', 'municipality-131016', 'municipality-131024', 'national', 'prefecture-13']);
    assert.ok(nodes.every((n) => n.storage.dialect === 'sqlite'));
    const api = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(api.openapi, '3.1.0');
    assert.ok(api.paths['/api/nodes']);
    assert.ok(existsSync(join(dir, 'municipality-131016.sqlite')));
    // The JPKI role serves its CA certificates (DER, 30 82 LL LL) and OCSP under /jpki/.
    const root = new Uint8Array(await (await fetch(`${url}/jpki/certs/auth-root.cer`)).arrayBuffer());
    assert.deepEqual([...root.subarray(0, 2)], [0x30, 0x82]);
    assert.ok(existsSync(join(dir, 'keystore')), 'the host key store is created under the data dir');
  } finally {
    assert.equal(await stop(child), 0);
  }
});

test('juki serve runs one node on the given SQLite file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-serve-'));
  const db = join(dir, 'sub', 'pref.sqlite');
  const { child, match } = await startJuki(['serve', '--role', 'prefecture', '--code', '13', '--db', db, '--port', '0', '--json'], /^\{.*"url"/);
  try {
    const info = JSON.parse(match.input!);
    assert.equal(info.node.id, 'prefecture-13');
    const nodes = (await (await fetch(`${info.url}/api/nodes`)).json()) as { id: string }[];
    assert.deepEqual(nodes.map((n) => n.id), ['prefecture-13']);
    assert.ok(existsSync(db));
  } finally {
    assert.equal(await stop(child), 0);
  }
});
