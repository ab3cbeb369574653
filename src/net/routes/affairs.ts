/**
 * The catalogue of statutory affairs (data/affairs.json) and the access decision for
 * identity-record requests (R4.1.1-R4.1.4, 技術的基準 第4の1):
 *
 *   requesting body     allowed when
 *   municipality        the affair is catalogued for municipalities, and the person is its own
 *                       resident or the affair allows non-residents (第4の1(1))
 *   prefecture          the affair is catalogued for prefectures (第4の1(2)); `own-prefecture`
 *                       affairs only for residents of its municipalities
 *   agency              the affair is catalogued for that agency id (第4の1(3))
 *   anyone else         never (第4の1(4)): no certificate, or a node of any other role
 *
 * Deny by default: an affair not in the catalogue, or a body it does not name, is refused.
 */
import { readFileSync } from 'node:fs';
import { JukiError, dataFile } from '../../util/index.ts';
import type { NodeSpec, Role } from '../roles.ts';

export interface AffairBody {
  readonly role: 'municipality' | 'prefecture' | 'agency';
  /** For agencies: the agency ids (node codes) that carry out this affair. */
  readonly agencies?: readonly string[];
}

export interface Affair {
  readonly id: string;
  readonly title: string;
  readonly titleEn: string;
  readonly bodies: readonly AffairBody[];
  /** Whether a municipality may use it for people who are not its residents (第4の1(1)). */
  readonly nonResidents: boolean;
  /** `own-prefecture`: a prefecture only for residents of its own municipalities. */
  readonly scope?: 'own-prefecture';
  /** The legal basis: the article of the Act, or the appended table (別表) row. */
  readonly basis: string;
}

export interface AffairCatalogue {
  readonly source: string;
  readonly affairs: ReadonlyMap<string, Affair>;
}

const BODY_ROLES = ['municipality', 'prefecture', 'agency'] as const;

function fail(field: string, what: string): JukiError {
  return new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: ${what}`, { field });
}

/** Check a catalogue (the JSON of data/affairs.json). */
export function parseAffairCatalogue(input: unknown, field = 'affairs'): AffairCatalogue {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw fail(field, 'expected {"version": 1, "source", "affairs": [...]}');
  const o = input as Record<string, unknown>;
  if (o.version !== 1) throw fail(`${field}.version`, `expected 1, got ${JSON.stringify(o.version)}`);
  if (typeof o.source !== 'string') throw fail(`${field}.source`, 'expected the text the catalogue comes from');
  if (!Array.isArray(o.affairs)) throw fail(`${field}.affairs`, 'expected an array');
  const affairs = new Map<string, Affair>();
  o.affairs.forEach((a: unknown, i: number) => {
    const f = `${field}.affairs[${i}]`;
    if (a === null || typeof a !== 'object' || Array.isArray(a)) throw fail(f, 'expected an object');
    const e = a as Record<string, unknown>;
    for (const k of ['id', 'title', 'titleEn', 'basis']) if (typeof e[k] !== 'string' || (e[k] as string).trim() === '') throw fail(`${f}.${k}`, 'expected text');
    const id = e.id as string;
    if (!/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/.test(id)) throw fail(`${f}.id`, `expected a dotted lower-case id such as juki.move-in, got ${JSON.stringify(id)}`);
    if (affairs.has(id)) throw fail(`${f}.id`, `${id} is listed twice`);
    if (typeof e.nonResidents !== 'boolean') throw fail(`${f}.nonResidents`, 'expected true or false');
    if (e.scope !== undefined && e.scope !== 'own-prefecture') throw fail(`${f}.scope`, `expected "own-prefecture" or nothing, got ${JSON.stringify(e.scope)}`);
    if (!Array.isArray(e.bodies) || e.bodies.length === 0) throw fail(`${f}.bodies`, 'expected at least one body');
    const bodies = e.bodies.map((b: unknown, j: number): AffairBody => {
      const bf = `${f}.bodies[${j}]`;
      const r = (b ?? {}) as Record<string, unknown>;
      if (!BODY_ROLES.includes(r.role as AffairBody['role'])) throw fail(`${bf}.role`, `expected one of ${BODY_ROLES.join(', ')} (第4の1(4): nobody else), got ${JSON.stringify(r.role)}`);
      if (r.role === 'agency') {
        if (!Array.isArray(r.agencies) || r.agencies.length === 0 || !r.agencies.every((x) => typeof x === 'string')) throw fail(`${bf}.agencies`, 'expected the agency ids that carry out this affair');
        return { role: 'agency', agencies: Object.freeze([...(r.agencies as string[])]) };
      }
      if (r.agencies !== undefined) throw fail(`${bf}.agencies`, 'only agency bodies list agency ids');
      return { role: r.role as AffairBody['role'] };
    });
    affairs.set(id, Object.freeze({
      id, title: e.title as string, titleEn: e.titleEn as string, bodies: Object.freeze(bodies), nonResidents: e.nonResidents,
      ...(e.scope ? { scope: 'own-prefecture' as const } : {}), basis: e.basis as string,
    }));
  });
  return Object.freeze({ source: o.source, affairs });
}

let cached: AffairCatalogue | undefined;

/** The catalogue in data/affairs.json (read once). */
export function affairCatalogue(): AffairCatalogue {
  if (!cached) cached = parseAffairCatalogue(JSON.parse(readFileSync(dataFile('affairs.json'), 'utf8')));
  return cached;
}

export interface AccessRequest {
  /** The requesting node, from its certificate; null when it presented none. */
  readonly requester: NodeSpec | null;
  readonly affair: string;
}

export type AccessDecision =
  | { readonly allow: true; readonly why: string; readonly affair: Affair }
  | { readonly allow: false; readonly why: string };

const BODIES: readonly Role[] = ['municipality', 'prefecture', 'agency'];

/**
 * The first half of the decision, before any record is looked up: may this body ask at all
 * for this affair? (A refusal here reveals nothing about whether the person exists.)
 */
export function decideBody(r: AccessRequest, catalogue: AffairCatalogue = affairCatalogue()): AccessDecision {
  if (r.requester === null) return { allow: false, why: 'R4.1.4: no certificate from the network CA; nobody else may use the basic area' };
  const { role, code } = r.requester;
  if (!BODIES.includes(role)) return { allow: false, why: `R4.1.4: a ${role} node is not a municipality, prefecture or agency; nobody else may use the basic area` };
  const affair = catalogue.affairs.get(r.affair);
  if (!affair) return { allow: false, why: `affair ${JSON.stringify(r.affair)} is not in the catalogue of statutory affairs (deny by default)` };
  const body = affair.bodies.find((b) => b.role === role);
  const clause = role === 'municipality' ? 'R4.1.1' : role === 'prefecture' ? 'R4.1.2' : 'R4.1.3';
  if (!body) return { allow: false, why: `${clause}: ${affair.id} is not an affair of a ${role}` };
  if (role === 'agency' && !body.agencies!.includes(code!)) return { allow: false, why: `R4.1.3: ${affair.id} is not an affair of agency ${code}` };
  return { allow: true, why: `${clause}: ${affair.id} (${affair.basis})`, affair };
}

/**
 * The second half, once the record is known: `subjectMunicipality` is the municipality that
 * keeps the person's current record (undefined when no record was found: nothing to refuse).
 */
export function decideSubject(r: AccessRequest, subjectMunicipality: string | undefined, catalogue: AffairCatalogue = affairCatalogue()): AccessDecision {
  const first = decideBody(r, catalogue);
  if (!first.allow || subjectMunicipality === undefined) return first;
  const { role, code } = r.requester!;
  const affair = first.affair;
  if (role === 'municipality' && subjectMunicipality !== code && !affair.nonResidents) {
    return { allow: false, why: `R4.1.1: ${affair.id} is for this municipality's own residents; the person is a resident of ${subjectMunicipality}` };
  }
  if (role === 'prefecture' && affair.scope === 'own-prefecture' && subjectMunicipality.slice(0, 2) !== code) {
    return { allow: false, why: `R4.1.2: ${affair.id} is for residents of prefecture ${code}; the person is a resident of ${subjectMunicipality}` };
  }
  if (role === 'municipality' && subjectMunicipality === code) return { allow: true, why: `R4.1.1: own resident; ${affair.id} (${affair.basis})`, affair };
  return first;
}
