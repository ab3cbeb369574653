/**
 * The nats-server configuration of a Juki-net (docs/network.md, "NATS permissions"): mutual
 * TLS with `verify_and_map`, so the server itself maps each client certificate to a user named
 * by the certificate's node URI (`urn:juki:node:municipality:131016`), and each user may do only
 * what its node needs, whatever the client library does:
 *
 *   publish   juki.net.<every other node>                      send (JetStream stores it)
 *             $JS.API.INFO, $JS.API.STREAM.INFO.JUKI_NET         look up the account and the stream
 *             $JS.API.CONSUMER.CREATE.JUKI_NET.<id>.juki.net.<id> its own durable consumer, the filter
 *                                                               pinned in the subject (the server checks
 *                                                               it against the body's filter_subject)
 *             $JS.API.CONSUMER.INFO.JUKI_NET.<id>              its own consumer's state
 *             $JS.API.CONSUMER.MSG.NEXT.JUKI_NET.<id>          pull from its own consumer
 *             $JS.ACK.JUKI_NET.<id>.>                          ack, nak, term its own messages
 *             $JS.API.STREAM.CREATE.JUKI_NET                   the stream creator only (the national center)
 *   subscribe _INBOX_<id>.>                                    its own replies (connections use that inbox
 *                                                               prefix: nobody may listen to another's replies,
 *                                                               where pulled messages arrive)
 *
 * Nothing else: no subscription to `juki.net.*` (the core copy of a stored message), no other
 * consumer, no stream deletion, purge or update, no consumer deletion. A client without a
 * certificate of the network CA fails the handshake; one whose certificate names no node of the
 * topology maps to no user and is refused.
 */
import { nodeUri } from './pki.ts';
import type { Topology } from './topology.ts';

export const NATS_STREAM_NAME = 'JUKI_NET';

/** The subject a node receives on (as transports/nats.ts `natsSubject`). */
function subject(node: string): string {
  return `juki.net.${node}`;
}

/** The reply-subject prefix a node's connections use (`_INBOX_<node id>`). */
export function natsInboxPrefix(node: string): string {
  return `_INBOX_${node}`;
}

export interface NatsPermissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
}

/** What node `id` of `topology` may publish and subscribe to (see the module comment). */
export function natsPermissions(topology: Topology, id: string, options: { streamCreator?: string } = {}): NatsPermissions {
  const s = NATS_STREAM_NAME;
  const publish = [
    ...topology.nodes.filter((n) => n.id !== id).map((n) => subject(n.id)),
    '$JS.API.INFO',
    `$JS.API.STREAM.INFO.${s}`,
    `$JS.API.CONSUMER.CREATE.${s}.${id}.${subject(id)}`,
    `$JS.API.CONSUMER.INFO.${s}.${id}`,
    `$JS.API.CONSUMER.MSG.NEXT.${s}.${id}`,
    `$JS.ACK.${s}.${id}.>`,
    ...(id === (options.streamCreator ?? topology.national) ? [`$JS.API.STREAM.CREATE.${s}`] : []),
  ];
  return { publish: { allow: publish }, subscribe: { allow: [`${natsInboxPrefix(id)}.>`] } };
}

export interface NatsServerConfigOptions {
  readonly topology: Topology;
  /** Files the server reads: its certificate and key (juki pki nats-config issues them) and the network CA. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly host?: string;
  readonly port?: number;
  /** JetStream's store folder. */
  readonly storeDir: string;
  /** The node allowed to create the JUKI_NET stream (default the national center). */
  readonly streamCreator?: string;
}

/** The nats-server configuration text (nats-server 2.9 syntax; JSON values are valid in it). */
export function natsServerConfig(o: NatsServerConfigOptions): string {
  const q = (s: string) => JSON.stringify(s);
  const users = o.topology.nodes.map((n) => {
    const p = natsPermissions(o.topology, n.id, o.streamCreator ? { streamCreator: o.streamCreator } : {});
    return `    # ${n.id}\n    { user: ${q(nodeUri(n.spec))}, permissions: { publish: { allow: ${JSON.stringify(p.publish.allow)} }, subscribe: { allow: ${JSON.stringify(p.subscribe.allow)} } } }`;
  });
  return [
    '# Juki-net nats-server configuration, written by juki pki nats-config (docs/network.md).',
    '# Every client presents a node certificate of the network CA; verify_and_map makes its',
    '# SAN node URI the user, whose permissions are the only subjects it may use.',
    `host: ${q(o.host ?? '127.0.0.1')}`,
    `port: ${o.port ?? 4222}`,
    `jetstream { store_dir: ${q(o.storeDir)} }`,
    `tls { cert_file: ${q(o.certFile)}, key_file: ${q(o.keyFile)}, ca_file: ${q(o.caFile)}, verify_and_map: true, timeout: 5 }`,
    'authorization {',
    '  users = [',
    users.join(',\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
