/** `juki pki init`: the network CA and one certificate per node of a topology. */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetworkCa, issueNodeCertificate, loadTopology } from '../../net/index.ts';
import { JukiError } from '../../util/index.ts';
import { type Command, out } from '../command.ts';

export const pkiInitCommand: Command = {
  path: ['pki', 'init'],
  summary: 'Make the Juki-net CA and a certificate and key for every node of a topology',
  usage: '--topology FILE --out DIR [--json]',
  options: { topology: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean', default: false } },
  help: `
Reads a topology file (docs/network.md) and writes, under DIR:
  ca.crt             the network CA certificate (ECDSA P-256), given to every node
  ca.key             the CA private key (mode 0600): keep it offline once nodes are issued
  nodes/<id>.crt     each node's certificate: SAN URI urn:juki:node:<role>[:<code>], the host
                     of its address, localhost and 127.0.0.1; serverAuth + clientAuth
  nodes/<id>.key     each node's private key, PKCS#8 PEM (mode 0600)
Refuses to overwrite an existing ca.crt.

Options:
  --topology FILE   the topology (JSON)
  --out DIR         where to write (created if missing)
  --json            print {"ca", "nodes": [{"id", "cert", "key"}]} as one JSON line`,
  async run({ values, stdout }) {
    if (values.topology === undefined || values.out === undefined) throw new JukiError('JUKI_ERR_USAGE', 'missing --topology FILE or --out DIR: usage: juki pki init --topology FILE --out DIR');
    const topology = loadTopology(values.topology as string);
    const dir = values.out as string;
    if (existsSync(join(dir, 'ca.crt'))) throw new JukiError('JUKI_ERR_CONFLICT', `pki: ${join(dir, 'ca.crt')} exists: refusing to replace a network CA (choose another --out)`, { field: 'out' });
    try {
      mkdirSync(join(dir, 'nodes'), { recursive: true });
    } catch (e) {
      throw new JukiError('JUKI_ERR_FILE', `pki: cannot create ${dir}: ${(e as Error).message}`, { field: 'out' });
    }
    const ca = await createNetworkCa();
    writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), ca.certPem, { mode: 0o644 });
    const nodes = [];
    for (const node of topology.nodes) {
      const hosts = node.address ? [new URL(node.address).hostname.replace(/^\[|\]$/g, '')] : [];
      const creds = await issueNodeCertificate(ca, node.spec, hosts);
      const cert = join(dir, 'nodes', `${node.id}.crt`);
      const key = join(dir, 'nodes', `${node.id}.key`);
      writeFileSync(key, creds.keyPem, { mode: 0o600 });
      writeFileSync(cert, creds.certPem, { mode: 0o644 });
      nodes.push({ id: node.id, cert, key });
    }
    if (values.json) out(stdout, { ca: join(dir, 'ca.crt'), nodes });
    else {
      out(stdout, `juki pki init: network CA ${join(dir, 'ca.crt')} (key ${join(dir, 'ca.key')}: keep it offline)`);
      out(stdout, `  ${nodes.length} node certificates under ${join(dir, 'nodes')}`);
    }
    return 0;
  },
};
