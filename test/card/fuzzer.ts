/**
 * The card fuzzer: fast-check generated APDUs, mutations of a valid session's APDUs, and valid
 * commands, sent to a fully personalised card (every area installed). Checked on every
 * response: transmit never throws, the answer is at least SW1 SW2 with a status word from the
 * catalogue, no response carries a PIN, a key or any basic/ordinance-area secret (the fuzzer
 * never holds a channel, so none may leave), and afterwards the card still works.
 */
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { BASIC_AID, ISD_AID, OPERATOR_AID, SW, isSuccessOrWarning } from '../../src/card/index.ts';
import { activeCard, ascii, hex, KEYS, ORD_A_AID, ORD_B_AID, PERSON, readResidentCode, type MadeCard } from './helpers.ts';

const KNOWN_SW = new Set<number>(Object.values(SW));
const PIN = '1234';

/** APDUs of a valid session (the corpus mutations start from). */
function corpus(): Uint8Array[] {
  const sel = (aid: Uint8Array) => Uint8Array.of(0, 0xa4, 4, 0x0c, aid.length, ...aid);
  return [
    sel(BASIC_AID), sel(ISD_AID), sel(OPERATOR_AID), sel(ORD_A_AID), sel(ORD_B_AID),
    Uint8Array.of(0, 0x20, 0, 0x81, 4, ...ascii(PIN)),
    hex('00200081'), hex('00A4020C020002'), hex('00A40204020006 00'), hex('00B0000010'), hex('00B0820000'), hex('00B0860000'),
    hex('00D6860004 41424344'), hex('0024010104 35353535'), hex('00240081 08 3132333435363738'), hex('002C0381'),
    hex('8050000008 0102030405060708 00'), hex('8050300008 0102030405060708 00'), hex('8050010008 0102030405060708 00'),
    hex('8482330010 00112233445566778899AABBCCDDEEFF'), hex('84B0820008 0011223344556677 00'),
    hex('80CA004500'), hex('80CA9F7000'), hex('80CA00E000'), hex('80F2400202 4F00 00'),
    hex('80E60C0020 00 0A D392F0004A554B491000 0A D392F0004A554B491077 0100 02C900 00'),
    hex('80E2800005 0002023131'), hex('80D8FF8103 010203'), hex('80F08007'), hex('80F080FF'),
    hex('00880084 08 0102030405060708 00'), hex('0084000008'), hex('00C0000000'),
    hex('00B00000 000000'), hex('00D60000 000003 414243'),
  ];
}

const cla = fc.constantFrom(0x00, 0x80, 0x84, 0x04, 0x0c, 0x10, 0x01, 0xff, 0x40, 0x90).chain((c) => fc.oneof(fc.constant(c), fc.integer({ min: 0, max: 255 })));
const ins = fc.oneof(fc.constantFrom(0xa4, 0xb0, 0xd6, 0x20, 0x24, 0x2c, 0x84, 0x88, 0xc0, 0x50, 0x82, 0xe6, 0xe2, 0xe4, 0xd8, 0xf0, 0xf2, 0xca, 0x2a), fc.integer({ min: 0, max: 255 }));
const byte = fc.integer({ min: 0, max: 255 });

/** A structured APDU: header + optional data + optional Le, short or extended, sometimes with wrong lengths. */
const structured = fc
  .record({ cla, ins, p1: byte, p2: byte, data: fc.uint8Array({ maxLength: 300 }), le: fc.option(fc.integer({ min: 0, max: 65536 }), { nil: undefined }), ext: fc.boolean(), lie: fc.integer({ min: -2, max: 2 }) })
  .map(({ cla, ins, p1, p2, data, le, ext, lie }) => {
    const out = [cla, ins, p1, p2];
    const lc = Math.max(0, data.length + (lie === 2 ? 1 : lie === -2 ? -1 : 0));
    if (ext || data.length > 255 || (le ?? 0) > 256) {
      if (data.length || le !== undefined) out.push(0);
      if (data.length) out.push(lc >> 8, lc & 0xff, ...data);
      if (le !== undefined) out.push((le >> 8) & 0xff, le & 0xff);
    } else {
      if (data.length) out.push(lc & 0xff, ...data);
      if (le !== undefined) out.push(le & 0xff);
    }
    return Uint8Array.from(out);
  });

const CORPUS = corpus();
/** A corpus APDU with mutations: bit flips, byte replacements, truncation, extension. */
const mutated = fc
  .record({ i: fc.integer({ min: 0, max: CORPUS.length - 1 }), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 3 }), cut: fc.option(fc.nat(), { nil: undefined }), tail: fc.uint8Array({ maxLength: 4 }) })
  .map(({ i, flips, cut, tail }) => {
    let b = Uint8Array.from(CORPUS[i]!);
    for (const [at, bit] of flips) if (b.length) b[at % b.length]! ^= 1 << bit;
    if (cut !== undefined && b.length) b = b.subarray(0, cut % (b.length + 1));
    return new Uint8Array([...b, ...tail]);
  });

const raw = fc.uint8Array({ maxLength: 40 });
const action = fc.oneof(
  { weight: 100, arbitrary: structured.map((b) => ({ kind: 'apdu' as const, b })) },
  { weight: 100, arbitrary: mutated.map((b) => ({ kind: 'apdu' as const, b })) },
  { weight: 20, arbitrary: raw.map((b) => ({ kind: 'apdu' as const, b })) },
  { weight: 20, arbitrary: fc.constantFrom(...CORPUS).map((b) => ({ kind: 'apdu' as const, b })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const, b: new Uint8Array(0) }) },
);

const SECRETS = [PERSON.residentCode, PERSON.face, 'LIB-A-0001', 'A-SECRET-SERVICE-DATA', 'SEAL-B-0002', 'B-SECRET-SERVICE-DATA'].map((s) => Buffer.from(s));
const KEY_BYTES = Object.values(KEYS).flatMap((k) => [k.enc, k.mac, k.dek]).map((k) => Buffer.from(k));

/** Check one exchange's answer. */
function checkResponse(cmd: Uint8Array, r: Uint8Array): void {
  assert.ok(r.length >= 2, 'never an empty response');
  const sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
  assert.ok(KNOWN_SW.has(sw) || (sw & 0xff00) === 0x6100 || (sw & 0xfff0) === 0x63c0, `unknown SW ${sw.toString(16)} for ${Buffer.from(cmd).toString('hex')}`);
  if (r.length > 2) assert.ok(isSuccessOrWarning(sw), `data with an error SW ${sw.toString(16)}`);
  const body = Buffer.from(r);
  for (const s of SECRETS) assert.equal(body.includes(s), false, `a secret left the card for ${Buffer.from(cmd).toString('hex')}`);
  for (const k of KEY_BYTES) assert.equal(body.includes(k), false, `a key left the card for ${Buffer.from(cmd).toString('hex')}`);
  const isChallenge = cmd.length >= 2 && cmd[1] === 0x84;
  if (!isChallenge && r.length > 2) assert.equal(body.subarray(0, -2).includes(Buffer.from(PIN)), false, 'the PIN left the card');
}

/** The card still works: power-cycle, and if the fuzzer blocked or changed the PIN, unblock it over the issuer channel and set it again. */
function stillWorks(m: MadeCard): void {
  m.card.reset();
  const h = m.host;
  let r = readResidentCode(h, PIN);
  if (r.sw !== 0x9000) {
    h.select(BASIC_AID);
    assert.equal(h.open(KEYS.issuer, 0x33), 0x9000, 'the issuer channel still opens');
    assert.equal(h.secure(0x00, 0x2c, 0x03, 0x81).sw, 0x9000);
    assert.equal(h.send(0x00, 0x24, 0x01, 0x81, ascii(PIN)).sw, 0x9000);
    r = readResidentCode(h, PIN);
  }
  assert.equal(r.sw, 0x9000, `after fuzzing the resident code read answers ${r.sw.toString(16)}`);
  assert.equal(Buffer.from(r.data).toString(), PERSON.residentCode);
}

export interface FuzzResult {
  apdus: number;
}

/** Run `runs` × `perRun` APDUs (each run on a fresh card); throws (via fast-check, with a shrunk counterexample) on any failure. */
export function fuzzCard(o: { runs: number; perRun: number; seed?: number; onProgress?: (apdus: number) => void }): FuzzResult {
  let apdus = 0;
  fc.assert(
    fc.property(fc.array(action, { minLength: o.perRun, maxLength: o.perRun }), (actions) => {
      const m = activeCard({ operator: true, ordinance: true, pin: PIN });
      for (const a of actions) {
        if (a.kind === 'reset') {
          m.card.reset();
          continue;
        }
        const r = m.card.transmit(a.b); // must not throw
        apdus++;
        checkResponse(a.b, r);
      }
      stillWorks(m);
      o.onProgress?.(apdus);
    }),
    { numRuns: o.runs, ...(o.seed === undefined ? {} : { seed: o.seed }), endOnFailure: false },
  );
  return { apdus };
}
