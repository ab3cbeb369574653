/** `juki up`: a small whole network in one process, on SQLite, with embedded defaults. */
import { join } from 'node:path';
import { DEFAULT_TOPOLOGY, parseTopology, type NodeSpec } from '../../net/index.ts';
import { type Command, out } from '../command.ts';
import { ensurePki, inProcessPlan } from '../network.ts';
import { defaultDataDir, defaultDbLocation, defaultKeystoreDir, parsePort, runUntilSignalled, startNodes } from '../runtime.ts';

/** The embedded default network: grows as roles are built. */
export const DEFAULT_NETWORK: readonly NodeSpec[] = [
  { role: 'national' },
  { role: 'prefecture', code: '13' },
  { role: 'municipality', code: '131016' },
  { role: 'municipality', code: '131024' },
  { role: 'agency', code: 'passport' },
  { role: 'jpki' },
];

export const upCommand: Command = {
  path: ['up'],
  summary: 'Run every role of a small network in one process (SQLite, embedded defaults)',
  usage: '[--data-dir DIR] [--host HOST] [--port PORT] [--keystore DIR] [--json]',
  options: {
    'data-dir': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    keystore: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  help: `
Starts the default small network in this process: the national center, the Tokyo
prefecture server, two municipalities (131016 Chiyoda, 131024 Chuo), the passport agency
and the JPKI certification authority, each with its own SQLite file under the data
directory, behind one HTTP server. The nodes form one in-process Juki-net: each has a
certificate from the network CA under <data dir>/pki (made on first start), and messages
and identity-record queries carry that identity through the same authoriser as mutual TLS.
Runs until interrupted (Ctrl-C or SIGTERM).

Options:
  --data-dir DIR   where node databases live (default $JUKI_DATA_DIR, else .juki/data)
  --host HOST      address to listen on (default 127.0.0.1)
  --port PORT      TCP port (default 8392; 0 picks a free one)
  --keystore DIR   the host key store (default $JUKI_KEYSTORE, else <data dir>/keystore)
  --json           print the started nodes and URL as one JSON line

HTTP: GET /healthz, GET /api/nodes, GET /openapi.json; each node's own routes under
/<node id>/ (e.g. the JPKI OCSP responder at /jpki/ocsp).`,
  async run({ values, stdout, stderr }) {
    const dataDir = (values['data-dir'] as string | undefined) ?? defaultDataDir();
    const port = parsePort(values.port as string | undefined, 8392);
    const topology = parseTopology(DEFAULT_TOPOLOGY);
    const pki = await ensurePki(join(dataDir, 'pki'), topology);
    const runtime = await startNodes(
      DEFAULT_NETWORK.map((spec) => ({ spec, db: defaultDbLocation(spec, dataDir) })),
      { host: values.host as string, port, keystoreDir: (values.keystore as string | undefined) ?? defaultKeystoreDir(dataDir), network: inProcessPlan(pki, topology) },
    );
    const nodes = runtime.nodes.map((n) => ({ id: n.id, role: n.spec.role, db: n.database.location }));
    if (values.json) out(stdout, { url: runtime.url, nodes });
    else {
      out(stdout, `juki up: ${nodes.length} nodes on ${dataDir}`);
      for (const n of nodes) out(stdout, `  ${n.id.padEnd(22)} ${n.db}`);
      for (const note of runtime.notes) out(stdout, note);
      out(stdout, `listening on ${runtime.url} (Ctrl-C to stop)`);
    }
    return runUntilSignalled(runtime, (line) => out(stderr, `juki up: ${line}`));
  },
};
