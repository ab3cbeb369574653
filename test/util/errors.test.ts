import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, JukiError } from '../../src/util/index.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\| `(JUKI_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!);

test('every error code in the catalogue is documented in docs/errors.md', () => {
  const missing = Object.keys(ERROR_CODES).filter((c) => !documented.includes(c));
  assert.deepEqual(missing, []);
});

test('every code documented in docs/errors.md exists in the catalogue', () => {
  const unknown = documented.filter((c) => !(c in ERROR_CODES));
  assert.deepEqual(unknown, []);
});

test('a JukiError serialises to code, message and details', () => {
  const e = new JukiError('JUKI_ERR_INVALID_INPUT', 'x: expected y', { field: 'x' });
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'JUKI_ERR_INVALID_INPUT', message: 'x: expected y', details: { field: 'x' } });
});
