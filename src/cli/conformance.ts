/**
 * The conformance report: for every requirement ID in docs/requirements.md, the tests whose
 * names carry it (`[R2.2.1e] ...`, `[R5.1 card] ...`) and whether they passed.
 *
 * A requirement passes when it has at least one test and every test naming it passed in
 * every result file given (SQLite and PostgreSQL runs); fails when any failed; is missing
 * when no test names it (skipped tests prove nothing and count as missing).
 */
import { readFileSync } from 'node:fs';
import { JukiError } from '../util/index.ts';

export interface Requirement {
  readonly id: string;
  readonly clause: string;
  readonly text: string;
}

export interface TestResult {
  readonly name: string;
  readonly file: string | null;
  readonly status: 'pass' | 'fail' | 'skipped';
}

export type Status = 'pass' | 'fail' | 'missing';

export interface ConformanceReport {
  readonly requirements: { id: string; clause: string; text: string; tests: string[]; sides: string[]; status: Status }[];
  readonly summary: { pass: number; fail: number; missing: number };
  /** IDs named by tests that are not in the catalogue (typos, or a stale catalogue). */
  readonly unknownIds: string[];
}

/** Requirement rows of the catalogue: `| R2.2.1e | 第2の2(1)エ | requirement | what it must show |`. */
export function parseCatalogue(markdown: string): Requirement[] {
  const out: Requirement[] = [];
  for (const line of markdown.split('\n')) {
    const m = line.match(/^\|\s*(R[0-9][0-9a-z.]*)\s*\|\s*([^|]*)\|\s*([^|]*)\|/);
    if (m) out.push({ id: m[1]!, clause: m[2]!.trim(), text: m[3]!.trim() });
  }
  return out;
}

/**
 * The requirement IDs a test name claims, with the side if one is named:
 * `[R5.1 card] x` → [{id: 'R5.1', side: 'card'}]; `[R2.2.1e, R2.2.5] x` → two IDs.
 */
export function idsInName(name: string): { id: string; side: string | null }[] {
  const out: { id: string; side: string | null }[] = [];
  for (const bracket of name.matchAll(/\[([^\]]+)\]/g)) {
    for (const part of bracket[1]!.split(',')) {
      const m = part.trim().match(/^(R[0-9][0-9a-z.]*)(?:\s+([a-z][a-z-]*))?$/);
      if (m) out.push({ id: m[1]!, side: m[2] ?? null });
    }
  }
  return out;
}

export function readResults(path: string): TestResult[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (run the tests first, or pass --run)' : (e as Error).message;
    throw new JukiError('JUKI_ERR_FILE', `results: cannot read ${path}: ${why}`, { field: 'results' });
  }
  const tests = (parsed as { tests?: unknown }).tests;
  if (!Array.isArray(tests)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `results: ${path} has no "tests" array: not a juki test-results file`, { field: 'results' });
  return tests as TestResult[];
}

export function buildReport(catalogue: Requirement[], runs: TestResult[][]): ConformanceReport {
  const byId = new Map<string, { tests: Set<string>; sides: Set<string>; failed: boolean; passed: boolean }>();
  const known = new Set(catalogue.map((r) => r.id));
  const unknown = new Set<string>();
  for (const run of runs) {
    for (const t of run) {
      for (const { id, side } of idsInName(t.name)) {
        if (!known.has(id)) {
          unknown.add(id);
          continue;
        }
        const e = byId.get(id) ?? { tests: new Set(), sides: new Set(), failed: false, passed: false };
        if (t.status === 'skipped') {
          byId.set(id, e);
          continue;
        }
        e.tests.add(t.name);
        if (side) e.sides.add(side);
        if (t.status === 'fail') e.failed = true;
        if (t.status === 'pass') e.passed = true;
        byId.set(id, e);
      }
    }
  }
  const requirements = catalogue.map((r) => {
    const e = byId.get(r.id);
    const status: Status = !e || e.tests.size === 0 ? 'missing' : e.failed ? 'fail' : 'pass';
    return { ...r, tests: e ? [...e.tests].sort() : [], sides: e ? [...e.sides].sort() : [], status };
  });
  const count = (s: Status) => requirements.filter((r) => r.status === s).length;
  return { requirements, summary: { pass: count('pass'), fail: count('fail'), missing: count('missing') }, unknownIds: [...unknown].sort() };
}

export function summaryLine(r: ConformanceReport): string {
  const total = r.requirements.length;
  return `conformance: ${r.summary.pass} pass, ${r.summary.fail} fail, ${r.summary.missing} missing (of ${total} requirements)`;
}

export function toJson(r: ConformanceReport): string {
  return JSON.stringify(
    {
      requirements: r.requirements.map(({ id, tests, status, sides }) => ({ id, tests, status, sides })),
      summary: r.summary,
      ...(r.unknownIds.length ? { unknownIds: r.unknownIds } : {}),
    },
    null,
    2,
  );
}

export function toMarkdown(r: ConformanceReport): string {
  const mark = { pass: '✅ pass', fail: '❌ fail', missing: '⬜ missing' } as const;
  const lines = [
    '# Conformance report',
    '',
    summaryLine(r),
    '',
    '| ID | clause | status | tests |',
    '|---|---|---|---|',
    ...r.requirements.map((q) => `| ${q.id} | ${q.clause} | ${mark[q.status]} | ${q.tests.length ? q.tests.map((t) => escapeMd(t)).join('<br>') : '—'} |`),
  ];
  if (r.unknownIds.length) lines.push('', `Tests name IDs not in the catalogue: ${r.unknownIds.join(', ')}`);
  return lines.join('\n') + '\n';
}

export function toHtml(r: ConformanceReport): string {
  const rows = r.requirements
    .map(
      (q) =>
        `<tr class="${q.status}"><td>${esc(q.id)}</td><td>${esc(q.clause)}</td><td>${esc(q.text)}</td><td>${q.status}</td><td>${
          q.tests.length ? `<ul>${q.tests.map((t) => `<li>${esc(t)}</li>`).join('')}</ul>` : '—'
        }</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>juki conformance report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}
tr.pass td:nth-child(4){background:#d7f5d7}tr.fail td:nth-child(4){background:#f7d0d0}tr.missing td:nth-child(4){background:#eee}ul{margin:0;padding-left:1.2em}</style>
</head><body><h1>Conformance report</h1><p>${esc(summaryLine(r))}</p>
<table><thead><tr><th>ID</th><th>clause</th><th>requirement</th><th>status</th><th>tests</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function escapeMd(s: string): string {
  return s.replace(/\|/g, '\\|');
}
