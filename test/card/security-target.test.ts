/** [R2.3] docs/security-target.md stays true: every test it names exists. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

function testSources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return testSources(p);
    return f.endsWith('.test.ts') ? [readFileSync(p, 'utf8')] : [];
  });
}

/** The test names in the "Objectives → mechanisms → tests" table: the backticked strings of its last column. */
function namedTests(doc: string): string[] {
  const section = doc.split(/^## /m).find((s) => s.startsWith('7. Objectives'));
  assert.ok(section, 'the objectives → mechanisms → tests section exists');
  const rows = section.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| objective') && !l.startsWith('|---'));
  assert.ok(rows.length >= 10, `expected a row per objective, got ${rows.length}`);
  return rows.flatMap((row) => {
    const cells = row.split(/(?<!\\)\|/).map((c) => c.trim()).filter(Boolean);
    const names = [...cells[cells.length - 1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    assert.ok(names.length > 0, `row without a test: ${row.slice(0, 80)}`);
    return names;
  });
}

test('[R2.3] the security target names only tests that exist', () => {
  const doc = readFileSync(join(root, 'docs', 'security-target.md'), 'utf8');
  // test names as written in the sources, with \' unescaped
  const sources = testSources(join(root, 'test')).join('\n').replace(/\\'/g, "'");
  const names = namedTests(doc);
  const missing = names.filter((n) => {
    const fixed = n.endsWith('…') ? n.slice(0, -1) : n; // a family of generated tests: its fixed start
    return !sources.includes(fixed);
  });
  assert.deepEqual(missing, [], 'every test named in docs/security-target.md exists in test/');
  // and the objectives of §6 all appear in §7
  const objectives = [...doc.matchAll(/^\| \*?\*?(O\.[A-Z_]+)/gm)].map((m) => m[1]!);
  const section7 = doc.slice(doc.indexOf('## 7.'));
  for (const o of new Set(objectives)) assert.ok(section7.includes(`| ${o}`), `${o} has a mechanism and tests`);
});
