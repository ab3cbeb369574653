/**
 * The public SCP03 vectors (test/vectors/README.md), run against the KDF, the host side and
 * the card side: the host must reproduce every recorded command byte for byte, the card must
 * reproduce every recorded response and accept every recorded command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  deriveSessionKeys, pseudoRandomCardChallenge, Scp03CardChannel, Scp03HostChannel, parseInitializeUpdateResponse,
  type Scp03StaticKeys, type SecurityLevel,
} from '../../src/crypto/index.ts';
import { decodeShort, encodeCommand, hex, toHexLower } from './apdu.ts';

interface Session {
  name: string;
  level: string;
  keys: { kvn: string; enc: string; mac: string; dek: string };
  initializeUpdate: string;
  initializeUpdateResponse: string;
  externalAuthenticate: string;
  commands: { name: string; plain: string; wrapped: string }[];
  getEidResponse: { plain: string; sw: string; received: string };
  derived: { sEnc: string; sMac: string; sRmac: string };
}
const pysim = JSON.parse(readFileSync(new URL('../vectors/scp03-pysim-sessions.json', import.meta.url), 'utf8')) as { isdrAid: string; sessions: Session[] };
const derivation = JSON.parse(readFileSync(new URL('../vectors/scp03-session-keys.json', import.meta.url), 'utf8')) as {
  vectors: { enc: string; mac: string; hostChallenge: string; cardChallenge: string; sEnc: string; sMac: string; sRmac: string }[];
};

const keysOf = (s: Session): Scp03StaticKeys => ({ enc: hex(s.keys.enc), mac: hex(s.keys.mac), dek: hex(s.keys.dek), kvn: parseInt(s.keys.kvn, 16) });
const lower = (s: string) => s.toLowerCase();

for (const v of derivation.vectors) {
  test('SCP03 session keys: openjavacard-tools SCP03DerivationTest vector', () => {
    const k = deriveSessionKeys(hex(v.enc), hex(v.mac), hex(v.hostChallenge), hex(v.cardChallenge));
    assert.equal(toHexLower(k.sEnc), v.sEnc);
    assert.equal(toHexLower(k.sMac), v.sMac);
    assert.equal(toHexLower(k.sRmac), v.sRmac);
  });
}

for (const s of pysim.sessions) {
  const level = parseInt(s.level, 16) as SecurityLevel;
  const hostChallenge = hex(s.initializeUpdate).subarray(5, 13);
  const iu = parseInitializeUpdateResponse(hex(s.initializeUpdateResponse));

  test(`${s.name}: session keys match the recomputed intermediate values`, () => {
    const k = deriveSessionKeys(hex(s.keys.enc), hex(s.keys.mac), hostChallenge, iu.cardChallenge);
    assert.deepEqual([toHexLower(k.sEnc), toHexLower(k.sMac), toHexLower(k.sRmac)], [s.derived.sEnc, s.derived.sMac, s.derived.sRmac]);
  });

  test(`${s.name}: the recorded card challenge is the pseudo-random challenge of its sequence counter and the ISD-R AID`, () => {
    assert.equal(iu.i, 0x70);
    assert.equal(toHexLower(pseudoRandomCardChallenge(hex(s.keys.enc), iu.sequenceCounter!, hex(pysim.isdrAid))), toHexLower(iu.cardChallenge));
  });

  test(`[R2.2.3] ${s.name}: the host side reproduces every recorded command and opens the recorded response`, () => {
    const host = new Scp03HostChannel({ keys: keysOf(s), level, hostChallenge, cardContext: hex(pysim.isdrAid) });
    assert.equal(toHexLower(encodeCommand(host.initializeUpdateCommand(parseInt(s.keys.kvn, 16)))), lower(s.initializeUpdate));
    const ea = host.onInitializeUpdateResponse(hex(s.initializeUpdateResponse));
    assert.equal(toHexLower(encodeCommand(ea)), lower(s.externalAuthenticate));
    host.onExternalAuthenticateResponse(0x9000);
    for (const [k, c] of s.commands.entries()) {
      const wrapped = host.wrapCommand(decodeShort(hex(c.plain)));
      assert.equal(toHexLower(encodeCommand(wrapped)), lower(c.wrapped), c.name);
      if (k === 0) {
        const plain = host.unwrapResponse(hex(s.getEidResponse.received), parseInt(s.getEidResponse.sw, 16));
        assert.equal(toHexLower(plain), s.getEidResponse.plain);
      }
    }
  });

  test(`[R2.2.3] ${s.name}: the card side reproduces the recorded responses and accepts every recorded command`, () => {
    const card = new Scp03CardChannel({
      keys: keysOf(s),
      diversificationData: iu.diversificationData,
      challenge: { mode: 'pseudo-random', sequenceCounter: iu.sequenceCounter! - 1, context: hex(pysim.isdrAid) },
    });
    const r = card.initializeUpdate(decodeShort(hex(s.initializeUpdate)));
    assert.equal(r.sw, 0x9000);
    assert.equal(toHexLower(r.data), lower(s.initializeUpdateResponse));
    assert.equal(card.sequenceCounter, iu.sequenceCounter, 'the counter to persist is the one just used');
    assert.deepEqual(card.externalAuthenticate(decodeShort(hex(s.externalAuthenticate))), { sw: 0x9000 });
    assert.ok(card.isOpen);
    assert.equal(card.level, level);
    for (const [k, c] of s.commands.entries()) {
      const plain = card.unwrapCommand(decodeShort(hex(c.wrapped)));
      assert.deepEqual(plain, decodeShort(hex(c.plain)), c.name);
      if (k === 0) {
        const out = card.wrapResponse(hex(s.getEidResponse.plain), parseInt(s.getEidResponse.sw, 16));
        assert.equal(toHexLower(out), lower(s.getEidResponse.received));
      }
    }
    assert.ok(card.isOpen);
  });

  test(`${s.name}: a random-challenge card given the recorded challenge computes the recorded card cryptogram`, () => {
    const card = new Scp03CardChannel({ keys: keysOf(s), diversificationData: iu.diversificationData, challenge: { mode: 'random', random: () => iu.cardChallenge.slice() } });
    const r = card.initializeUpdate(decodeShort(hex(s.initializeUpdate)));
    assert.equal(r.data.length, 29, 'no sequence counter in random mode');
    assert.equal(r.data[12], 0x60);
    assert.equal(toHexLower(r.data.subarray(13, 29)), toHexLower(hex(s.initializeUpdateResponse).subarray(13, 29)));
    assert.deepEqual(card.externalAuthenticate(decodeShort(hex(s.externalAuthenticate))), { sw: 0x9000 });
  });
}
