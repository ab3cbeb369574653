/** `juki serve`: one node in this process. */
import { loadTopology, parseRole } from '../../net/index.ts';
import { JukiError } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { defaultDbLocation, defaultKeystoreDir, parsePort, runUntilSignalled, startNodes } from '../runtime.ts';
import { loadPki } from '../network.ts';
import { loadTerminals } from '../terminals-file.ts';
import { loadDesks } from '../desks-file.ts';

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'Run one node (one role) in this process',
  usage: '--role ROLE [--code CODE] [--db SQLITE-PATH|POSTGRES-URL] [--pki DIR --peers FILE [--terminals FILE] [--transport https|nats --nats URL] [--desks FILE]] [--host HOST] [--port PORT] [--keystore DIR] [--json]',
  options: {
    role: { type: 'string' },
    code: { type: 'string' },
    db: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    keystore: { type: 'string' },
    pki: { type: 'string' },
    peers: { type: 'string' },
    terminals: { type: 'string' },
    transport: { type: 'string', default: 'https' },
    nats: { type: 'string' },
    desks: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  help: `
Options:
  --role ROLE    municipality, prefecture, national, agency, bureau, transfer, jpki or terminal
  --code CODE    the node's code: municipality code (131016), prefecture code (13), agency id;
                 national and jpki take none
  --db LOCATION  a SQLite file path, or a postgres://user@host:port/db URL
                 (default: <data dir>/<role>-<code>.sqlite, data dir $JUKI_DATA_DIR or .juki/data)
  --host HOST    address to listen on (default 127.0.0.1)
  --port PORT    TCP port (default 8392; 0 picks a free one)
  --keystore DIR the host key store (default $JUKI_KEYSTORE, else <data dir>/keystore)
  --pki DIR      the network PKI from juki pki init (ca.crt, nodes/<id>.crt and .key)
  --peers FILE   the topology file with every node's https://host:port address; this node
                 listens there with mutual TLS (Juki-net messages, identity-record queries)
                 and sends to the others' addresses. Without --pki/--peers the node runs
                 without Juki-net. The national center then serves each card's
                 basic-area keys, and the jpki node its card work, to municipalities'
                 CSs on that listener.
  --terminals FILE
                 a municipality: its counter terminals, {"version": 1, "terminals":
                 [{"id": "131016-counter-1", "url": "https://host:8394"}],
                 "rekeyTerminal": "..."} (the juki terminal agents it drives over mutual
                 TLS); with --pki/--peers. Without it the counter refuses card steps.
  --transport T  how Juki-net messages travel: https (default: pushed to the peers'
                 addresses) or nats (NATS JetStream at --nats: the outbox publishes to
                 the receivers' subjects, the inbox consumes this node's durable consumer;
                 identity-record queries and card reads stay on the HTTPS listener).
                 The node certificate is the NATS client certificate; run nats-server
                 with the configuration of 'juki pki nats-config'. While the server is
                 unreachable the node retries with backoff and its messages stay
                 pending (juki net pending), never dropped.
  --nats URL     with --transport nats: tls://host:port of nats-server
  --desks FILE   agency desk terminals, {"version": 1, "desks": [{"agency":
                 "agency-passport", "terminal": "passport-desk-1", "url":
                 "https://host:port", "reader": "desk-1"}]}: an agency verifies cards in
                 its desk's juki terminal (POST /<agency>/verify-card); the national
                 center reads them through that terminal's relay with its own
                 certificate (the terminal admits it with --relay-for national)
  --json         print the node and URL as one JSON line`,
  async run({ values, stdout, stderr }) {
    if (values.role === undefined) {
      throw new JukiError('JUKI_ERR_USAGE', "missing --role: usage: juki serve --role ROLE [--code CODE] [--db LOCATION]");
    }
    const spec = { role: parseRole(values.role as string), ...(values.code !== undefined ? { code: values.code as string } : {}) };
    const db = (values.db as string | undefined) ?? defaultDbLocation(spec);
    const port = parsePort(values.port as string | undefined, 8392);
    const keystoreDir = (values.keystore as string | undefined) ?? defaultKeystoreDir();
    if ((values.pki === undefined) !== (values.peers === undefined)) throw new JukiError('JUKI_ERR_USAGE', 'juki serve: --pki DIR and --peers FILE go together');
    const transport = values.transport as string;
    if (transport !== 'https' && transport !== 'nats') throw new JukiError('JUKI_ERR_USAGE', `--transport: expected https or nats, got ${JSON.stringify(transport)}`);
    if (transport === 'nats' && values.nats === undefined) throw new JukiError('JUKI_ERR_USAGE', '--transport nats: give the server with --nats tls://host:port');
    if (transport !== 'nats' && values.nats !== undefined) throw new JukiError('JUKI_ERR_USAGE', '--nats: only with --transport nats');
    if ((transport === 'nats' || values.desks !== undefined) && values.pki === undefined) {
      throw new JukiError('JUKI_ERR_USAGE', `${transport === 'nats' ? '--transport nats' : '--desks'}: needs the node certificate and the peers: give --pki DIR and --peers FILE too`);
    }
    const nats = values.nats !== undefined ? { servers: parseNatsUrl(values.nats as string) } : undefined;
    let network;
    if (values.pki !== undefined) {
      const topology = loadTopology(values.peers as string);
      network = {
        kind: 'https' as const, pki: loadPki(values.pki as string), topology,
        ...(nats ? { nats } : {}),
        ...(values.desks !== undefined ? { desks: loadDesks(values.desks as string, topology) } : {}),
        log: (line: string) => out(stderr, `juki serve: ${line}`),
      };
    }
    let terminals;
    if (values.terminals !== undefined) {
      if (spec.role !== 'municipality') throw new JukiError('JUKI_ERR_USAGE', `--terminals: only a municipality's CS drives counter terminals, not ${spec.role}`);
      if (!network) throw new JukiError('JUKI_ERR_USAGE', '--terminals: the CS drives its terminals over mutual TLS with its node certificate: give --pki DIR and --peers FILE too');
      terminals = loadTerminals(values.terminals as string);
    }
    const runtime = await startNodes([{ spec, db }], { host: values.host as string, port, keystoreDir, ...(network ? { network } : {}), ...(terminals ? { terminals } : {}) });
    const node = runtime.nodes[0]!;
    if (values.json) out(stdout, { url: runtime.url, node: { id: node.id, role: spec.role, db: node.database.location } });
    else {
      out(stdout, `juki serve: ${node.id} on ${node.database.dialect} (${node.database.location}); listening on ${runtime.url}`);
      for (const note of runtime.notes) out(stdout, note);
    }
    return runUntilSignalled(runtime, (line) => out(stderr, `juki serve: ${line}`));
  },
};

/** `--nats`: tls://host:port (the connection is mutual TLS; no credentials in the URL). */
export function parseNatsUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new JukiError('JUKI_ERR_USAGE', `--nats: expected tls://host:port, got ${JSON.stringify(text)}`);
  }
  if (u.protocol !== 'tls:' || !u.hostname || !u.port || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash || u.username || u.password) {
    throw new JukiError('JUKI_ERR_USAGE', `--nats: expected tls://host:port (mutual TLS with the node certificate, no path or credentials), got ${JSON.stringify(text)}`);
  }
  return `tls://${u.host}`;
}
