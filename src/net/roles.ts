/**
 * The roles a juki node can play (ARCHITECTURE.md, "The parties"). Every node is the same
 * program in one role; its id is `<role>-<code>` (e.g. `municipality-131016`), or the role
 * alone for singletons (`national`, `jpki`).
 */
import { JukiError } from '../util/index.ts';

export const ROLES = {
  municipality: 'a municipality\'s communication server (CS): register, blank-card stock, issuance, card status',
  prefecture: 'a prefecture server: relays status and identity records between its municipalities and the national center',
  national: 'the national center: identity records and card status of all residents, notices to agencies',
  agency: 'an agency that verifies residents with the card for its statutory affairs',
  bureau: 'a card bureau: outsourced personalisation and printing',
  transfer: 'the data-transfer device between a CS and its card bureau',
  jpki: 'the JPKI certification authority: the only holder of the JPKI area\'s keys',
  terminal: 'a terminal agent: card readers and the PIN pad of a counter, agency desk or bureau room',
} as const;

export type Role = keyof typeof ROLES;

/** Roles that exist once per network and need no code. */
const SINGLETONS: readonly Role[] = ['national', 'jpki'];

export interface NodeSpec {
  readonly role: Role;
  /** Municipality code, prefecture code (2 digits), agency id ...; absent for singletons. */
  readonly code?: string;
}

export function parseRole(text: string): Role {
  if (!(text in ROLES)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `role: expected one of ${Object.keys(ROLES).join(', ')}, got ${JSON.stringify(text)}`, { field: 'role' });
  }
  return text as Role;
}

/** Check that a node spec names a code exactly when its role needs one, in the role's format. */
export function checkNodeSpec(spec: NodeSpec): NodeSpec {
  const single = SINGLETONS.includes(spec.role);
  if (single && spec.code !== undefined) throw new JukiError('JUKI_ERR_INVALID_INPUT', `code: the ${spec.role} role takes no code, got ${JSON.stringify(spec.code)}`, { field: 'code' });
  if (!single && spec.code === undefined) throw new JukiError('JUKI_ERR_INVALID_INPUT', `code: the ${spec.role} role needs --code`, { field: 'code' });
  if (spec.code !== undefined && !/^[A-Za-z0-9-]{1,32}$/.test(spec.code)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `code: expected 1-32 letters, digits or '-', got ${JSON.stringify(spec.code)}`, { field: 'code' });
  }
  if (spec.role === 'prefecture' && !/^(0[1-9]|[1-3][0-9]|4[0-7])$/.test(spec.code!)) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `code: a prefecture code is 2 digits 01-47, got ${JSON.stringify(spec.code)}`, { field: 'code' });
  }
  return spec;
}

export function nodeId(spec: NodeSpec): string {
  return spec.code === undefined ? spec.role : `${spec.role}-${spec.code}`;
}

/**
 * The node spec of a node id, checked: `municipality-131016` -> {role: 'municipality', code: '131016'},
 * `national` -> {role: 'national'}. The inverse of nodeId.
 */
export function parseNodeId(id: string, field = 'node'): NodeSpec {
  if (typeof id !== 'string') throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected a node id such as municipality-131016, got ${typeof id}`, { field });
  const dash = id.indexOf('-');
  const role = dash < 0 ? id : id.slice(0, dash);
  if (!(role in ROLES)) throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: expected a node id <role>[-<code>] with role one of ${Object.keys(ROLES).join(', ')}, got ${JSON.stringify(id)}`, { field });
  try {
    return checkNodeSpec(dash < 0 ? { role: role as Role } : { role: role as Role, code: id.slice(dash + 1) });
  } catch (e) {
    throw new JukiError('JUKI_ERR_INVALID_INPUT', `${field}: ${JSON.stringify(id)}: ${(e as Error).message}`, { field });
  }
}

/** Whether two node specs name the same node. */
export function sameNode(a: NodeSpec, b: NodeSpec): boolean {
  return a.role === b.role && a.code === b.code;
}
