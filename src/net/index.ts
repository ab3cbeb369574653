/** Juki-net: node roles and identity, messages, routes, identity records, notices. */
export { ROLES, parseRole, checkNodeSpec, nodeId } from './roles.ts';
export type { Role, NodeSpec } from './roles.ts';
