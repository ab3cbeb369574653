import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createNetworkCa, issueNodeCertificate, nodeUri, peerIdentity, signAsNode, verifyNodeCertificate, verifyNodeSignature } from '../../src/net/index.ts';

const ca = await createNetworkCa();
const other = await createNetworkCa();
const m = await issueNodeCertificate(ca, { role: 'municipality', code: '131016' }, ['cs.example.jp']);

test('a node certificate names role and code in its SAN URI and subject, for client and server use', () => {
  const c = new X509Certificate(m.certPem);
  assert.equal(nodeUri({ role: 'municipality', code: '131016' }), 'urn:juki:node:municipality:131016');
  assert.match(c.subjectAltName!, /URI:urn:juki:node:municipality:131016/);
  assert.match(c.subjectAltName!, /DNS:cs\.example\.jp/);
  assert.match(c.subject, /CN=municipality-131016/);
  assert.deepEqual([...c.keyUsage!].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(c.ca, false);
  assert.deepEqual(peerIdentity(c), { role: 'municipality', code: '131016' });
  assert.deepEqual(verifyNodeCertificate(m.certPem, ca.certPem), { role: 'municipality', code: '131016' });
});

test('a certificate from another CA, an expired one, or the CA itself is not a node identity', async () => {
  const foreign = await issueNodeCertificate(other, { role: 'national' });
  assert.throws(() => verifyNodeCertificate(foreign.certPem, ca.certPem), /not issued by the network CA/);
  const old = await issueNodeCertificate(ca, { role: 'national' }, [], { now: new Date('2020-01-01T00:00:00Z'), days: 1 });
  assert.throws(() => verifyNodeCertificate(old.certPem, ca.certPem), /not valid at/);
  assert.throws(() => verifyNodeCertificate(ca.certPem, ca.certPem), /CA certificate is not a node certificate|no clientAuth|exactly one/);
});

test('node signatures verify under the node certificate and fail for other data or keys', async () => {
  const sig = signAsNode(m.keyPem, 'hello');
  assert.equal(verifyNodeSignature(m.certPem, 'hello', sig), true);
  assert.equal(verifyNodeSignature(m.certPem, 'hellp', sig), false);
  const n = await issueNodeCertificate(ca, { role: 'national' });
  assert.equal(verifyNodeSignature(n.certPem, 'hello', sig), false);
});
