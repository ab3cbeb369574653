import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReport, idsInName, parseCatalogue } from '../../src/cli/conformance.ts';

const root = join(import.meta.dirname, '..', '..');
const catalogueText = readFileSync(join(root, 'docs', 'requirements.md'), 'utf8');

function juki(args: string[]) {
  return spawnSync(process.execPath, [join(root, 'bin', 'juki.js'), ...args], { encoding: 'utf8' });
}

test('the catalogue in docs/requirements.md has every requirement ID of the standard (57)', () => {
  const ids = parseCatalogue(catalogueText).map((r) => r.id);
  assert.equal(ids.length, 57);
  assert.equal(new Set(ids).size, 57);
  for (const id of ['R2.1', 'R2.2.1a', 'R3.1.3i.a', 'R4.2.2', 'R6.3.3']) assert.ok(ids.includes(id), id);
});

test('test names claim IDs in brackets, with an optional side, several per bracket', () => {
  assert.deepEqual(idsInName('[R2.2.1e] VERIFY blocks'), [{ id: 'R2.2.1e', side: null }]);
  assert.deepEqual(idsInName('suite > [R5.1 card] no path'), [{ id: 'R5.1', side: 'card' }]);
  assert.deepEqual(idsInName('[R2.2.1e, R2.2.5] both'), [
    { id: 'R2.2.1e', side: null },
    { id: 'R2.2.5', side: null },
  ]);
  assert.deepEqual(idsInName('no id [array index] here'), []);
});

test('a requirement passes only if every test naming it passed in every run; skipped tests prove nothing', () => {
  const cat = parseCatalogue(catalogueText);
  const report = buildReport(cat, [
    [
      { name: '[R2.1] a', file: null, status: 'pass' },
      { name: '[R2.2.1a] b', file: null, status: 'pass' },
      { name: '[R2.2.1i] c', file: null, status: 'skipped' },
      { name: '[R9.9] typo', file: null, status: 'pass' },
    ],
    [{ name: '[R2.2.1a] b', file: null, status: 'fail' }],
  ]);
  const status = Object.fromEntries(report.requirements.map((r) => [r.id, r.status]));
  assert.equal(status['R2.1'], 'pass');
  assert.equal(status['R2.2.1a'], 'fail');
  assert.equal(status['R2.2.1i'], 'missing');
  assert.deepEqual(report.unknownIds, ['R9.9']);
  assert.equal(report.summary.pass + report.summary.fail + report.summary.missing, 57);
});

test('juki conformance --format json lists every requirement ID of the catalogue', () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-conf-'));
  const results = join(dir, 'r.json');
  writeFileSync(results, JSON.stringify({ tests: [{ name: '[R2.1] x', file: null, status: 'pass' }] }));
  const r = juki(['conformance', '--format', 'json', '--results', results]);
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(
    report.requirements.map((q: { id: string }) => q.id),
    parseCatalogue(catalogueText).map((q) => q.id),
  );
  assert.deepEqual(report.summary, { pass: 1, fail: 0, missing: 56 });
  for (const q of report.requirements) assert.ok(['pass', 'fail', 'missing'].includes(q.status));
});

test('juki conformance --format html and md render; bad format and missing results are one-line errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-conf-'));
  const results = join(dir, 'r.json');
  writeFileSync(results, JSON.stringify({ tests: [] }));
  const html = juki(['conformance', '--format', 'html', '--results', results]);
  assert.equal(html.status, 0);
  assert.match(html.stdout, /<table>/);
  assert.match(juki(['conformance', '--results', results]).stdout, /\| R6\.3\.3 \|/);
  const bad = juki(['conformance', '--format', 'xml']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /--format: expected md, json or html, got "xml"/);
  const missing = juki(['conformance', '--results', join(dir, 'nope.json')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no such file/);
});
