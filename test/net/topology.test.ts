import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TOPOLOGY, parseTopology, prefectures, subsetTopology } from '../../src/net/index.ts';
import { DEFAULT_NETWORK } from '../../src/cli/commands/up.ts';
import { isJukiError } from '../../src/util/index.ts';

test('the prefecture list has the 47 prefectures, 01 to 47', () => {
  const p = prefectures();
  assert.equal(p.size, 47);
  assert.equal(p.get('13')!.nameEn, 'Tokyo');
  assert.equal(p.get('01')!.name, '北海道');
});

test('the default topology is the network juki up starts', () => {
  const t = parseTopology(DEFAULT_TOPOLOGY);
  assert.deepEqual(t.nodes.map((n) => n.spec), DEFAULT_NETWORK);
  assert.equal(t.prefectureOf('131024'), 'prefecture-13');
});

test('the whole country: one national center, 47 prefecture servers, one CS per municipality', () => {
  const t = parseTopology(subsetTopology({ agencies: ['passport', 'pension'] }));
  const count = (role: string) => t.nodes.filter((n) => n.spec.role === role).length;
  assert.deepEqual([count('national'), count('prefecture'), count('municipality'), count('agency'), count('jpki')], [1, 47, 1741, 2, 1]);
  assert.deepEqual(t.agencies, ['agency-passport', 'agency-pension']);
});

test('a subset of prefectures, with addresses, is a valid topology', () => {
  const file = subsetTopology({ prefectures: ['13', '27'], municipalitiesPerPrefecture: 2, jpki: false });
  const t = parseTopology({ ...file, nodes: file.nodes.map((n, i) => ({ ...n, address: `https://127.0.0.1:${9000 + i}` })) });
  assert.equal(t.nodes.length, 1 + 2 * 3);
  assert.equal(t.node('prefecture-27')!.address, 'https://127.0.0.1:9004');
});

test('topology validation names the entry and what is wrong', () => {
  const nodes = DEFAULT_TOPOLOGY.nodes;
  const cases: [unknown, RegExp][] = [
    [{ version: 2, nodes }, /^topology\.version: expected 1, got 2/],
    [{ version: 1, nodes: [] }, /^topology\.nodes: expected a non-empty array/],
    [{ version: 1, nodes: [...nodes, { role: 'municipality', code: '131017' }] }, /^topology\.nodes\[6\]\.code: municipality 131017 is not in the municipality list/],
    [{ version: 1, nodes: [...nodes, { role: 'prefecture', code: '48' }] }, /^topology\.nodes\[6\]\.code: expected a two-digit prefecture code 01-47/],
    [{ version: 1, nodes: [...nodes, { role: 'municipality', code: '131016' }] }, /^topology\.nodes\[6\]: municipality-131016 is listed twice \(also nodes\[2\]\)/],
    [{ version: 1, nodes: [...nodes, { role: 'municipality', code: '141003' }] }, /^topology\.nodes\[6\]: municipality 141003 needs its prefecture server, but \{"role": "prefecture", "code": "14"\} is not listed/],
    [{ version: 1, nodes: nodes.slice(1) }, /^topology\.nodes: no national center/],
    [{ version: 1, nodes: [...nodes, { role: 'terminal', code: 'x' }] }, /^topology\.nodes\[6\]\.role: expected one of national, prefecture, municipality, agency, jpki, got "terminal"/],
    [{ version: 1, nodes: [{ role: 'national', address: 'http://a:1' }] }, /^topology\.nodes\[0\]\.address: expected an https:\/\/ URL/],
    [{ version: 1, nodes: [{ role: 'national', address: 'https://a' }] }, /^topology\.nodes\[0\]\.address: expected an explicit port/],
    [{ version: 1, nodes: [{ role: 'national' }, { role: 'agency', code: 'Passport' }] }, /^topology\.nodes\[1\]\.code: expected an agency id/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => parseTopology(input), (e: unknown) => isJukiError(e, 'JUKI_ERR_NET_TOPOLOGY') && re.test(e.message), String(re));
  }
});
