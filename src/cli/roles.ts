/**
 * What each role adds to a node once its database is open: services, HTTP routes, and what to
 * close on stop. Roles not listed here so far only hold their database (their services are
 * built by later work and plug in here).
 */
import type { FastifyPluginAsync } from 'fastify';
import { AuditLog } from '../audit/index.ts';
import {
  basicKeyServiceRoutes, counterHttpPlugin, HttpsBasicKeyService, HttpsJpkiRelay, inProcessJpki, KeyStoreBasicKeyService, openCounter, openCounterWithCards,
} from '../cs/index.ts';
import { SoftwareKeyStore } from '../crypto/index.ts';
import { HttpsTerminalClient } from '../terminal/index.ts';
import { JukiError } from '../util/index.ts';
import { JpkiRelayService } from '../jpki/index.ts';
import type { TerminalsConfig } from './terminals-file.ts';
import { ResidentRegister, auditRegisterChanges, both } from '../register/index.ts';
import type { Database } from '../db/index.ts';
import { jpkiHttpPlugin } from '../jpki/index.ts';
import { openJpkiCa } from './jpki-ca.ts';
import { openEmbeddedCounter, type EmbeddedServices } from './counter-bench.ts';
import { dirname, join } from 'node:path';
import { nodeId, peerIdentity, type HttpsReceiverOptions, type NodeSpec, type ReturnedCardHook } from '../net/index.ts';
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
  /** A municipality under `juki serve --terminals FILE`: the `juki terminal` agents its CS drives. */
  readonly terminals?: TerminalsConfig;
}

export interface MountedRole {
  /** Routes under `/<node id>/...`. */
  readonly plugin?: FastifyPluginAsync;
  /** Lines worth printing at start-up (URLs of the role's services). */
  readonly notes: readonly string[];
  /** Municipalities: the books' side of a `card.returned` message (R3.2.1i), for the inbox. */
  readonly returnedCard?: ReturnedCardHook;
  /** Routes on the node's Juki-net mutual-TLS listener (`juki serve --pki`): the national key service, the jpki relay. */
  readonly netRoutes?: NonNullable<HttpsReceiverOptions['routes']>;
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
    case 'national':
      return mountNational(ctx);
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
  // Under `juki serve --pki`: municipalities' CSs reach this node's card work over mutual TLS.
  const relay = ctx.net?.mtls && !ctx.local ? new JpkiRelayService({ cards: inProcessJpki(ca), audit: new AuditLog(ctx.database, ctx.id) }) : undefined;
  return {
    plugin: jpkiHttpPlugin(ca.authority),
    notes: [
      `JPKI OCSP responder ${ctx.baseUrl}${prefix}/ocsp, CA certificates ${ctx.baseUrl}${prefix}/certs/`,
      ...(relay ? [`JPKI relay for municipalities' CSs on the Juki-net listener (mutual TLS): POST /jpki/v1/personalisations, /jpki/v1/revocations`] : []),
    ],
    ...(relay ? { netRoutes: relay.routes() } : {}),
    close: async () => {
      relay?.close();
      await ca.close();
    },
  };
}

/**
 * The national center. Under `juki serve --pki`: its basic-area key service on the Juki-net
 * listener (mutual TLS; municipalities only, every decision audited), over the basic-area
 * masters in its host key store; `juki up` reaches the same masters in-process.
 */
async function mountNational(ctx: RoleContext): Promise<MountedRole> {
  if (!ctx.net?.mtls || ctx.local) return { notes: [], close: async () => {} };
  const keyStore = new SoftwareKeyStore(ctx.keystoreDir);
  const routes = basicKeyServiceRoutes({ service: new KeyStoreBasicKeyService(keyStore), audit: new AuditLog(ctx.database, ctx.id) });
  return {
    notes: ['basic-area key service for municipalities\' CSs on the Juki-net listener (mutual TLS): POST /juki-net/v1/card-keys/basic'],
    netRoutes: routes,
    close: async () => keyStore.close(),
  };
}

/**
 * A municipality's CS: the counter API (staff, stock, applications, issuance, card status,
 * returned cards). An issuance a crash left pending is resolved before serving. `juki up` wires
 * the card steps in-process (mountEmbeddedMunicipality); `juki serve --terminals FILE` over
 * mutual TLS (mountNetworkedMunicipality); without terminals the counter mounts NO_CARD_FLOWS
 * (card steps refused, touching no card).
 */
async function mountMunicipality(ctx: RoleContext): Promise<MountedRole> {
  if (ctx.local) return mountEmbeddedMunicipality(ctx, ctx.local);
  if (ctx.terminals) return mountNetworkedMunicipality(ctx, ctx.terminals);
  const counter = openCounter(ctx.database, ctx.spec.code!, municipalityBooks(ctx.database, ctx.spec.code!, ctx.net));
  const recovered = await counter.issuance.recover();
  return {
    plugin: counterHttpPlugin(counter),
    notes: [
      `counter API ${ctx.baseUrl}/${ctx.id}/ (operator-card sign-in: POST /${ctx.id}/login/challenge)`,
      `  no terminals configured (--terminals FILE): issuance and re-keying are refused, touching no card`,
      ...(recovered.length ? [`recovered ${recovered.length} interrupted issuance(s): blank cards spoiled for witnessed destruction`] : []),
    ],
    returnedCard: (trx, body, from) => counter.moves.applyReturnedCard(trx, body, from),
    close: async () => {},
  };
}

/**
 * `juki serve --role municipality --pki DIR --peers FILE --terminals FILE`: the counter with its
 * real card steps, every part over mutual TLS with this node's certificate: the `juki terminal`
 * agents of the terminals file (HttpsTerminalClient, each checked to present `terminal-<id>`),
 * the national center's basic-area key service (HttpsBasicKeyService) and the jpki node
 * (HttpsJpkiRelay) at their addresses in the peers file. The municipality's transport and issuer
 * masters are in this host's key store; print jobs under `<data dir>/print-<code>/`.
 */
async function mountNetworkedMunicipality(ctx: RoleContext, config: TerminalsConfig): Promise<MountedRole> {
  const mtls = ctx.net?.mtls;
  if (!mtls || !ctx.net) throw new JukiError('JUKI_ERR_USAGE', '--terminals: the CS reaches its terminals, the national center and the jpki node over mutual TLS: give --pki DIR and --peers FILE too');
  const code = ctx.spec.code!;
  const national = ctx.net.topology.national;
  const nationalAddress = mtls.addressOf(national);
  if (!nationalAddress) throw new JukiError('JUKI_ERR_NET_TOPOLOGY', `peers: ${national} has no address: the CS asks it for each card's basic-area keys`, { field: 'peers' });
  const jpkiAddress = ctx.net.topology.node('jpki') ? mtls.addressOf('jpki') : undefined;
  const tls = { caPem: mtls.caPem, certPem: mtls.credentials.certPem, keyPem: mtls.credentials.keyPem };
  const agents = new Map(config.terminals.map((t) => [t.id, new HttpsTerminalClient({
    url: t.url, terminalId: t.id, ...tls,
    // The agent must be that terminal: its certificate names node terminal-<id>.
    checkServer: (cert) => nodeId(peerIdentity(cert)) === nodeId({ role: 'terminal', code: t.id }),
  })]));
  const basicKeys = new HttpsBasicKeyService({ address: nationalAddress, node: national, caPem: mtls.caPem, credentials: mtls.credentials });
  const jpki = jpkiAddress ? new HttpsJpkiRelay({ address: jpkiAddress, caPem: mtls.caPem, credentials: mtls.credentials }) : undefined;
  const keyStore = new SoftwareKeyStore(ctx.keystoreDir);
  const dataDir = ctx.database.dialect === 'sqlite' && ctx.database.location !== ':memory:' ? dirname(ctx.database.location) : dirname(ctx.keystoreDir);
  const closeAll = async () => {
    for (const a of agents.values()) await a.close().catch(() => undefined);
    await basicKeys.close().catch(() => undefined);
    await jpki?.close().catch(() => undefined);
    keyStore.close();
  };
  try {
    const counter = openCounterWithCards(ctx.database, code, {
      ...municipalityBooks(ctx.database, code, ctx.net),
      agents, keyStore, basicKeys, rekeyTerminal: config.rekeyTerminal,
      ...(jpki ? { jpki } : {}),
      printDir: join(dataDir, `print-${code}`),
    });
    const recovered = await counter.issuance.recover();
    // No staff yet: a one-time code, shown only here, lets whoever runs the node enrol the first administrator.
    const setupCode = await counter.operatorCards.newSetupCode();
    return {
      plugin: counterHttpPlugin(counter),
      notes: [
        `counter API ${ctx.baseUrl}/${ctx.id}/ (operator-card sign-in: POST /${ctx.id}/login/challenge)`,
        ...(setupCode ? [
          `  no staff yet: put a blank card on ${config.rekeyTerminal}'s reader and POST /${ctx.id}/setup/first-administrator`,
          `  {"setupCode":"${setupCode}","lot":...,"transportKeyRef":...,"staffId":...,"name":...}; the administrator sets the operator PIN on its pad (one-time code, shown only here)`,
        ] : []),
        `  terminals (${config.file}), driven over mutual TLS: ${config.terminals.map((t) => `${t.id} at ${t.url}`).join(', ')}; deliveries re-keyed at ${config.rekeyTerminal}`,
        `  basic-area keys from ${national} at ${nationalAddress}; JPKI area ${jpki ? `by jpki at ${jpkiAddress}` : 'not available (no jpki node in the peers file)'}`,
        ...(recovered.length ? [`recovered ${recovered.length} interrupted issuance(s): blank cards spoiled for witnessed destruction`] : []),
      ],
      returnedCard: (trx, body, from) => counter.moves.applyReturnedCard(trx, body, from),
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
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
    plugin: agencyHttpPlugin(ctx.net.agency.list, ctx.net.agency.verifier, ctx.net.agency.cards),
    notes: [`agency desk API ${ctx.baseUrl}/${ctx.id}/check (notice list: GET /${ctx.id}/notices${ctx.net.agency.cards ? `; the card in the desk terminal's reader: POST /${ctx.id}/verify-card` : ''})`],
    close: async () => {},
  };
}
