/**
 * Juki-net in a running process (docs/network.md "Running a network"): the network PKI on
 * disk, and per node the outbox, the inbox with its role's apply handler, the Gate, the relay,
 * and the identity-record query service (national center, prefectures) and client.
 *
 *   in-process   `juki up`: every node of the process on one InProcessNetwork (the peer
 *                identity is each node's certificate, verified against the network CA)
 *   https        `juki serve --pki DIR --peers FILE`: the node listens with mutual TLS at its
 *                address in the peers file; messages and queries go to the peers' addresses
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Transaction } from 'kysely';
import { AgencyCardDesk, AgencyVerifier, NoticeList, agencyApply, type AgencyFaults } from '../agency/index.ts';
import { AuditLog } from '../audit/index.ts';
import type { KeyStore } from '../crypto/index.ts';
import type { Database, Schema } from '../db/index.ts';
import { VirtualReader } from '../reader/index.ts';
import { HttpsTerminalClient, ScriptedPinPad, Terminal } from '../terminal/index.ts';
import {
  Gate, HttpsCardReadingClient, HttpsQueryClient, InProcessCardReading, NatsLink, cardReadRoutes, peerIdentity, NationalCardReader, HttpsTransport, IdentityQueryService, Inbox, InProcessNetwork, InProcessQueries, Outbox, Relay, SqlNetStore, auditRefusals,
  createNetworkCa, identityChangesTo, identityQueryRoutes, issueNodeCertificate, municipalityApply, nationalApply, nodeId, prefectureApply,
  startHttpsReceiver, withCommon, type ApplyMessage, type HttpsReceiver, type HttpsReceiverOptions, type NodeCredentials, type NodeSpec, type QueryClient, type ReturnedCardHook,
  type Topology, type Transport,
} from '../net/index.ts';
import type { RegisterChangeHook } from '../register/index.ts';
import { JukiError } from '../util/index.ts';
import type { DesksConfig } from './desks-file.ts';

type Trx = Transaction<Schema>;

/** A network PKI on disk, as `juki pki init` writes it. */
export interface NetworkPki {
  readonly dir: string;
  readonly caPem: string;
  credentials(spec: NodeSpec): NodeCredentials;
}

/** Load the PKI under `dir` (ca.crt, nodes/<id>.crt and .key). */
export function loadPki(dir: string): NetworkPki {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `pki: cannot read ${p}: ${(e as Error).message} (make it with juki pki init)`, { field: 'pki' });
    }
  };
  const caPem = read(join(dir, 'ca.crt'));
  return {
    dir,
    caPem,
    credentials: (spec) => ({ spec, certPem: read(join(dir, 'nodes', `${nodeId(spec)}.crt`)), keyPem: read(join(dir, 'nodes', `${nodeId(spec)}.key`)) }),
  };
}

/**
 * The embedded default's PKI under `dir`: made on first start (CA and a certificate per node
 * of the topology, keys 0600), loaded afterwards; a node added to the topology later gets its
 * certificate when first needed, while the CA key is still here.
 */
export async function ensurePki(dir: string, topology: Topology): Promise<NetworkPki> {
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  let ca: { certPem: string; keyPem: string };
  if (existsSync(join(dir, 'ca.crt'))) {
    ca = { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: existsSync(join(dir, 'ca.key')) ? readFileSync(join(dir, 'ca.key'), 'utf8') : '' };
  } else {
    ca = await createNetworkCa();
    writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), ca.certPem, { mode: 0o644 });
  }
  for (const node of topology.nodes) {
    const crt = join(dir, 'nodes', `${node.id}.crt`);
    if (existsSync(crt)) continue;
    if (!ca.keyPem) throw new JukiError('JUKI_ERR_FILE', `pki: no certificate for ${node.id} under ${dir}, and no CA key to issue one`, { field: 'pki' });
    const creds = await issueNodeCertificate(ca, node.spec);
    writeFileSync(join(dir, 'nodes', `${node.id}.key`), creds.keyPem, { mode: 0o600 });
    writeFileSync(crt, creds.certPem, { mode: 0o644 });
  }
  return loadPki(dir);
}

/** One network a process's nodes join. */
export type NetworkPlan =
  | {
      readonly kind: 'in-process'; readonly pki: NetworkPki; readonly topology: Topology; readonly network: InProcessNetwork; readonly queries: InProcessQueries;
      /** The national center reads agency cards through agency terminals' relays (R4.2.1). */
      readonly cardReading: InProcessCardReading;
    }
  | {
      readonly kind: 'https'; readonly pki: NetworkPki; readonly topology: Topology; readonly host?: string;
      /** `juki serve --transport nats --nats URL`: messages over NATS JetStream; queries and card reads stay on HTTPS. */
      readonly nats?: { readonly servers: string };
      /** `juki serve --desks FILE`: agency desk terminals (the agency's own desk; where the national center reads cards). */
      readonly desks?: DesksConfig;
      /** Where connection progress is told (the NATS link's retries). */
      readonly log?: (line: string) => void;
    };

export function inProcessPlan(pki: NetworkPki, topology: Topology): NetworkPlan {
  return { kind: 'in-process', pki, topology, network: new InProcessNetwork(pki.caPem), queries: new InProcessQueries(pki.caPem), cardReading: new InProcessCardReading(pki.caPem) };
}

/** What a role sees of its node's network before it starts (RoleContext.net). */
export interface NodeNet {
  readonly topology: Topology;
  readonly outbox: Outbox<Trx>;
  readonly audit: AuditLog;
  /** Identity-record queries, as this node (its certificate). */
  readonly queries: QueryClient;
  /** Municipalities: chain into the register's onChange to announce identity records to the prefecture. */
  readonly identityChanges?: RegisterChangeHook;
  /**
   * Agencies: the notice list and the verification flow; in-process, also the desk's terminal
   * (a virtual reader `desk-1` and a scripted PIN pad) and the card verification through it
   * (R4.2.1: PIN locally, the national center reads the basic area through the relay).
   */
  readonly agency?: {
    readonly list: NoticeList; readonly verifier: AgencyVerifier;
    readonly desk?: { readonly terminal: Terminal; readonly reader: VirtualReader; readonly pad: ScriptedPinPad; readonly cards: AgencyCardDesk };
    /** The card verification at the desk: in-process through `desk`, over HTTPS through the `juki terminal` of `--desks`. */
    readonly cards?: AgencyCardDesk;
  };
  /** Run a relay round soon (after enqueueing outside the inbox). */
  notify(): void;
  /**
   * Over HTTPS (`juki serve --pki --peers`): this node's certificate, the network CA and the
   * peers' addresses, for the role's own mutual-TLS clients (a municipality's terminals, the
   * national key service, the jpki relay).
   */
  readonly mtls?: { readonly credentials: NodeCredentials; readonly caPem: string; addressOf(node: string): string | undefined };
}

/** What a mounted role gives back to the network. */
export interface RoleNetHooks {
  readonly returnedCard?: ReturnedCardHook;
  /** More routes on the node's mutual-TLS listener (HTTPS only): the national key service, the jpki relay. */
  readonly routes?: NonNullable<HttpsReceiverOptions['routes']>;
}

export interface StartedNodeNet {
  readonly net: NodeNet;
  /** One relay round, waiting for its sends to settle; returns how many were sent (tests drive relays with it). */
  pump(): Promise<number>;
  /** How the node's messages travel now, for /healthz: NATS reports whether it consumes, and why not. */
  health(): NodeNetHealth;
  /** Start receiving and delivering with the role's hooks. */
  start(hooks: RoleNetHooks): Promise<{ readonly url?: string }>;
  close(): Promise<void>;
}

/** A node's Juki-net link as /healthz shows it. */
export interface NodeNetHealth {
  readonly transport: 'in-process' | 'https' | 'nats';
  /** Whether it can receive: in-process and HTTPS once started; NATS once it consumes its durable consumer. */
  readonly connected: boolean;
  readonly lastError?: string;
}

/** Relay rounds when idle: short, so a message enqueued by another component goes out soon. */
const IDLE_MS = 200;

export interface NodeNetOptions {
  /** The clock of outbox, inbox and backoff, ms (tests inject one). */
  readonly now?: () => number;
  /** Run the relay on timers (default true); false: only `pump()` sends. */
  readonly autoRelay?: boolean;
  /** The national center: its key store with the basic-area masters (card reading, R4.2.1). */
  readonly keyStore?: KeyStore;
  /** Agencies: faults to inject (the scenario's self-test only). */
  readonly agencyFaults?: AgencyFaults;
}

/** Prepare a node's network side; `start` once its role is mounted. */
export function prepareNodeNet(plan: NetworkPlan, spec: NodeSpec, database: Database, options: NodeNetOptions = {}): StartedNodeNet {
  const id = nodeId(spec);
  if (!plan.topology.node(id)) throw new JukiError('JUKI_ERR_NET_TOPOLOGY', `${id} is not in the network's topology`, { field: 'topology' });
  const creds = plan.pki.credentials(spec);
  const store = new SqlNetStore(database);
  const outbox = new Outbox(store, id, options.now ? { now: options.now } : {});
  const audit = new AuditLog(database, id, options.now ? { now: () => new Date(options.now!()) } : {});
  const answers = spec.role === 'national' || spec.role === 'prefecture' ? new IdentityQueryService({ database, audit }) : undefined;
  const addressOf = (n: string) => plan.topology.node(n)?.address;
  const queries: QueryClient = plan.kind === 'in-process'
    ? plan.queries.connect(creds.certPem)
    : new HttpsQueryClient({ credentials: creds, caPem: plan.pki.caPem, addressOf });
  const list = spec.role === 'agency' ? new NoticeList(() => database.db) : undefined;
  const verifier = list
    ? (options.agencyFaults ? AgencyCardDesk.verifierFor({ list, queries, audit, db: () => database.db, faults: options.agencyFaults }) : new AgencyVerifier({ list, queries, audit }))
    : undefined;
  let desk: NonNullable<NodeNet['agency']>['desk'];
  if (list && plan.kind === 'in-process') {
    const reader = new VirtualReader('desk-1');
    const pad = new ScriptedPinPad();
    const terminal = new Terminal({ id: `terminal:${id}-desk-1`, readers: [reader], pinPad: pad });
    const cards = new AgencyCardDesk({ terminal, reader: 'desk-1', cardReading: plan.cardReading.connect(creds.certPem), verifier: verifier!, audit, national: plan.topology.national });
    desk = { terminal, reader, pad, cards };
  }
  // Over HTTPS: the agency's first desk of --desks, a `juki terminal` driven with its certificate.
  let remoteDesk: { terminal: HttpsTerminalClient; cards: AgencyCardDesk; reading: HttpsCardReadingClient } | undefined;
  const ownDesk = plan.kind === 'https' ? plan.desks?.desks.find((d) => d.agency === id) : undefined;
  if (list && plan.kind === 'https' && ownDesk) {
    const terminal = deskTerminalClient(ownDesk, creds, plan.pki.caPem);
    const reading = new HttpsCardReadingClient({ credentials: creds, caPem: plan.pki.caPem, addressOf });
    const cards = new AgencyCardDesk({ terminal, reader: ownDesk.reader, cardReading: reading, verifier: verifier!, audit, national: plan.topology.national });
    remoteDesk = { terminal, cards, reading };
  }
  const cardReader = spec.role === 'national' && options.keyStore ? new NationalCardReader({ keyStore: options.keyStore, audit }) : undefined;
  let relay: Relay<Trx> | undefined;
  let transport: Transport | undefined;
  let receiver: HttpsReceiver | undefined;
  const detach: (() => void)[] = [];
  const net: NodeNet = {
    topology: plan.topology,
    outbox,
    audit,
    queries,
    ...(spec.role === 'municipality' ? { identityChanges: identityChangesTo(outbox, id, plan.topology.prefectureOf(spec.code!)) } : {}),
    ...(list ? { agency: { list, verifier: verifier!, ...(desk ? { desk } : {}), ...(desk || remoteDesk ? { cards: (desk ?? remoteDesk)!.cards } : {}) } } : {}),
    notify: () => relay?.notify(),
    ...(plan.kind === 'https' ? { mtls: { credentials: creds, caPem: plan.pki.caPem, addressOf } } : {}),
  };
  let natsLink: NatsLink | undefined;
  let started = false;
  return {
    net,
    health() {
      if (natsLink) {
        const st = natsLink.state;
        return { transport: 'nats', connected: st.connected, ...(st.lastError ? { lastError: st.lastError } : {}) };
      }
      return { transport: plan.kind === 'in-process' ? 'in-process' : 'https', connected: started };
    },
    async start(hooks) {
      const ctx = { self: spec, outbox, audit, topology: plan.topology, ...(options.now ? { now: () => new Date(options.now!()) } : {}) };
      let apply: ApplyMessage<Trx>;
      switch (spec.role) {
        case 'prefecture': apply = prefectureApply(ctx); break;
        case 'national': apply = nationalApply(ctx); break;
        case 'municipality': apply = municipalityApply({ ...ctx, ...(hooks.returnedCard ? { returnedCard: hooks.returnedCard } : {}) }); break;
        case 'agency': apply = agencyApply({ self: spec, audit, list: list! }); break;
        default: apply = withCommon(ctx, async () => false);
      }
      const inbox = new Inbox(store, id, apply, options.now ? { now: options.now } : {});
      const gate = new Gate({ self: spec, inbox, onRefused: auditRefusals(audit) });
      let url: string | undefined;
      if (plan.kind === 'in-process') {
        detach.push(plan.network.attach(gate));
        if (answers) detach.push(plan.queries.serve(id, answers));
        if (cardReader) detach.push(plan.cardReading.serve(id, cardReader));
        transport = plan.network.connect(creds.certPem);
      } else {
        const address = addressOf(id);
        if (!address) throw new JukiError('JUKI_ERR_NET_TOPOLOGY', `peers: ${id} has no address to listen on`, { field: 'peers' });
        const u = new URL(address);
        receiver = await startHttpsReceiver({
          credentials: creds, caPem: plan.pki.caPem, gate, host: plan.host ?? u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port),
          ...(answers || cardReader || hooks.routes
            ? {
                routes: async (app, peerOf) => {
                  if (answers) identityQueryRoutes(answers)(app, peerOf);
                  if (cardReader) cardReadRoutes(cardReader, nationalDesks(plan.desks, creds, plan.pki.caPem))(app, peerOf);
                  await hooks.routes?.(app, peerOf);
                },
              }
            : {}),
        });
        url = receiver.url;
        if (plan.nats) {
          const link = natsLink = new NatsLink({ servers: plan.nats.servers, caPem: plan.pki.caPem, credentials: creds, gate, ...(plan.log ? { onState: plan.log } : {}) });
          link.start();
          transport = link;
        } else transport = new HttpsTransport({ credentials: creds, caPem: plan.pki.caPem, addressOf });
      }
      relay = new Relay(outbox, transport, { idleMs: IDLE_MS });
      if (options.autoRelay ?? true) relay.start();
      started = true;
      return url ? { url } : {};
    },
    async pump() {
      if (!relay) return 0;
      const n = await relay.tick();
      await relay.settle();
      return n;
    },
    async close() {
      await relay?.stop();
      for (const d of detach.splice(0)) d();
      await receiver?.close();
      await transport?.close();
      await queries.close();
      await desk?.terminal.close();
      await remoteDesk?.terminal.close();
      await remoteDesk?.reading.close();
    },
  };
}

/** A desk's `juki terminal`, reached with `creds` (the agency's, or the national center's for the relay); its certificate must name the terminal. */
function deskTerminalClient(desk: { terminal: string; url: string }, creds: NodeCredentials, caPem: string): HttpsTerminalClient {
  const terminalId = `terminal-${desk.terminal}`;
  return new HttpsTerminalClient({
    url: desk.url, terminalId, caPem, certPem: creds.certPem, keyPem: creds.keyPem,
    checkServer: (cert) => {
      try {
        return nodeId(peerIdentity(cert)) === terminalId;
      } catch {
        return false;
      }
    },
  });
}

/** The national center's view of --desks for its card-reading route. */
function nationalDesks(desks: DesksConfig | undefined, creds: NodeCredentials, caPem: string) {
  const byTerminal = new Map((desks?.desks ?? []).map((d) => [`terminal-${d.terminal}`, { agency: d.agency, terminal: `terminal-${d.terminal}`, url: d.url }]));
  return {
    desk: (terminal: string) => byTerminal.get(terminal),
    openRelay: (d: { terminal: string; url: string }) => deskTerminalClient({ terminal: d.terminal.slice('terminal-'.length), url: d.url }, creds, caPem),
  };
}
