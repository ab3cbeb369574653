/**
 * Node identity: the network CA and one certificate per node (docs/network.md, "Identity").
 *
 * Naming. A node certificate names its node in two places:
 *   subject  CN=<node id>, OU=<role>, O=Juki-net          e.g. CN=municipality-131016, OU=municipality, O=Juki-net
 *   SAN URI  urn:juki:node:<role>[:<code>]               e.g. urn:juki:node:municipality:131016, urn:juki:node:national
 * The SAN URI is the identity: authorisation reads it and nothing else (exactly one such URI,
 * in a certificate issued by the network CA, valid now, with the clientAuth or serverAuth
 * purpose used). The SAN also carries the DNS names / IP addresses the node serves on, for
 * ordinary TLS host-name checks.
 *
 * Keys are ECDSA P-256 (fast to make, small, supported by TLS 1.3 and by NATS): the CA signs
 * with ecdsa-with-SHA256; certificates have EKU serverAuth + clientAuth, so one certificate
 * serves both ends of mutual TLS.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, sign, verify, webcrypto, type KeyObject } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { isIP } from 'node:net';
import { JukiError } from '../util/index.ts';
import { checkNodeSpec, nodeId, ROLES, type NodeSpec, type Role } from './roles.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const URN_PREFIX = 'urn:juki:node:';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** The network CA: its certificate and private key, PEM. The key belongs offline once nodes are issued. */
export interface NetworkCa {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A node's certificate and private key (PKCS#8), PEM. */
export interface NodeCredentials {
  readonly spec: NodeSpec;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface IssueOptions {
  /** Validity start (default now). */
  readonly now?: Date;
  /** Days of validity (default 825 for nodes, 3650 for the CA). */
  readonly days?: number;
}

/** The SAN URI naming a node: `urn:juki:node:municipality:131016`, `urn:juki:node:national`. */
export function nodeUri(spec: NodeSpec): string {
  checkNodeSpec(spec);
  return spec.code === undefined ? `${URN_PREFIX}${spec.role}` : `${URN_PREFIX}${spec.role}:${spec.code}`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return b.toString('hex');
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

/** Make a network CA: a self-signed ECDSA P-256 certificate, `CN=Juki-net CA, O=Juki-net`. */
export async function createNetworkCa(options: IssueOptions = {}): Promise<NetworkCa> {
  const now = options.now ?? new Date();
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=Juki-net CA, O=Juki-net',
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (options.days ?? 3650) * 86_400_000),
    keys,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await pkcs8Pem(keys.privateKey) };
}

/**
 * Issue a node certificate under the network CA. `hosts` are the DNS names or IP addresses the
 * node serves on (added to the SAN for host-name checks); localhost and 127.0.0.1 are always in.
 */
export async function issueNodeCertificate(ca: NetworkCa, spec: NodeSpec, hosts: readonly string[] = [], options: IssueOptions = {}): Promise<NodeCredentials> {
  checkNodeSpec(spec);
  const { certPem, keyPem } = await issue(ca, `CN=${nodeId(spec)}, OU=${spec.role}, O=Juki-net`, [{ type: 'url', value: nodeUri(spec) }], hosts, [SERVER_AUTH, CLIENT_AUTH], options);
  return { spec, certPem, keyPem };
}

/**
 * A server certificate for network infrastructure that is not a node (the NATS server): no
 * node URI, so it can never pass as a node's identity; serverAuth only.
 */
export async function issueServiceCertificate(ca: NetworkCa, name: string, hosts: readonly string[] = [], options: IssueOptions = {}): Promise<{ certPem: string; keyPem: string }> {
  return issue(ca, `CN=${name}, OU=service, O=Juki-net`, [], hosts, [SERVER_AUTH], options);
}

async function issue(ca: NetworkCa, subject: string, uris: x509.JsonGeneralName[], hosts: readonly string[], eku: string[], options: IssueOptions): Promise<{ certPem: string; keyPem: string }> {
  const now = options.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.keyPem).export({ format: 'der', type: 'pkcs8' }), EC, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = new Set(['localhost', '127.0.0.1', ...hosts]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (options.days ?? 825) * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(eku),
      new x509.SubjectAlternativeNameExtension([
        ...uris,
        ...[...names].map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await pkcs8Pem(keys.privateKey) };
}

function asCertificate(cert: X509Certificate | string | Uint8Array): X509Certificate {
  if (cert instanceof X509Certificate) return cert;
  try {
    return new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch {
    throw new JukiError('JUKI_ERR_NET_DENIED', 'peer certificate: not a parsable X.509 certificate');
  }
}

/**
 * The node a certificate names, from its one `urn:juki:node:` SAN URI (see the naming above).
 * Checks the name only: call verifyNodeCertificate (or let TLS do it) for the chain.
 */
export function peerIdentity(cert: X509Certificate | string | Uint8Array): NodeSpec {
  const c = asCertificate(cert);
  // Node renders the SAN as `URI:urn:juki:node:municipality:131016, DNS:localhost, ...`;
  // our URIs contain neither ',' nor spaces, so splitting is exact for the entries we read.
  const uris = (c.subjectAltName ?? '').split(', ').filter((s) => s.startsWith(`URI:${URN_PREFIX}`)).map((s) => s.slice(4 + URN_PREFIX.length));
  if (uris.length !== 1) throw new JukiError('JUKI_ERR_NET_DENIED', `peer certificate: expected exactly one ${URN_PREFIX} SAN URI, found ${uris.length}`);
  const [role, code, ...rest] = uris[0]!.split(':');
  if (!role || !(role in ROLES) || rest.length) throw new JukiError('JUKI_ERR_NET_DENIED', `peer certificate: malformed node URI ${URN_PREFIX}${uris[0]}`);
  try {
    return checkNodeSpec(code === undefined ? { role: role as Role } : { role: role as Role, code });
  } catch (e) {
    throw new JukiError('JUKI_ERR_NET_DENIED', `peer certificate: ${(e as Error).message}`);
  }
}

/**
 * Verify a certificate as a node certificate of this network and return its node: issued and
 * signed by the CA, valid at `now`, not a CA, with the clientAuth purpose, naming one node.
 * Throws JUKI_ERR_NET_DENIED saying which check failed.
 */
export function verifyNodeCertificate(cert: X509Certificate | string | Uint8Array, caPem: string | X509Certificate, now: Date = new Date()): NodeSpec {
  const c = asCertificate(cert);
  const ca = caPem instanceof X509Certificate ? caPem : new X509Certificate(caPem);
  const deny = (why: string): JukiError => new JukiError('JUKI_ERR_NET_DENIED', `peer certificate: ${why}`);
  if (!c.checkIssued(ca) || !c.verify(ca.publicKey)) throw deny('not issued by the network CA');
  if (now < new Date(c.validFrom) || now > new Date(c.validTo)) throw deny(`not valid at ${now.toISOString()} (valid ${c.validFrom} to ${c.validTo})`);
  if (c.ca) throw deny('a CA certificate is not a node certificate');
  if (!(c.keyUsage ?? []).includes(CLIENT_AUTH)) throw deny('no clientAuth extended key usage');
  return peerIdentity(c);
}

/** The private key of a node, for signing. */
export function nodeKey(keyPem: string): KeyObject {
  return createPrivateKey(keyPem);
}

/** Sign bytes with a node's key: ECDSA P-256 over SHA-256, IEEE P1363 (r || s), base64. */
export function signAsNode(key: KeyObject | string, data: string | Uint8Array): string {
  return sign('sha256', typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { key: typeof key === 'string' ? createPrivateKey(key) : key, dsaEncoding: 'ieee-p1363' }).toString('base64');
}

/** Verify a signAsNode signature against the public key of a (verified) certificate. */
export function verifyNodeSignature(cert: X509Certificate | string, data: string | Uint8Array, signature: string): boolean {
  const c = asCertificate(cert);
  try {
    return verify('sha256', typeof data === 'string' ? Buffer.from(data, 'utf8') : data, { key: c.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
