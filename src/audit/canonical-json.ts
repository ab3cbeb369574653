/**
 * Canonical JSON for audit details: object keys sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript JSON.stringify writes them (the rules of RFC 8785 JCS for
 * the values we accept). The same value always gives the same text, so its hash is stable.
 */
import { invalid } from '../util/index.ts';
import type { JsonValue } from './events.ts';

/** Encode `value` canonically; refuses what JSON cannot carry exactly (undefined, NaN, ±Infinity, -0, bigint, class instances, cycles). */
export function canonicalJson(value: unknown, field = 'details'): string {
  return encode(value, field, new Set());
}

function encode(value: unknown, path: string, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw invalid(path, `expected a finite number, got ${value}`);
      if (Object.is(value, -0)) return '0';
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw invalid(path, `expected a JSON value, got ${typeof value}`);
  }
  const obj = value as object;
  if (seen.has(obj)) throw invalid(path, 'expected a JSON value, got a cycle');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return '[' + obj.map((v, i) => encode(v, `${path}[${i}]`, seen)).join(',') + ']';
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) throw invalid(path, `expected a plain object, got ${proto?.constructor?.name ?? 'an object'}`);
    const keys = Object.keys(obj).sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + encode((obj as Record<string, unknown>)[k], `${path}.${k}`, seen)).join(',') + '}';
  } finally {
    seen.delete(obj);
  }
}

/** Parse stored details back into a value (for listing; verification hashes the stored text as is). */
export function parseDetails(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}
