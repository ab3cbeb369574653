/**
 * What each role adds to a node once its database is open: services, HTTP routes, and what to
 * close on stop. Roles not listed here so far only hold their database (their services are
 * built by later work and plug in here).
 */
import type { FastifyPluginAsync } from 'fastify';
import { AuditLog } from '../audit/index.ts';
import { counterHttpPlugin, openCounter } from '../cs/index.ts';
import { ResidentRegister, auditRegisterChanges, both } from '../register/index.ts';
import type { Database } from '../db/index.ts';
import { jpkiHttpPlugin } from '../jpki/index.ts';
import { openJpkiCa } from './jpki-ca.ts';
import type { NodeSpec, ReturnedCardHook } from '../net/index.ts';
import { agencyHttpPlugin } from '../agency/index.ts';
import type { NodeNet } from './network.ts';

export interface RoleContext {
  readonly id: string;
  readonly spec: NodeSpec;
  readonly database: Database;
  /** The process's host key store folder (sealing keys, KEKs, master keys). */
  readonly keystoreDir: string;
  /** The public base URL of this process's HTTP server, e.g. `http://127.0.0.1:8392`. */
  readonly baseUrl: string;
  /** The node's Juki-net side (outbox, queries, ...), when the process runs a network. */
  readonly net?: NodeNet;
}

export interface MountedRole {
  /** Routes under `/<node id>/...`. */
  readonly plugin?: FastifyPluginAsync;
  /** Lines worth printing at start-up (URLs of the role's services). */
  readonly notes: readonly string[];
  /** Municipalities: the books' side of a `card.returned` message (R3.2.1i), for the inbox. */
  readonly returnedCard?: ReturnedCardHook;
  close(): Promise<void>;
}

export async function mountRole(ctx: RoleContext): Promise<MountedRole> {
  switch (ctx.spec.role) {
    case 'jpki':
      return mountJpki(ctx);
    case 'municipality':
      return mountMunicipality(ctx);
    case 'agency':
      return mountAgency(ctx);
    default:
      return { notes: [], close: async () => {} };
  }
}

/**
 * The JPKI CA: CA keys in a software signing-key store sealed under a KEK from the host key
 * store (a PKCS#11 token replaces it in production: see docs/jpki.md), CRLs and OCSP over HTTP.
 */
async function mountJpki(ctx: RoleContext): Promise<MountedRole> {
  const prefix = `/${ctx.id}`;
  const ca = await openJpkiCa({ id: ctx.id, database: ctx.database, keystoreDir: ctx.keystoreDir, baseUrl: `${ctx.baseUrl}${prefix}` });
  return {
    plugin: jpkiHttpPlugin(ca.authority),
    notes: [`JPKI OCSP responder ${ctx.baseUrl}${prefix}/ocsp, CA certificates ${ctx.baseUrl}${prefix}/certs/`],
    close: () => ca.close(),
  };
}

/**
 * A municipality's CS: the counter API (staff, stock, applications, issuance, card status,
 * returned cards). An issuance a crash left pending is resolved before serving. Card steps
 * are not wired yet (NO_CARD_FLOWS): re-keying and personalising need the terminal agents.
 */
async function mountMunicipality(ctx: RoleContext): Promise<MountedRole> {
  const counter = openCounter(ctx.database, ctx.spec.code!, municipalityBooks(ctx.database, ctx.spec.code!, ctx.net));
  const recovered = await counter.issuance.recover();
  return {
    plugin: counterHttpPlugin(counter),
    notes: [
      `counter API ${ctx.baseUrl}/${ctx.id}/ (operator-card sign-in: POST /${ctx.id}/login/challenge)`,
      ...(recovered.length ? [`recovered ${recovered.length} interrupted issuance(s): blank cards spoiled for witnessed destruction`] : []),
    ],
    returnedCard: (trx, body, from) => counter.moves.applyReturnedCard(trx, body, from),
    close: async () => {},
  };
}

/**
 * A municipality's audit log and register, the register announcing every change as
 * `identity.changed` to the prefecture (then the national center) in the change's own
 * transaction, besides auditing it (`ctx.net.identityChanges`, when the node is on Juki-net).
 */
export function municipalityBooks(database: Database, code: string, net?: Pick<NodeNet, 'identityChanges'>, now?: () => Date): { audit: AuditLog; register: ResidentRegister } {
  const audit = new AuditLog(database, `municipality-${code}`, now ? { now } : {});
  const audited = auditRegisterChanges(audit, () => ({ kind: 'system' }));
  const onChange = net?.identityChanges ? both(audited, net.identityChanges) : audited;
  return { audit, register: new ResidentRegister(database, code, { onChange, ...(now ? { now } : {}) }) };
}

/** An agency: its notice list (R3.2.1o) and card verification (R4.2.2) over HTTP for the desk. */
async function mountAgency(ctx: RoleContext): Promise<MountedRole> {
  if (!ctx.net?.agency) return { notes: [`${ctx.id}: no Juki-net configured: no notices, no verification`], close: async () => {} };
  return {
    plugin: agencyHttpPlugin(ctx.net.agency.list, ctx.net.agency.verifier, ctx.net.agency.desk?.cards),
    notes: [`agency desk API ${ctx.baseUrl}/${ctx.id}/check (notice list: GET /${ctx.id}/notices${ctx.net.agency.desk ? `; the card in the desk terminal's reader: POST /${ctx.id}/verify-card` : ''})`],
    close: async () => {},
  };
}
