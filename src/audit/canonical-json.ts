/**
 * Canonical JSON for audit details: object keys sorted by UTF-16 code units, no whitespace,
 * strings and numbers as ECMAScript JSON.stringify writes them (the rules of RFC 8785 JCS for
 * the values we accept). The same value always gives the same text, so its hash is stable.
 */
import { invalid } from '../util/index.ts';
import type { JsonValue } from './events.ts';

/** Encode `value` canonically; refuses what JSON cannot carry exactly (undefined, NaN, ±Infinity, -0, bigint, class instances, cycles). */
export function canonicalJson(value: unknown, field = 'details'): string {
  // The plain walk below takes the usual value as it is; anything it does not take (a refused
  // value, a cycle, a deep nesting) goes through the checked walk, which names the problem.
  return plain(value, 0) ?? encode(value, field, new Set());
}

/** The canonical text of `value`, or undefined when the checked walk must decide. */
function plain(value: unknown, depth: number): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) return undefined;
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'object':
      break;
    default:
      return undefined;
  }
  if (depth >= 32) return undefined;
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      const v = plain(value[i], depth + 1);
      if (v === undefined) return undefined;
      out += i === 0 ? v : ',' + v;
    }
    return out + ']';
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const keys = Object.keys(value).sort();
  out = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = plain((value as Record<string, unknown>)[keys[i]!], depth + 1);
    if (v === undefined) return undefined;
    out += (i === 0 ? '' : ',') + JSON.stringify(keys[i]) + ':' + v;
  }
  return out + '}';
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
