/** Host ↔ card round trips at every security level, and tamper detection, as properties (fast-check). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Scp03CardChannel, Scp03HostChannel, SECURITY_LEVELS, swCarriesRmac, type CommandFields, type Scp03StaticKeys, type SecurityLevel,
} from '../../src/crypto/index.ts';
import { hex } from './apdu.ts';

const keyBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const keySet: fc.Arbitrary<Scp03StaticKeys> = fc.constantFrom(16, 24, 32).chain((n) =>
  fc.record({ enc: keyBytes(n), mac: keyBytes(n), dek: keyBytes(n), kvn: fc.integer({ min: 1, max: 0xff }) }));

const command: fc.Arbitrary<CommandFields> = fc.record({
  cla: fc.constantFrom(0x00, 0x01, 0x10, 0x80, 0x81, 0x82, 0x90, 0xa0, 0xe3),
  ins: fc.integer({ min: 0, max: 0xff }),
  p1: fc.integer({ min: 0, max: 0xff }),
  p2: fc.integer({ min: 0, max: 0xff }),
  data: fc.uint8Array({ maxLength: 300 }),
  le: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: undefined }),
}).map((c) => {
  const out: CommandFields = { cla: c.cla, ins: c.ins, p1: c.p1, p2: c.p2, data: c.data };
  if (c.le !== undefined) out.le = c.le;
  return out;
});
const sw = fc.oneof(fc.constant(0x9000), fc.integer({ min: 0x6200, max: 0x63ff }), fc.constantFrom(0x6982, 0x6a82, 0x6d00, 0x6700));

function open(keys: Scp03StaticKeys, level: SecurityLevel, hostChallenge: Uint8Array, cardChallenge: Uint8Array, pseudo: boolean) {
  const card = new Scp03CardChannel({
    keys, diversificationData: hex('00112233445566778899'),
    challenge: pseudo ? { mode: 'pseudo-random', sequenceCounter: 7, context: hex('A0000001510000') } : { mode: 'random', random: () => cardChallenge.slice() },
  });
  const host = new Scp03HostChannel({ keys, level, hostChallenge });
  const iu = card.initializeUpdate(host.initializeUpdateCommand(0));
  assert.equal(iu.sw, 0x9000);
  const ea = card.externalAuthenticate(host.onInitializeUpdateResponse(iu.data, iu.sw));
  host.onExternalAuthenticateResponse(ea.sw);
  assert.ok(card.isOpen && host.isOpen);
  return { card, host };
}

const session = fc.record({
  keys: keySet,
  level: fc.constantFrom(...SECURITY_LEVELS),
  hostChallenge: keyBytes(8),
  cardChallenge: keyBytes(8),
  pseudo: fc.boolean(),
});

test('[R2.2.3] host and card round-trip random commands and responses at every security level', () => {
  fc.assert(
    fc.property(session, fc.array(fc.tuple(command, fc.uint8Array({ maxLength: 240 }), sw), { minLength: 1, maxLength: 6 }), (s, exchanges) => {
      const { card, host } = open(s.keys, s.level, s.hostChallenge, s.cardChallenge, s.pseudo);
      for (const [cmd, data, status] of exchanges) {
        const plain = card.unwrapCommand(host.wrapCommand(cmd));
        assert.deepEqual(plain, cmd);
        const wire = card.wrapResponse(data, status);
        const back = host.unwrapResponse(wire, status);
        const rmac = (s.level & 0x10) !== 0;
        assert.deepEqual(back, rmac && !swCarriesRmac(status) ? new Uint8Array(0) : data);
        if ((s.level & 0x20) && swCarriesRmac(status) && data.length > 0) assert.notDeepEqual(wire.subarray(0, data.length), data, 'R-ENC hides the data');
      }
      assert.ok(card.isOpen && host.isOpen);
    }),
    { numRuns: 150 },
  );
});

test('[R2.2.3] any bit flip in a MACed part of a wrapped command is refused and closes the channel', () => {
  const macLevels = SECURITY_LEVELS.filter((l) => l & 0x01);
  fc.assert(
    fc.property(session.map((s) => ({ ...s, level: macLevels[s.level % macLevels.length]! })), command, fc.nat(), (s, cmd, where) => {
      const { card, host } = open(s.keys, s.level, s.hostChallenge, s.cardChallenge, s.pseudo);
      const w = host.wrapCommand(cmd);
      // Everything but the logical-channel bits of CLA (outside the C-MAC by §6.2.4) and Le (never MACed).
      const bits = 6 + 8 * 3 + 8 * w.data.length;
      const b = where % bits;
      const t: CommandFields = { ...w, data: w.data.slice() };
      const claBits = [2, 3, 4, 5, 6, 7];
      if (b < 6) t.cla ^= 1 << claBits[b]!;
      else if (b < 14) t.ins ^= 1 << (b - 6);
      else if (b < 22) t.p1 ^= 1 << (b - 14);
      else if (b < 30) t.p2 ^= 1 << (b - 22);
      else t.data[(b - 30) >> 3]! ^= 1 << ((b - 30) & 7);
      const r = card.unwrapCommand(t);
      assert.ok('sw' in r && [0x6982, 0x6988, 0x6e00].includes(r.sw), `refused, got ${JSON.stringify(r)}`);
      assert.ok(!card.isOpen, 'the channel is closed');
      assert.deepEqual(card.unwrapCommand(w), { sw: 0x6982 }, 'even the genuine command is refused afterwards');
    }),
    { numRuns: 300 },
  );
});

test('[R2.2.3] a truncated or replayed wrapped command is refused', () => {
  fc.assert(
    fc.property(session.map((s) => ({ ...s, level: (s.level | 0x01) as SecurityLevel })).filter((s) => SECURITY_LEVELS.includes(s.level)), command, (s, cmd) => {
      const a = open(s.keys, s.level, s.hostChallenge, s.cardChallenge, s.pseudo);
      const w = a.host.wrapCommand(cmd);
      assert.ok('sw' in a.card.unwrapCommand({ ...w, data: w.data.subarray(0, w.data.length - 1) }));
      const b = open(s.keys, s.level, s.hostChallenge, s.cardChallenge, s.pseudo);
      const w2 = b.host.wrapCommand(cmd);
      assert.ok(!('sw' in b.card.unwrapCommand(w2)));
      assert.deepEqual(b.card.unwrapCommand(w2), { sw: 0x6982 }, 'the replay fails: the MAC chains');
    }),
    { numRuns: 100 },
  );
});

test('any bit flip in a response at an R-MAC level is refused by the host and closes its channel', () => {
  const rLevels = SECURITY_LEVELS.filter((l) => l & 0x10);
  fc.assert(
    fc.property(session.map((s) => ({ ...s, level: rLevels[s.level % rLevels.length]! })), command, fc.uint8Array({ maxLength: 200 }), fc.nat(), (s, cmd, data, where) => {
      const { card, host } = open(s.keys, s.level, s.hostChallenge, s.cardChallenge, s.pseudo);
      card.unwrapCommand(host.wrapCommand(cmd));
      const wire = card.wrapResponse(data, 0x9000).slice();
      const b = where % (wire.length * 8 + 16);
      let status = 0x9000;
      if (b < wire.length * 8) wire[b >> 3]! ^= 1 << (b & 7);
      else status ^= 1 << (b - wire.length * 8);
      assert.throws(() => host.unwrapResponse(wire, status), { code: 'JUKI_ERR_SCP_INTEGRITY' });
      assert.ok(!host.isOpen);
    }),
    { numRuns: 200 },
  );
});
