/** `juki pki nats-config`: the nats-server configuration of a Juki-net, with per-node permissions. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { issueServiceCertificate, loadTopology, natsServerConfig } from '../../net/index.ts';
import { JukiError, invalid } from '../../util/index.ts';
import { type Command, out } from '../command.ts';
import { parsePort } from '../runtime.ts';


export const pkiNatsConfigCommand: Command = {
  path: ['pki', 'nats-config'],
  summary: 'Write the nats-server configuration of a Juki-net: mutual TLS, each node certificate mapped to a user allowed only its own subjects',
  usage: '--pki DIR --topology FILE --out FILE [--host HOST] [--port PORT] [--store DIR] [--json]',
  options: {
    pki: { type: 'string' }, topology: { type: 'string' }, out: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, store: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  help: `
Writes FILE, a nats-server configuration (nats-server -c FILE) for the nodes of the topology:
  tls { verify_and_map: true }   a client must present a certificate of the network CA; the
                                 server maps its SAN node URI (urn:juki:node:...) to a user
  authorization.users            one user per node, allowed to publish only to the other
                                 nodes' juki.net.<id> subjects and the JetStream API of its
                                 own durable consumer (create with its own filter, info, next,
                                 ack), and to subscribe only to its own replies (_INBOX_<id>.>);
                                 the national center alone may create the JUKI_NET stream
                                 (on its first start). Nobody may read another node's subject
                                 or consumer, or delete or purge the stream.
and, under the PKI folder, the server's certificate nats-server.crt/.key (issued with ca.key
when missing; serverAuth only, no node URI: it can never pass as a node).

Options:
  --pki DIR        the 'juki pki init' folder (ca.crt; ca.key to issue the server certificate)
  --topology FILE  the topology (the same peers file the nodes use)
  --out FILE       where to write the configuration
  --host HOST      address nats-server listens on, also put in its certificate (default 127.0.0.1)
  --port PORT      its port (default 4222)
  --store DIR      JetStream's store folder (default <pki dir>/nats-js)
  --json           print {"config", "cert", "key", "users"} as one JSON line`,
  async run({ values, stdout }) {
    if (values.pki === undefined || values.topology === undefined || values.out === undefined) {
      throw new JukiError('JUKI_ERR_USAGE', 'missing --pki DIR, --topology FILE or --out FILE: usage: juki pki nats-config --pki DIR --topology FILE --out FILE');
    }
    const dir = resolve(values.pki as string);
    const host = values.host as string;
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw invalid('--host', `expected a host name or address, got ${JSON.stringify(host)}`);
    const port = parsePort(values.port as string | undefined, 4222);
    if (port === 0) throw invalid('--port', 'nats-server needs a fixed port (1-65535)');
    const topology = loadTopology(values.topology as string);
    const caFile = join(dir, 'ca.crt');
    if (!existsSync(caFile)) throw new JukiError('JUKI_ERR_FILE', `--pki: no ${caFile} (make the network PKI with juki pki init)`, { field: '--pki' });
    const certFile = join(dir, 'nats-server.crt');
    const keyFile = join(dir, 'nats-server.key');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      const caKey = join(dir, 'ca.key');
      if (!existsSync(caKey)) throw new JukiError('JUKI_ERR_FILE', `--pki: no ${certFile} and no ca.key to issue it: run this where the CA key is kept`, { field: '--pki' });
      const issued = await issueServiceCertificate({ certPem: readFileSync(caFile, 'utf8'), keyPem: readFileSync(caKey, 'utf8') }, 'nats-server', [host]);
      writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
      writeFileSync(certFile, issued.certPem, { mode: 0o644 });
    }
    const store = values.store !== undefined ? (values.store as string) : join(dir, 'nats-js');
    const text = natsServerConfig({ topology, certFile, keyFile, caFile, host, port, storeDir: isAbsolute(store) ? store : resolve(store) });
    try {
      writeFileSync(values.out as string, text, { mode: 0o644 });
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `--out: cannot write ${values.out as string}: ${(e as Error).message}`, { field: '--out' });
    }
    if (values.json) out(stdout, { config: values.out, cert: certFile, key: keyFile, users: topology.nodes.map((n) => n.id) });
    else {
      out(stdout, `juki pki nats-config: ${values.out as string} for ${topology.nodes.length} nodes (server certificate ${certFile})`);
      out(stdout, `  run: nats-server -c ${values.out as string}; nodes: juki serve ... --transport nats --nats tls://${host}:${port}`);
    }
    return 0;
  },
};
