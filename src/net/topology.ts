/**
 * The shape of a Juki-net: which nodes exist and where they listen, from the real lists
 * (data/prefectures.csv, data/municipalities.csv). Any subset of Japan is a valid network as
 * long as it has one national center, and every municipality's prefecture server is in it.
 *
 * Topology file (JSON):
 *
 *   {
 *     "version": 1,
 *     "nodes": [
 *       { "role": "national",     "address": "https://national.example:8393" },
 *       { "role": "prefecture",   "code": "13", "address": "https://10.0.13.1:8393" },
 *       { "role": "municipality", "code": "131016" },
 *       { "role": "agency",       "code": "passport" },
 *       { "role": "jpki" }
 *     ]
 *   }
 *
 * `address` (optional) is where the node's HTTPS message endpoint listens; the host also goes
 * into the node's certificate. Nodes without one are reachable in-process or over NATS only.
 */
import { readFileSync } from 'node:fs';
import { municipalities } from '../register/index.ts';
import { JukiError, dataFile } from '../util/index.ts';
import { nodeId, type NodeSpec, type Role } from './roles.ts';

export interface Prefecture {
  /** Two digits, `01`-`47`. */
  readonly code: string;
  readonly name: string;
  readonly nameEn: string;
}

export interface TopologyNode {
  readonly id: string;
  readonly spec: NodeSpec;
  /** `https://host:port` of its message endpoint, if it has one. */
  readonly address?: string;
}

export interface Topology {
  readonly nodes: readonly TopologyNode[];
  node(id: string): TopologyNode | undefined;
  /** The prefecture node of a municipality code. */
  prefectureOf(municipalityCode: string): string;
  /** Every agency node id, sorted. */
  readonly agencies: readonly string[];
  readonly national: string;
}

/** The roles a topology may list: the nodes that exchange Juki-net messages. */
export const NETWORK_ROLES: readonly Role[] = ['national', 'prefecture', 'municipality', 'agency', 'jpki'];

let prefectureCache: ReadonlyMap<string, Prefecture> | undefined;

/** The 47 prefectures of data/prefectures.csv, by two-digit code. */
export function prefectures(): ReadonlyMap<string, Prefecture> {
  if (prefectureCache) return prefectureCache;
  const lines = readFileSync(dataFile('prefectures.csv'), 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (header !== 'lgcode,prefecture_id,name,name_kana,name_en,iso3166_2,capital') throw new JukiError('JUKI_ERR_FILE', `prefecture list: unexpected header ${JSON.stringify(header)}`);
  prefectureCache = new Map(lines.map((line, i) => {
    const cells = line.split(',');
    if (cells.length !== 7) throw new JukiError('JUKI_ERR_FILE', `prefecture list: line ${i + 2}: expected 7 fields, got ${cells.length}`);
    const code = cells[1]!.padStart(2, '0');
    return [code, { code, name: cells[2]!, nameEn: cells[4]! }];
  }));
  return prefectureCache;
}

/** A topology file as JSON. */
export interface TopologyFile {
  readonly version: 1;
  readonly nodes: readonly { readonly role: string; readonly code?: string; readonly address?: string }[];
}

/** The embedded default (`juki up`): the national center, Tokyo, Chiyoda and Chuo, the passport agency, the JPKI CA. */
export const DEFAULT_TOPOLOGY: TopologyFile = {
  version: 1,
  nodes: [
    { role: 'national' },
    { role: 'prefecture', code: '13' },
    { role: 'municipality', code: '131016' },
    { role: 'municipality', code: '131024' },
    { role: 'agency', code: 'passport' },
    { role: 'jpki' },
  ],
};

function fail(field: string, what: string): JukiError {
  return new JukiError('JUKI_ERR_NET_TOPOLOGY', `${field}: ${what}`, { field });
}

function checkAddress(value: unknown, field: string): string {
  if (typeof value !== 'string') throw fail(field, `expected an https://host:port URL, got ${typeof value}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw fail(field, `expected an https://host:port URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:') throw fail(field, `expected an https:// URL (every connection is mutual TLS), got ${JSON.stringify(value)}`);
  if (!url.port) throw fail(field, `expected an explicit port, got ${JSON.stringify(value)}`);
  if (url.pathname !== '/' || url.search || url.hash || url.username) throw fail(field, `expected only scheme, host and port, got ${JSON.stringify(value)}`);
  return `https://${url.host}`;
}

/**
 * Check a topology file and build the network from it. Refuses with JUKI_ERR_NET_TOPOLOGY
 * naming the entry: `topology.nodes[2].code: municipality 131017 is not in the municipality list`.
 */
export function parseTopology(input: unknown, field = 'topology'): Topology {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw fail(field, 'expected an object {"version": 1, "nodes": [...]}');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'version' && k !== 'nodes') throw fail(`${field}.${k}`, 'unexpected field (expected version, nodes)');
  if (o.version !== 1) throw fail(`${field}.version`, `expected 1, got ${JSON.stringify(o.version)}`);
  if (!Array.isArray(o.nodes) || o.nodes.length === 0) throw fail(`${field}.nodes`, 'expected a non-empty array of nodes');
  const nodes: TopologyNode[] = [];
  const ids = new Map<string, number>();
  const addresses = new Map<string, number>();
  o.nodes.forEach((n: unknown, i: number) => {
    const f = `${field}.nodes[${i}]`;
    if (n === null || typeof n !== 'object' || Array.isArray(n)) throw fail(f, 'expected an object {"role", "code"?, "address"?}');
    const e = n as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!['role', 'code', 'address'].includes(k)) throw fail(`${f}.${k}`, 'unexpected field (expected role, code, address)');
    const role = e.role;
    if (typeof role !== 'string' || !NETWORK_ROLES.includes(role as Role)) throw fail(`${f}.role`, `expected one of ${NETWORK_ROLES.join(', ')}, got ${JSON.stringify(role)}`);
    const code = e.code;
    let spec: NodeSpec;
    if (role === 'national' || role === 'jpki') {
      if (code !== undefined) throw fail(`${f}.code`, `the ${role} node takes no code, got ${JSON.stringify(code)}`);
      spec = { role };
    } else {
      if (typeof code !== 'string') throw fail(`${f}.code`, `the ${role} node needs a code, got ${code === undefined ? 'none' : JSON.stringify(code)}`);
      if (role === 'prefecture' && !prefectures().has(code)) throw fail(`${f}.code`, `expected a two-digit prefecture code 01-47 from the prefecture list, got ${JSON.stringify(code)}`);
      if (role === 'municipality') {
        if (!/^\d{6}$/.test(code)) throw fail(`${f}.code`, `expected a 6-digit municipality code, got ${JSON.stringify(code)}`);
        if (!municipalities().has(code)) throw fail(`${f}.code`, `municipality ${code} is not in the municipality list`);
      }
      if (role === 'agency' && !/^[a-z0-9][a-z0-9-]{0,31}$/.test(code)) throw fail(`${f}.code`, `expected an agency id (1-32 lower-case letters, digits or -), got ${JSON.stringify(code)}`);
      spec = { role: role as Role, code };
    }
    const id = nodeId(spec);
    if (ids.has(id)) throw fail(`${f}`, `${id} is listed twice (also nodes[${ids.get(id)}])`);
    ids.set(id, i);
    let address: string | undefined;
    if (e.address !== undefined) {
      address = checkAddress(e.address, `${f}.address`);
      if (addresses.has(address)) throw fail(`${f}.address`, `${address} is also the address of nodes[${addresses.get(address)}]`);
      addresses.set(address, i);
    }
    nodes.push(Object.freeze({ id, spec, ...(address ? { address } : {}) }));
  });
  if (!ids.has('national')) throw fail(`${field}.nodes`, 'no national center: a network needs exactly one {"role": "national"}');
  nodes.forEach((n, i) => {
    if (n.spec.role !== 'municipality') return;
    const pref = n.spec.code!.slice(0, 2);
    if (!ids.has(`prefecture-${pref}`)) {
      throw fail(`${field}.nodes[${i}]`, `municipality ${n.spec.code} needs its prefecture server, but {"role": "prefecture", "code": "${pref}"} is not listed`);
    }
  });
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return {
    nodes,
    node: (id) => byId.get(id),
    prefectureOf: (code) => {
      const id = `prefecture-${code.slice(0, 2)}`;
      if (!byId.has(id)) throw fail('municipality', `no prefecture server for ${code} in this topology`);
      return id;
    },
    agencies: nodes.filter((n) => n.spec.role === 'agency').map((n) => n.id).sort(),
    national: 'national',
  };
}

/** Read and check a topology file. */
export function loadTopology(path: string): Topology {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new JukiError('JUKI_ERR_FILE', `topology: cannot read ${path}: ${(e as Error).message}`, { field: 'topology' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new JukiError('JUKI_ERR_NET_TOPOLOGY', `topology: ${path} is not JSON: ${(e as Error).message}`, { field: 'topology' });
  }
  return parseTopology(json, 'topology');
}

export interface SubsetOptions {
  /** Prefecture codes to include (default all 47). */
  readonly prefectures?: readonly string[];
  /** At most this many municipalities per prefecture, first by code (default all). */
  readonly municipalitiesPerPrefecture?: number;
  readonly agencies?: readonly string[];
  readonly jpki?: boolean;
}

/**
 * A topology file for a subset of the real lists (or the whole country): one prefecture server
 * per prefecture, one CS per municipality (the 1,741; wards of designated cities are served by
 * their city's CS here, though a file may list a ward as a node of its own).
 */
export function subsetTopology(options: SubsetOptions = {}): TopologyFile {
  const prefs = options.prefectures ?? [...prefectures().keys()].sort();
  const nodes: { role: string; code?: string }[] = [{ role: 'national' }];
  for (const p of prefs) {
    if (!prefectures().has(p)) throw fail('prefectures', `expected prefecture codes 01-47, got ${JSON.stringify(p)}`);
    nodes.push({ role: 'prefecture', code: p });
    const ms = [...municipalities().values()].filter((m) => m.prefectureCode === p && !m.name.includes(' ')).map((m) => m.code as string).sort();
    for (const m of ms.slice(0, options.municipalitiesPerPrefecture ?? ms.length)) nodes.push({ role: 'municipality', code: m });
  }
  for (const a of options.agencies ?? []) nodes.push({ role: 'agency', code: a });
  if (options.jpki ?? true) nodes.push({ role: 'jpki' });
  return { version: 1, nodes };
}
