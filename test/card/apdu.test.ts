import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandApdu, ResponseApdu, IsoError, SW, parseTlvs, tlv, parseDgis, dgi, concat } from '../../src/card/index.ts';
import { hex } from './helpers.ts';

const parse = (h: string) => CommandApdu.parse(hex(h));
const swOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof IsoError ? e.sw : -1;
  }
  return 0;
};

test('ISO 7816-4 §5.1: the four cases, short length', () => {
  const c1 = parse('00A4040C');
  assert.equal(c1.case, 1);
  const c2 = parse('00B0000000');
  assert.equal(c2.case, 2);
  assert.equal(c2.ne, 256, 'Le 00 means 256');
  const c3 = parse('0020008104 31323334');
  assert.equal(c3.case, 3);
  assert.deepEqual([...c3.data], [0x31, 0x32, 0x33, 0x34]);
  const c4 = parse('80500000 08 0102030405060708 00');
  assert.equal(c4.case, 4);
  assert.equal(c4.ne, 256);
  assert.equal(c4.data.length, 8);
});

test('ISO 7816-4 §5.1: the four cases, extended length', () => {
  const c2 = parse('00B00000 000000');
  assert.equal(c2.case, 2);
  assert.equal(c2.ne, 65536, 'extended Le 0000 means 65536');
  assert.ok(c2.extended);
  const data = new Uint8Array(300).fill(7);
  const c3 = CommandApdu.parse(concat(hex('00D60000 00012C'), data));
  assert.equal(c3.case, 3);
  assert.equal(c3.data.length, 300);
  const c4 = CommandApdu.parse(concat(hex('00D60000 00012C'), data, hex('0100')));
  assert.equal(c4.case, 4);
  assert.equal(c4.ne, 256);
});

test('ISO 7816-4 §5.1: inconsistent lengths answer 6700', () => {
  for (const h of ['', '00', '00A404', '00A4040C05 0102', '00A4040C02 010203 0000', '00B0000000 00', '00B00000 0001', '00B00000 000000 00', '00D60000 0000 05 00']) {
    assert.equal(swOf(() => parse(h)), SW.WRONG_LENGTH, h);
  }
});

test('CommandApdu round-trips through encode/parse for every case and length (property)', () => {
  fc.assert(
    fc.property(
      fc.record({
        cla: fc.integer({ min: 0, max: 255 }),
        ins: fc.integer({ min: 0, max: 255 }),
        p1: fc.integer({ min: 0, max: 255 }),
        p2: fc.integer({ min: 0, max: 255 }),
        data: fc.uint8Array({ maxLength: 600 }),
        ne: fc.option(fc.integer({ min: 1, max: 65536 }), { nil: undefined }),
      }),
      (f) => {
        const a = CommandApdu.of(f);
        const b = CommandApdu.parse(a.encode());
        assert.deepEqual([b.cla, b.ins, b.p1, b.p2, b.ne, [...b.data]], [f.cla, f.ins, f.p1, f.p2, f.ne, [...f.data]]);
      },
    ),
    { numRuns: 300 },
  );
});

test('traces: toString prints header, Lc, data and Ne; ResponseApdu names the status', () => {
  assert.equal(parse('00A4040C02 0001').toString(), '00 A4 04 0C [Lc=2] 0001');
  assert.equal(parse('00B0000010').toString(), '00 B0 00 00 [Ne=16]');
  assert.equal(ResponseApdu.parse(hex('63C2')).toString(), '63C2 wrong PIN, 2 tries left');
  assert.equal(ResponseApdu.parse(hex('01029000')).toString(), '[2 bytes] 0102 9000 ok');
});

test('BER-TLV and DGI codecs round-trip and refuse truncation with 6A80', () => {
  const t = concat(tlv(0x84, hex('A000000151000000')), tlv(0x9f70, hex('07')), tlv(0x53, new Uint8Array(200)));
  const parsed = parseTlvs(t);
  assert.deepEqual(parsed.map((x) => x.tag), [0x84, 0x9f70, 0x53]);
  assert.equal(parsed[2]!.value.length, 200);
  assert.equal(swOf(() => parseTlvs(t.subarray(0, t.length - 1))), SW.INCORRECT_DATA);
  const d = concat(dgi(0x0002, hex('3132')), dgi(0x8f01, new Uint8Array(300)));
  const pd = parseDgis(d);
  assert.deepEqual(pd.map((x) => [x.dgi, x.value.length]), [[2, 2], [0x8f01, 300]]);
  assert.equal(swOf(() => parseDgis(d.subarray(0, 10))), SW.INCORRECT_DATA);
});
