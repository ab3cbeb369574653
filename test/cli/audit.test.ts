/** `juki audit verify|list|checkpoint` as a user runs them: a child process on a SQLite file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { openDatabase } from '../../src/db/index.ts';
import { AuditLog } from '../../src/audit/index.ts';
import { tempSqlitePath } from '../helpers/db.ts';
import { juki } from '../helpers/cli.ts';
import { appendSamples } from '../audit/fixtures.ts';

const NODE = 'municipality-131016';

async function fileWithEntries(n: number, path = tempSqlitePath('audit')): Promise<string> {
  const database = await openDatabase(path);
  try {
    await appendSamples(new AuditLog(database, NODE), n);
  } finally {
    await database.close();
  }
  return path;
}

function edit(path: string, statement: string, ...params: unknown[]): void {
  const db = new SQLite(path);
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

test('juki audit verify exits 0 on an intact chain and records the verification', async () => {
  const path = await fileWithEntries(5);
  const r = juki(['audit', 'verify', '--db', path]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /municipality-131016: ok, 5 entries verified/);
  const list = juki(['audit', 'list', '--db', path, '--limit', '1', '--json']);
  assert.equal(list.status, 0, list.stderr);
  const [last] = JSON.parse(list.stdout) as { seq: number; type: string; outcome: string }[];
  assert.deepEqual([last!.seq, last!.type, last!.outcome], [6, 'audit.verified', 'success']);
  // The recorded verification is itself part of an intact chain.
  assert.equal(juki(['audit', 'verify', '--db', path, '--read-only']).status, 0);
});

test('juki audit verify exits 1 naming the first broken seq when a row was edited behind its back', async () => {
  const path = await fileWithEntries(6);
  edit(path, 'UPDATE audit_entries SET actor = ? WHERE node_id = ? AND seq = ?', 'staff:S0666', NODE, 4);
  const r = juki(['audit', 'verify', '--db', path]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^juki: audit chain of municipality-131016 broken at seq 4 \(edited\)/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stdout, /BROKEN at seq 4/);

  const j = juki(['audit', 'verify', '--db', path, '--json', '--read-only']);
  assert.equal(j.status, 1);
  const report = JSON.parse(j.stdout) as { ok: boolean; results: { node: string; broken: { seq: number; problem: string; message: string } }[] };
  assert.equal(report.ok, false);
  assert.deepEqual(report.results[0]!.broken, { seq: 4, problem: 'edited', message: report.results[0]!.broken.message });
});

test('juki audit verify exits 1 on a deleted row', async () => {
  const path = await fileWithEntries(4);
  edit(path, 'DELETE FROM audit_entries WHERE node_id = ? AND seq = ?', NODE, 2);
  const r = juki(['audit', 'verify', '--db', path, '--node', NODE, '--read-only']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /broken at seq 2 \(deleted\)/);
});

test('juki audit checkpoint, then verify --checkpoints catches a chain rewritten end to end', async () => {
  const path = await fileWithEntries(3);
  const cp = juki(['audit', 'checkpoint', '--db', path]);
  assert.equal(cp.status, 0, cp.stderr);
  const held = join(mkdtempSync(join(tmpdir(), 'juki-cp-')), 'checkpoints.json');
  writeFileSync(held, cp.stdout);
  assert.equal(juki(['audit', 'verify', '--db', path, '--checkpoints', held, '--read-only']).status, 0);
  // Rewind the whole log to empty: nothing left to contradict itself, but the peer holds seq 3.
  edit(path, 'DELETE FROM audit_entries');
  edit(path, 'DELETE FROM audit_heads');
  assert.equal(juki(['audit', 'verify', '--db', path, '--node', NODE, '--read-only']).status, 0);
  const r = juki(['audit', 'verify', '--db', path, '--node', NODE, '--checkpoints', held, '--read-only']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /broken at seq 1 \(deleted\)/);
});

test('juki audit verify --node finds the node\'s database in $JUKI_DATA_DIR; a missing one is refused, not created', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-data-'));
  await fileWithEntries(2, join(dir, `${NODE}.sqlite`));
  const r = juki(['audit', 'verify', '--node', NODE, '--read-only'], { JUKI_DATA_DIR: dir });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok, 2 entries verified/);
  const missing = juki(['audit', 'verify', '--node', 'prefecture-13'], { JUKI_DATA_DIR: dir });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no SQLite file at .*prefecture-13\.sqlite/);
  const none = juki(['audit', 'verify']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /give --db LOCATION, or --node ID/);
});

test('juki audit list prints the latest entries, one line each', async () => {
  const path = await fileWithEntries(3);
  const r = juki(['audit', 'list', '--db', path, '--limit', '2']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^municipality-131016#2 {2}\S+Z {2}resident\.moved {2}success {2}staff:S0042 {2}resident:20000000001 {2}\{/);
  assert.match(lines[1]!, /#3 .* refused\/JUKI_ERR_RESIDENT_NOT_REGISTERED {2}system/);
  assert.equal(juki(['audit', 'list', '--db', path, '--limit', '0']).status, 1);
});
