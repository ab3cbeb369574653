/** `juki conformance`: which requirement IDs have passing tests. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JukiError, projectRoot } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { buildReport, parseCatalogue, readResults, summaryLine, toHtml, toJson, toMarkdown } from '../conformance.ts';

export const conformanceCommand: Command = {
  path: ['conformance'],
  summary: 'Report, for every requirement ID, the tests that prove it and whether they passed',
  usage: '[--format md|json|html] [--results FILE]... [--run] [--summary-only]',
  options: {
    format: { type: 'string', default: 'md' },
    results: { type: 'string', multiple: true },
    run: { type: 'boolean', default: false },
    'summary-only': { type: 'boolean', default: false },
    catalogue: { type: 'string' },
  },
  help: `
Reads the requirement catalogue (docs/requirements.md) and test results written by the
test runner (reports/test-results.json by default), and prints the report on stdout.

Options:
  --format md|json|html  output format (default md). JSON shape:
                         {"requirements":[{"id","tests":[...],"status":"pass|fail|missing"}],
                          "summary":{"pass":N,"fail":N,"missing":N}}
  --results FILE         a test-results file; repeat to combine runs (e.g. SQLite and
                         PostgreSQL): a requirement passes only if its tests passed in all
  --run                  run the test suite first (npm test) and report on its results
  --summary-only         print only the summary line
  --catalogue FILE       another requirement catalogue (default docs/requirements.md)

A requirement passes when every test naming its ID ("[R2.2.1e] ...") passed, fails when any
failed, and is missing when no test names it. The exit code is 0 whenever a report was made.`,
  async run({ values, stdout, stderr }) {
    const format = values.format as string;
    if (!['md', 'json', 'html'].includes(format)) {
      throw new JukiError('JUKI_ERR_USAGE', `--format: expected md, json or html, got ${JSON.stringify(format)}`);
    }
    const resultFiles = (values.results as string[] | undefined) ?? [join(projectRoot, 'reports', 'test-results.json')];
    if (values.run) {
      stderr.write('conformance: running the test suite (npm test)...\n');
      const r = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'run-tests.js')], {
        cwd: projectRoot,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, JUKI_TEST_RESULTS: resultFiles[0] },
      });
      if (r.status !== 0) stderr.write('conformance: some tests failed; reporting anyway\n');
    }
    const cataloguePath = (values.catalogue as string | undefined) ?? join(projectRoot, 'docs', 'requirements.md');
    let catalogueText: string;
    try {
      catalogueText = readFileSync(cataloguePath, 'utf8');
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `catalogue: cannot read ${cataloguePath}: ${(e as Error).message}`);
    }
    const catalogue = parseCatalogue(catalogueText);
    if (catalogue.length === 0) throw new JukiError('JUKI_ERR_INVALID_INPUT', `catalogue: ${cataloguePath} holds no requirement rows`);
    const report = buildReport(catalogue, resultFiles.map(readResults));
    if (values['summary-only']) out(stdout, summaryLine(report));
    else if (format === 'json') out(stdout, toJson(report));
    else if (format === 'html') stdout.write(toHtml(report));
    else stdout.write(toMarkdown(report));
    return 0;
  },
};
