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
import { openEmbeddedCounter, type EmbeddedServices } from './counter-bench.ts';
import { dirname } from 'node:path';
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
  /** Embedded mode (`juki up`): what the roles of this one process share in-process; never set by `juki serve`. */
  readonly local?: EmbeddedServices;
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
  if (ctx.local) ctx.local.jpki = ca;
  return {
    plugin: jpkiHttpPlugin(ca.authority),
    notes: [`JPKI OCSP responder ${ctx.baseUrl}${prefix}/ocsp, CA certificates ${ctx.baseUrl}${prefix}/certs/`],
    close: () => ca.close(),
  };
}

/**
 * A municipality's CS: the counter API (staff, stock, applications, issuance, card status,
 * returned cards). An issuance a crash left pending is resolved before serving. Under
 * `juki serve` the card steps are not wired yet (NO_CARD_FLOWS): that needs the CS configured
 * with its `juki terminal` agents (HttpsTerminalClient) and the national key service over
 * mutual TLS; `juki up` wires them in-process (mountEmbeddedMunicipality).
 */
async function mountMunicipality(ctx: RoleContext): Promise<MountedRole> {
  if (ctx.local) return mountEmbeddedMunicipality(ctx, ctx.local);
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
 * Embedded mode (`juki up`): the counter with its real card steps over the in-process terminal
 * `counter-1` (a virtual reader, a scripted PIN pad, a blank-card lot made on first start) and
 * the dev routes under `/<node>/dev/counter-1/...` that insert and pull cards and type on the pad
 * (docs/counter.md "juki up: the embedded counter").
 */
async function mountEmbeddedMunicipality(ctx: RoleContext, local: EmbeddedServices): Promise<MountedRole> {
  const dataDir = ctx.database.dialect === 'sqlite' && ctx.database.location !== ':memory:' ? dirname(ctx.database.location) : dirname(ctx.keystoreDir);
  const embedded = openEmbeddedCounter({
    database: ctx.database, code: ctx.spec.code!, keystoreDir: ctx.keystoreDir, dataDir, local, books: municipalityBooks(ctx.database, ctx.spec.code!, ctx.net),
  });
  const { counter, bench } = embedded;
  const recovered = await counter.issuance.recover();
  return {
    plugin: async (app) => {
      await app.register(counterHttpPlugin(counter));
      await app.register(bench.devPlugin(counter), { prefix: '/dev' });
    },
    notes: [
      `counter API ${ctx.baseUrl}/${ctx.id}/ with terminal counter-1 (reader counter-1-reader, PIN pad) in-process; blank-card lot COUNTER-1: ${bench.lot.length} cards`,
      `  dev only (embedded mode): ${ctx.baseUrl}/${ctx.id}/dev/counter-1/{cards,reader/insert,reader/remove,pin-pad/type,operator-cards,login}`,
      ...(recovered.length ? [`recovered ${recovered.length} interrupted issuance(s): blank cards spoiled for witnessed destruction`] : []),
    ],
    returnedCard: (trx, body, from) => counter.moves.applyReturnedCard(trx, body, from),
    close: () => embedded.close(),
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
