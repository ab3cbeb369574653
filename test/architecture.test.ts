/**
 * Imports flow one way, from the edges to the core (ARCHITECTURE.md, "Where the code lives").
 * Each src/<concern>/index.ts is that concern's only public surface: an import from another
 * concern must name its index.ts, and only edges listed here are allowed (deny by default).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

/** concern -> the concerns it may import. */
export const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  crypto: ['util'],
  card: ['crypto', 'util'],
  db: ['util'],
  audit: ['db', 'crypto', 'util'],
  register: ['db', 'audit', 'util'],
  reader: ['card', 'crypto', 'util'],
  terminal: ['reader', 'crypto', 'util'],
  face: ['register', 'crypto', 'util'],
  jpki: ['db', 'audit', 'crypto', 'reader', 'util'],
  net: ['db', 'audit', 'register', 'crypto', 'util'],
  cs: ['db', 'audit', 'register', 'reader', 'terminal', 'crypto', 'jpki', 'face', 'net', 'util'],
  agency: ['db', 'audit', 'reader', 'terminal', 'crypto', 'net', 'util'],
  bureau: ['db', 'audit', 'reader', 'terminal', 'crypto', 'face', 'cs', 'util'],
  web: ['db', 'audit', 'register', 'cs', 'net', 'agency', 'bureau', 'jpki', 'face', 'util'],
  cli: ['*'],
};

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const re = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

export function violations(): string[] {
  const found: string[] = [];
  for (const file of walk(src)) {
    const from = relative(src, file).split(sep)[0]!;
    const allowed = ALLOWED[from];
    if (!allowed) {
      found.push(`${relative(root, file)}: concern '${from}' is not in the dependency table`);
      continue;
    }
    for (const spec of importsOf(file)) {
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(src + sep)) {
        found.push(`${relative(root, file)}: imports outside src: ${spec}`);
        continue;
      }
      const rel = relative(src, target).split(sep);
      const to = rel[0]!;
      if (to === from) continue;
      if (!allowed.includes('*') && !allowed.includes(to)) found.push(`${relative(root, file)}: '${from}' may not import '${to}' (${spec})`);
      if (!(rel.length === 2 && rel[1] === 'index.ts')) found.push(`${relative(root, file)}: deep import past ${to}/index.ts (${spec})`);
    }
  }
  return found;
}

test('[R2.1] hosts reach the card only through reader/ (APDUs): no server concern imports card/', () => {
  const intoCard = Object.entries(ALLOWED)
    .filter(([from, deps]) => deps.includes('card') && from !== 'reader')
    .map(([from]) => from);
  assert.deepEqual(intoCard, [], 'only reader/ may depend on card/');
  const bad = violations().filter((v) => v.includes("'card'") || v.includes('card/index.ts') || v.startsWith('src/card/'));
  assert.deepEqual(bad, []);
});

test('imports follow the dependency table and go through each concern\'s index.ts', () => {
  assert.deepEqual(violations(), []);
});

test('every folder under src/ is a concern with an index.ts', () => {
  for (const name of readdirSync(src)) {
    if (!statSync(join(src, name)).isDirectory()) continue;
    assert.ok(ALLOWED[name], `src/${name} is missing from the dependency table`);
    assert.ok(statSync(join(src, name, 'index.ts')).isFile(), `src/${name}/index.ts is missing`);
  }
});
