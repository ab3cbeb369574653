import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorise, encodeEnvelope, parseEnvelope, parseNodeId, type Envelope } from '../../src/net/index.ts';
import { isJukiError } from '../../src/util/index.ts';

const env: Envelope<'card.status'> = {
  v: 1, id: 'm-1', type: 'card.status', from: 'municipality-131016', to: 'prefecture-13', key: 'C0001', seq: 1,
  createdAt: '2025-04-01T00:00:00.000Z',
  body: { cardNumber: 'C0001', status: 'suspended', issuer: '131016', version: 2, changedAt: '2025-04-01T00:00:00.000Z' },
};

test('an envelope encodes canonically (sorted keys, no spaces) and parses back to the same value', () => {
  const text = encodeEnvelope(env);
  assert.equal(text.slice(0, 30), '{"body":{"cardNumber":"C0001",');
  assert.ok(!text.includes(' '));
  assert.deepEqual(parseEnvelope(text), env);
  assert.equal(encodeEnvelope(parseEnvelope(text)), text);
});

test('envelope validation names the first bad field and what was expected', () => {
  const cases: [unknown, RegExp][] = [
    ['not json', /^envelope: expected JSON/],
    [{ ...env, v: 2 }, /^envelope\.v: expected 1, got number 2/],
    [{ ...env, type: 'card.lost' }, /^envelope\.type: expected one of card\.status, /],
    [{ ...env, from: 'mayor-1' }, /^envelope\.from: expected a node id/],
    [{ ...env, seq: 0 }, /^envelope\.seq: expected an integer >= 1, got number 0/],
    [{ ...env, key: 'C0002' }, /^envelope\.key: expected "C0001" \(the ordering key of this card.status body\), got "C0002"/],
    [{ ...env, body: { ...env.body, status: 'lost' } }, /^envelope\.body\.status: expected one of active, suspended, abolished, collected, got "lost"/],
    [{ ...env, body: { ...env.body, pin: '1234' } }, /^envelope\.body\.pin: unexpected field/],
    [{ ...env, extra: 1 }, /^envelope\.extra: unexpected field/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => parseEnvelope(typeof input === 'string' ? input : JSON.stringify(input)), (e: unknown) => isJukiError(e, 'JUKI_ERR_INVALID_INPUT') && re.test(e.message), String(re));
  }
});

test('node ids parse to node specs and refuse malformed ones', () => {
  assert.deepEqual(parseNodeId('municipality-131016'), { role: 'municipality', code: '131016' });
  assert.deepEqual(parseNodeId('national'), { role: 'national' });
  assert.throws(() => parseNodeId('national-1'), /takes no code/);
  assert.throws(() => parseNodeId('prefecture-48'), /prefecture code is 2 digits/);
});

const m131016 = { role: 'municipality', code: '131016' } as const;
const p13 = { role: 'prefecture', code: '13' } as const;

test('the authoriser allows a municipality\'s status notice to its own prefecture', () => {
  assert.deepEqual(authorise({ peer: m131016, receiver: p13, type: 'card.status', from: 'municipality-131016', to: 'prefecture-13' }), { allow: true });
  assert.deepEqual(authorise({ peer: p13, receiver: { role: 'national' }, type: 'card.status', from: 'prefecture-13', to: 'national' }), { allow: true });
  assert.deepEqual(authorise({ peer: { role: 'national' }, receiver: { role: 'agency', code: 'passport' }, type: 'agency.notice', from: 'national', to: 'agency-passport' }), { allow: true });
});

test('the authoriser denies by default: no certificate, spoofed sender, wrong receiver, unknown type, route not allowed, other prefecture', () => {
  const base = { peer: m131016, receiver: p13, type: 'card.status', from: 'municipality-131016', to: 'prefecture-13' } as const;
  const denied: [Parameters<typeof authorise>[0], RegExp][] = [
    [{ ...base, peer: null }, /no valid certificate/],
    [{ ...base, from: 'municipality-131024' }, /declared sender "municipality-131024" is not the certificate's node municipality-131016/],
    [{ ...base, to: 'prefecture-14' }, /addressed to "prefecture-14", but this node is prefecture-13/],
    [{ ...base, type: 'card.lost' }, /unknown message type/],
    [{ ...base, type: 'agency.notice' }, /a municipality may not send agency.notice to a prefecture/],
    [{ ...base, peer: { role: 'agency', code: 'passport' }, from: 'agency-passport' }, /an? agency may not send card.status/],
    [{ ...base, peer: { role: 'municipality', code: '141003' }, from: 'municipality-141003' }, /municipality 141003 reports to prefecture 14, not 13/],
  ];
  for (const [req, re] of denied) {
    const d = authorise(req);
    assert.equal(d.allow, false);
    assert.match((d as { why: string }).why, re);
  }
});
