/**
 * Starting juki nodes in this process: open (and migrate) each node's database, host them
 * behind one HTTP server, and stop everything cleanly on SIGINT/SIGTERM.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { SoftwareKeyStore } from '../crypto/index.ts';
import { openDatabase, type Database } from '../db/index.ts';
import { checkNodeSpec, nodeId, type NodeSpec } from '../net/index.ts';
import { createServer } from '../web/index.ts';
import { JukiError, invalid, projectRoot } from '../util/index.ts';
import { mountRole, type MountedRole } from './roles.ts';
import type { EmbeddedServices } from './counter-bench.ts';
import type { TerminalsConfig } from './terminals-file.ts';
import { prepareNodeNet, type NetworkPlan, type StartedNodeNet } from './network.ts';
import { createServer as createNetServer } from 'node:net';

export interface RunningNode {
  readonly id: string;
  readonly spec: NodeSpec;
  readonly database: Database;
}

export interface Runtime {
  readonly nodes: readonly RunningNode[];
  readonly server: FastifyInstance;
  readonly url: string;
  /** Lines the roles want printed at start-up. */
  readonly notes: readonly string[];
  close(): Promise<void>;
}

/** Where the embedded default keeps node databases: $JUKI_DATA_DIR, else `.juki/data`. */
export function defaultDataDir(): string {
  return process.env.JUKI_DATA_DIR ?? join(process.cwd(), '.juki', 'data');
}

/** Where the host key store lives: $JUKI_KEYSTORE, else `<data dir>/keystore`. */
export function defaultKeystoreDir(dataDir = defaultDataDir()): string {
  return process.env.JUKI_KEYSTORE ?? join(dataDir, 'keystore');
}

export function defaultDbLocation(spec: NodeSpec, dataDir = defaultDataDir()): string {
  return join(dataDir, `${nodeId(spec)}.sqlite`);
}

export function parsePort(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw invalid('--port', `expected a TCP port 0-65535, got ${JSON.stringify(text)}`);
  return Number(text);
}

export function version(): string {
  return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface StartOptions {
  readonly host: string;
  readonly port: number;
  readonly keystoreDir: string;
  /** Join every node to this Juki-net (in-process for `juki up`, HTTPS for `juki serve --pki`). */
  readonly network?: NetworkPlan;
  /** `juki serve --terminals FILE`: the municipality's `juki terminal` agents. */
  readonly terminals?: TerminalsConfig;
}

/**
 * Open every node's database, mount its role (routes under `/<node id>/`), and serve them all
 * on host:port. On failure, closes what it opened.
 */
export async function startNodes(specs: readonly { spec: NodeSpec; db: string }[], options: StartOptions): Promise<Runtime> {
  const nodes: RunningNode[] = [];
  const mounted: MountedRole[] = [];
  const nets: StartedNodeNet[] = [];
  const netOf = new Map<string, StartedNodeNet>();
  const closeAll = async () => {
    // Stop receiving and delivering first, then the roles, then the databases.
    for (const n of nets) await n.close().catch(() => {});
    for (const m of mounted) await m.close().catch(() => {});
    for (const n of nodes) await n.database.close().catch(() => {});
  };
  try {
    for (const { spec } of specs) checkNodeSpec(spec);
    // The port is known before the routes are built, because roles write their own URLs
    // into what they issue (the JPKI CA's OCSP and CRL addresses).
    const port = options.port === 0 ? await freePort(options.host) : options.port;
    const baseUrl = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
    const plugins: { prefix: string; plugin: import('fastify').FastifyPluginAsync }[] = [];
    const notes: string[] = [];
    // Embedded mode (one process, in-process Juki-net: `juki up`): roles share in-process services.
    const local: EmbeddedServices | undefined = options.network?.kind === 'in-process' ? {} : undefined;
    for (const { spec, db } of specs) {
      const node = { id: nodeId(spec), spec, database: await openDatabase(db) };
      nodes.push(node);
      // The national center's key store holds the basic-area masters (card reading, R4.2.1).
      const net = options.network
        ? prepareNodeNet(options.network, spec, node.database, spec.role === 'national' ? { keyStore: new SoftwareKeyStore(options.keystoreDir) } : {})
        : undefined;
      if (net) {
        nets.push(net);
        netOf.set(node.id, net);
      }
      const role = await mountRole({ ...node, keystoreDir: options.keystoreDir, baseUrl, ...(net ? { net: net.net } : {}), ...(local ? { local } : {}), ...(options.terminals && spec.role === 'municipality' ? { terminals: options.terminals } : {}) });
      mounted.push(role);
      if (net) {
        const started = await net.start({ ...(role.returnedCard ? { returnedCard: role.returnedCard } : {}), ...(role.netRoutes ? { routes: role.netRoutes } : {}) });
        notes.push(`${node.id}: Juki-net ${options.network!.kind}${started.url ? ` (mutual TLS) ${started.url}` : ''}`);
      }
      if (role.plugin) plugins.push({ prefix: `/${node.id}`, plugin: role.plugin });
      notes.push(...role.notes);
    }
    const server = await createServer({
      version: version(),
      nodes: nodes.map((n) => {
        const net = netOf.get(n.id);
        return { id: n.id, role: n.spec.role, ...(n.spec.code ? { code: n.spec.code } : {}), storage: { dialect: n.database.dialect, location: n.database.location }, ...(net ? { network: () => net.health() } : {}) };
      }),
      plugins,
    });
    try {
      await server.listen({ host: options.host, port });
    } catch (e) {
      await server.close();
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `--port: cannot listen on ${options.host}:${port}: ${(e as Error).message}`, { field: 'port' });
    }
    return {
      nodes,
      server,
      url: baseUrl,
      notes,
      close: async () => {
        await server.close();
        await closeAll();
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** A TCP port that was free a moment ago (the OS picks it). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Resolve when the process is asked to stop (SIGINT/SIGTERM), then close the runtime. */
export function runUntilSignalled(runtime: Runtime, log: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: stopping`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      runtime.close().then(
        () => resolve(0),
        (e) => {
          log(`error while stopping: ${(e as Error).message}`);
          resolve(1);
        },
      );
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}
