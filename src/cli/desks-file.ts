/**
 * Agency desk terminals under `juki serve` (`--desks FILE`, docs/network.md "Agency card
 * reading under juki serve"): which `juki terminal` agent is the desk of which agency. The same
 * file goes to the agency (its desk: PIN steps on the pad, driven with the agency's certificate)
 * and to the national center (where to reach a desk terminal's relay with its own certificate,
 * and whose desk it is: an agency may only have the cards in its own desks read).
 *
 *   {
 *     "version": 1,
 *     "desks": [
 *       { "agency": "agency-passport", "terminal": "passport-desk-1", "url": "https://127.0.0.1:9501", "reader": "desk-1" }
 *     ]
 *   }
 *
 * `terminal` is the agent's `--id` (its certificate names node `terminal-<id>`, which both the
 * agency and the national center check when they connect); `reader` the name of its reader
 * (`juki terminal --reader virtual:desk-1`). An agency uses its first desk. Every mistake is
 * refused with the entry that has it.
 */
import { readFileSync } from 'node:fs';
import type { Topology } from '../net/index.ts';
import { JukiError } from '../util/index.ts';
import { agentUrl, TERMINAL_ID } from './terminals-file.ts';

export interface DeskEntry {
  /** The agency node, e.g. `agency-passport`. */
  readonly agency: string;
  /** The terminal's id (`juki terminal --id`); its node id is `terminal-<id>`. */
  readonly terminal: string;
  readonly url: string;
  readonly reader: string;
}

export interface DesksConfig {
  readonly file: string;
  readonly desks: readonly DeskEntry[];
}

function fail(file: string, field: string, what: string): JukiError {
  return new JukiError('JUKI_ERR_INVALID_INPUT', `desks file ${file}: ${field}: ${what}`, { field: `desks.${field}`, file });
}

const FIELDS = ['agency', 'terminal', 'url', 'reader'];

/** Check a desks file's content; with a topology, every agency must be one of its agency nodes. */
export function parseDesks(text: string, file = '(desks)', topology?: Topology): DesksConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw fail(file, '(file)', `not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(file, '(file)', 'expected an object {"version": 1, "desks": [...]}');
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'version' && k !== 'desks') throw fail(file, k, 'unexpected field (allowed: version, desks)');
  if (o['version'] !== 1) throw fail(file, 'version', `expected 1, got ${JSON.stringify(o['version'])}`);
  const list = o['desks'];
  if (!Array.isArray(list) || list.length === 0) throw fail(file, 'desks', 'expected a non-empty list of {"agency", "terminal", "url", "reader"}');
  if (list.length > 1024) throw fail(file, 'desks', `at most 1024 desks, got ${list.length}`);
  const seen = new Set<string>();
  const desks = list.map((d, i): DeskEntry => {
    const f = `desks[${i}]`;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw fail(file, f, 'expected an object {"agency", "terminal", "url", "reader"}');
    const e = d as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!FIELDS.includes(k)) throw fail(file, `${f}.${k}`, `unexpected field (allowed: ${FIELDS.join(', ')})`);
    const agency = e['agency'];
    if (typeof agency !== 'string' || !/^agency-[a-z0-9-]{1,32}$/.test(agency)) throw fail(file, `${f}.agency`, `expected an agency node id (agency-<code>), got ${JSON.stringify(agency)}`);
    if (topology && topology.node(agency)?.spec.role !== 'agency') throw fail(file, `${f}.agency`, `${agency} is not an agency of the network's topology`);
    const terminal = e['terminal'];
    if (typeof terminal !== 'string' || !TERMINAL_ID.test(terminal)) throw fail(file, `${f}.terminal`, `expected the terminal's id (1-32 letters, digits or '-', as juki terminal --id), got ${JSON.stringify(terminal)}`);
    if (seen.has(terminal)) throw fail(file, `${f}.terminal`, `terminal ${terminal} is listed twice`);
    seen.add(terminal);
    const url = agentUrl(e['url'], (what) => fail(file, `${f}.url`, what));
    const reader = e['reader'];
    if (typeof reader !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(reader) || reader.trim() !== reader) throw fail(file, `${f}.reader`, `expected the terminal's reader name (as juki terminal --reader virtual:NAME or pcsc:NAME), got ${JSON.stringify(reader)}`);
    return { agency, terminal, url, reader };
  });
  return { file, desks };
}

/** Read and check a desks file. */
export function loadDesks(path: string, topology?: Topology): DesksConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new JukiError('JUKI_ERR_FILE', `--desks: cannot read ${path}: ${(e as Error).message}`, { field: '--desks' });
  }
  return parseDesks(text, path, topology);
}
