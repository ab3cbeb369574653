/**
 * Starting juki nodes in this process: open (and migrate) each node's database, host them
 * behind one HTTP server, and stop everything cleanly on SIGINT/SIGTERM.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type Database } from '../db/index.ts';
import { checkNodeSpec, nodeId, type NodeSpec } from '../net/index.ts';
import { createServer } from '../web/index.ts';
import { JukiError, invalid, projectRoot } from '../util/index.ts';

export interface RunningNode {
  readonly id: string;
  readonly spec: NodeSpec;
  readonly database: Database;
}

export interface Runtime {
  readonly nodes: readonly RunningNode[];
  readonly server: FastifyInstance;
  readonly url: string;
  close(): Promise<void>;
}

/** Where the embedded default keeps node databases: $JUKI_DATA_DIR, else `.juki/data`. */
export function defaultDataDir(): string {
  return process.env.JUKI_DATA_DIR ?? join(process.cwd(), '.juki', 'data');
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

/** Open every node's database and serve them on host:port. On failure, closes what it opened. */
export async function startNodes(specs: readonly { spec: NodeSpec; db: string }[], host: string, port: number): Promise<Runtime> {
  const nodes: RunningNode[] = [];
  try {
    for (const { spec, db } of specs) {
      checkNodeSpec(spec);
      nodes.push({ id: nodeId(spec), spec, database: await openDatabase(db) });
    }
    const server = await createServer({
      version: version(),
      nodes: nodes.map((n) => ({ id: n.id, role: n.spec.role, ...(n.spec.code ? { code: n.spec.code } : {}), storage: { dialect: n.database.dialect, location: n.database.location } })),
    });
    let url: string;
    try {
      url = await server.listen({ host, port });
    } catch (e) {
      await server.close();
      throw new JukiError('JUKI_ERR_INVALID_INPUT', `--port: cannot listen on ${host}:${port}: ${(e as Error).message}`, { field: 'port' });
    }
    return {
      nodes,
      server,
      url,
      close: async () => {
        await server.close();
        for (const n of nodes) await n.database.close();
      },
    };
  } catch (e) {
    for (const n of nodes) await n.database.close().catch(() => {});
    throw e;
  }
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
