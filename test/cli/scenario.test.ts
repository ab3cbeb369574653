/**
 * `juki scenario` as a user runs it: `node bin/juki.js scenario` in a child process, the whole
 * story on a fresh in-process network; exit 0 with every step passed, and exit 1 naming the
 * step when a component misbehaves (the hidden --inject-fault option).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { juki } from '../helpers/cli.ts';

const STEPS = [
  'setup: register and delivery', 'issuance', 'card flag for another municipality', 'agency verification', 'lost report', 'notices',
  'refusal at the agency', 'reissue', 'move to Osaka with card return',
];

test('[R4.2.1] [R4.2.2] [R3.2.1i network] [R3.2.1ka] juki scenario runs the whole story with the real components and exits 0, every step passed', () => {
  const keep = join(mkdtempSync(join(tmpdir(), 'juki-scenario-test-')), 'data');
  try {
    const r = juki(['scenario', '--json', '--keep', keep]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ok: boolean; dataDir: string; steps: { name: string; ids: string[]; ok: boolean; detail: string }[] };
    assert.equal(report.ok, true);
    assert.deepEqual(report.steps.map((s) => s.name), STEPS);
    assert.ok(report.steps.every((s) => s.ok && s.ids.length > 0));
    assert.deepEqual(report.steps.find((s) => s.name === 'agency verification')!.ids, ['R4.2.1', 'R4.2.2']);
    // --keep kept the network: a database per node and the PKI.
    const files = readdirSync(keep);
    for (const n of ['national', 'prefecture-13', 'prefecture-27', 'municipality-131016', 'municipality-271004', 'agency-passport', 'agency-pension']) {
      assert.ok(files.includes(`${n}.sqlite`), `${n}.sqlite kept`);
    }
    assert.ok(existsSync(join(keep, 'pki', 'ca.crt')));
  } finally {
    rmSync(join(keep, '..'), { recursive: true, force: true });
  }
});

test('juki scenario prints one line per step with its requirement IDs', () => {
  const r = juki(['scenario']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, STEPS.length + 1);
  assert.match(lines[1]!, /^✔ \[R3\.1\.2a R3\.1\.2e R3\.1\.2ka R3\.2\.1u R3\.2\.1e\] issuance: card 131016-[0-9A-F]+ .*active/);
  assert.match(lines[3]!, /^✔ \[R4\.2\.1 R4\.2\.2\] agency verification: /);
  assert.match(lines.at(-1)!, /^scenario passed: 9 steps$/);
});

test('[R4.2.2] juki scenario fails, naming the step, when the agency skips its notice list', () => {
  const r = juki(['scenario', '--inject-fault', 'agency-skips-notice-list']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /✘ \[R4\.2\.2\] refusal at the agency: agency-passport did not refuse by its own notice list/);
  assert.match(r.stdout, /scenario FAILED at step "refusal at the agency"/);
  assert.ok(!r.stdout.includes('✔ [R3.1.2i'), 'the story stopped at the failed step');
  const j = juki(['scenario', '--json', '--inject-fault', 'agency-skips-notice-list']);
  assert.equal(j.status, 1);
  const report = JSON.parse(j.stdout.trim());
  assert.equal(report.ok, false);
  assert.equal(report.steps.at(-1).name, 'refusal at the agency');
  assert.equal(report.steps.at(-1).ok, false);
});

test('juki scenario refuses a --keep folder that is not empty and an unknown fault (usage, exit 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'juki-scenario-busy-'));
  try {
    juki(['scenario', '--keep', join(dir, 'x')]);
    const r = juki(['scenario', '--keep', dir]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /--keep: .* is not empty/);
    const f = juki(['scenario', '--inject-fault', 'nope']);
    assert.equal(f.status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
