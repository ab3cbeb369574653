// A node:test reporter that writes every test's full name, file and outcome as JSON, for
// the conformance report and CI's test-count floor. Suites are not counted as tests.
import { relative } from 'node:path';
export default async function* jsonReporter(source) {
  const tests = [];
  const stack = [];
  for await (const event of source) {
    const d = event.data;
    if (event.type === 'test:start') {
      stack[d.nesting] = d.name;
      stack.length = d.nesting + 1;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (d.details?.type === 'suite') continue;
    const path = stack.slice(0, d.nesting).concat(d.name);
    const status = d.skip || d.todo ? 'skipped' : event.type === 'test:pass' ? 'pass' : 'fail';
    const entry = { name: path.join(' > '), file: d.file ? relative(process.cwd(), d.file) : null, status, ms: Math.round(d.details?.duration_ms ?? 0) };
    if (status === 'fail') entry.error = String(d.details?.error?.cause?.message ?? d.details?.error?.message ?? '');
    tests.push(entry);
  }
  const summary = {
    passed: tests.filter((t) => t.status === 'pass').length,
    failed: tests.filter((t) => t.status === 'fail').length,
    skipped: tests.filter((t) => t.status === 'skipped').length,
  };
  yield JSON.stringify({ generatedAt: new Date().toISOString(), summary, tests }, null, 1) + '\n';
}
