/** `juki serve`: one node in this process. */
import { loadTopology, parseRole } from '../../net/index.ts';
import { JukiError } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { defaultDbLocation, defaultKeystoreDir, parsePort, runUntilSignalled, startNodes } from '../runtime.ts';
import { loadPki } from '../network.ts';
import { loadTerminals } from '../terminals-file.ts';

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'Run one node (one role) in this process',
  usage: '--role ROLE [--code CODE] [--db SQLITE-PATH|POSTGRES-URL] [--pki DIR --peers FILE [--terminals FILE]] [--host HOST] [--port PORT] [--keystore DIR] [--json]',
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
    const network = values.pki !== undefined
      ? { kind: 'https' as const, pki: loadPki(values.pki as string), topology: loadTopology(values.peers as string) }
      : undefined;
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
