/** `juki serve`: one node in this process. */
import { parseRole } from '../../net/index.ts';
import { JukiError } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { defaultDbLocation, defaultKeystoreDir, parsePort, runUntilSignalled, startNodes } from '../runtime.ts';

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'Run one node (one role) in this process',
  usage: '--role ROLE [--code CODE] [--db SQLITE-PATH|POSTGRES-URL] [--host HOST] [--port PORT] [--keystore DIR] [--json]',
  options: {
    role: { type: 'string' },
    code: { type: 'string' },
    db: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    keystore: { type: 'string' },
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
  --json         print the node and URL as one JSON line`,
  async run({ values, stdout, stderr }) {
    if (values.role === undefined) {
      throw new JukiError('JUKI_ERR_USAGE', "missing --role: usage: juki serve --role ROLE [--code CODE] [--db LOCATION]");
    }
    const spec = { role: parseRole(values.role as string), ...(values.code !== undefined ? { code: values.code as string } : {}) };
    const db = (values.db as string | undefined) ?? defaultDbLocation(spec);
    const port = parsePort(values.port as string | undefined, 8392);
    const keystoreDir = (values.keystore as string | undefined) ?? defaultKeystoreDir();
    const runtime = await startNodes([{ spec, db }], { host: values.host as string, port, keystoreDir });
    const node = runtime.nodes[0]!;
    if (values.json) out(stdout, { url: runtime.url, node: { id: node.id, role: spec.role, db: node.database.location } });
    else {
      out(stdout, `juki serve: ${node.id} on ${node.database.dialect} (${node.database.location}); listening on ${runtime.url}`);
      for (const note of runtime.notes) out(stdout, note);
    }
    return runUntilSignalled(runtime, (line) => out(stderr, `juki serve: ${line}`));
  },
};
