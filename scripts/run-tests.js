#!/usr/bin/env node
// Runs the test suite with node:test. Node 20's `node --test` takes no glob and quietly runs
// nothing when given no files, so the files are listed here and an empty list is an error.
//
//   node scripts/run-tests.js                 every test file, on SQLite
//   node scripts/run-tests.js --storage       only the storage-facing files (those that open
//                                             a database through test/helpers/db.ts); with
//                                             JUKI_TEST_DB=postgres://... they run on PostgreSQL
//   node scripts/run-tests.js test/card       only files under these paths
//
// Results go to the console (spec reporter) and to reports/test-results.json, which
// `juki conformance` reads. The last line is "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, mkdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const storageOnly = args.includes('--storage');
const roots = args.filter((a) => !a.startsWith('--'));
const resultsFile = process.env.JUKI_TEST_RESULTS ?? join(root, 'reports', 'test-results.json');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = [];
for (const r of roots.length ? roots : ['test']) {
  const p = join(root, r);
  if (!existsSync(p)) {
    console.error(`run-tests: no such path: ${r}`);
    process.exit(2);
  }
  files.push(...(statSync(p).isDirectory() ? walk(p) : [p]));
}
if (storageOnly) files = files.filter((f) => readFileSync(f, 'utf8').includes('openTestDb('));
if (files.length === 0) {
  console.error('run-tests: found no test files: refusing to report an empty run as a pass');
  process.exit(2);
}

mkdirSync(join(resultsFile, '..'), { recursive: true });
const concurrency = process.env.JUKI_TEST_CONCURRENCY ?? '2';
// A hung test file fails after this long (15 min; each file is one test to the runner)
// instead of holding CI until its limit.
const timeoutMs = process.env.JUKI_TEST_TIMEOUT_MS ?? '900000';
const nodeArgs = [
  '--import', 'tsx',
  '--test',
  `--test-concurrency=${concurrency}`,
  `--test-timeout=${timeoutMs}`,
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${join(root, 'scripts', 'json-reporter.js')}`, `--test-reporter-destination=${resultsFile}`,
  ...files.map((f) => relative(root, f)),
];
const run = spawnSync(process.execPath, nodeArgs, { cwd: root, stdio: 'inherit', env: process.env });

let summary;
try {
  summary = JSON.parse(readFileSync(resultsFile, 'utf8')).summary;
} catch (e) {
  console.error(`run-tests: could not read ${resultsFile}: ${e.message}`);
  process.exit(1);
}
console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
if (summary.passed + summary.failed === 0) {
  console.error('run-tests: no test ran');
  process.exit(1);
}
process.exit(run.status === 0 && summary.failed === 0 ? 0 : 1);
