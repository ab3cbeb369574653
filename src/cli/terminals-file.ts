/**
 * A municipality CS's terminals file (`juki serve --role municipality --terminals FILE`,
 * docs/counter.md "Card flows under juki serve"): which `juki terminal` agents this CS drives,
 * by terminal id and HTTPS address, and which one's reader re-keys deliveries.
 *
 *   {
 *     "version": 1,
 *     "terminals": [
 *       { "id": "131016-counter-1", "url": "https://127.0.0.1:8394" },
 *       { "id": "131016-stock", "url": "https://10.0.0.12:8394" }
 *     ],
 *     "rekeyTerminal": "131016-stock"          (optional; default: the first terminal)
 *   }
 *
 * The id is the agent's `--id` (its certificate names node `terminal-<id>`, which the CS
 * checks when it connects) and the `terminalId` the terminal is registered under at the
 * counter (POST /<cs>/terminals). Every mistake is refused with the entry that has it.
 */
import { readFileSync } from 'node:fs';
import { JukiError } from '../util/index.ts';

export interface TerminalEntry {
  readonly id: string;
  readonly url: string;
}

export interface TerminalsConfig {
  readonly file: string;
  readonly terminals: readonly TerminalEntry[];
  readonly rekeyTerminal: string;
}

/** The ids `juki terminal --id` takes. */
export const TERMINAL_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;

/** A terminal agent's address, `https://host:port` (mutual TLS, no path), normalised; `fail` makes the error naming the entry. */
export function agentUrl(value: unknown, fail: (what: string) => JukiError): string {
  let u: URL;
  try {
    if (typeof value !== 'string') throw new Error('not a string');
    u = new URL(value);
  } catch {
    throw fail(`expected https://host:port, got ${JSON.stringify(value)}`);
  }
  if (u.protocol !== 'https:' || !u.port || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw fail(`expected https://host:port (mutual TLS, no path), got ${JSON.stringify(value)}`);
  }
  return `https://${u.host}`;
}

function fail(file: string, field: string, what: string): JukiError {
  return new JukiError('JUKI_ERR_INVALID_INPUT', `terminals file ${file}: ${field}: ${what}`, { field: `terminals.${field}`, file });
}

/** Check a terminals file's content. */
export function parseTerminals(text: string, file = '(terminals)'): TerminalsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw fail(file, '(file)', `not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(file, '(file)', 'expected an object {"version": 1, "terminals": [...]}');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['version', 'terminals', 'rekeyTerminal'].includes(k)) throw fail(file, k, 'unexpected field (allowed: version, terminals, rekeyTerminal)');
  if (o['version'] !== 1) throw fail(file, 'version', `expected 1, got ${JSON.stringify(o['version'])}`);
  const list = o['terminals'];
  if (!Array.isArray(list) || list.length === 0) throw fail(file, 'terminals', 'expected a non-empty list of {"id", "url"}');
  if (list.length > 256) throw fail(file, 'terminals', `at most 256 terminals, got ${list.length}`);
  const seen = new Set<string>();
  const terminals = list.map((t, i): TerminalEntry => {
    const f = `terminals[${i}]`;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw fail(file, f, 'expected an object {"id", "url"}');
    const e = t as Record<string, unknown>;
    for (const k of Object.keys(e)) if (k !== 'id' && k !== 'url') throw fail(file, `${f}.${k}`, 'unexpected field (allowed: id, url)');
    const id = e['id'];
    if (typeof id !== 'string' || !TERMINAL_ID.test(id)) throw fail(file, `${f}.id`, `expected the terminal's id (1-32 letters, digits or '-', as juki terminal --id), got ${JSON.stringify(id)}`);
    if (seen.has(id)) throw fail(file, `${f}.id`, `terminal ${id} is listed twice`);
    seen.add(id);
    const url = agentUrl(e['url'], (what) => fail(file, `${f}.url`, what));
    return { id, url };
  });
  const rekey = o['rekeyTerminal'] ?? terminals[0]!.id;
  if (typeof rekey !== 'string' || !seen.has(rekey)) throw fail(file, 'rekeyTerminal', `expected the id of a listed terminal, got ${JSON.stringify(rekey)}`);
  return { file, terminals, rekeyTerminal: rekey };
}

/** Read and check a terminals file. */
export function loadTerminals(path: string): TerminalsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new JukiError('JUKI_ERR_FILE', `--terminals: cannot read ${path}: ${(e as Error).message}`, { field: '--terminals' });
  }
  return parseTerminals(text, path);
}
