/**
 * The pseudo-random card challenge (GP Amd D §6.2.2.1) and pre-computed personalisation.
 * No published vector covers a pre-computed script, so these are known answers computed
 * from the specification's formulas, each re-derived here by test/crypto/oracle.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  openScriptResponses, precomputeScript, pseudoRandomCardChallenge, Scp03CardChannel, scriptFitsCard,
  type CommandFields, type Scp03StaticKeys,
} from '../../src/crypto/index.ts';
import { encodeCommand, hex, toHexLower } from './apdu.ts';
import * as oracle from './oracle.ts';

const JPKI_AID = 'D392F000260100000001';
const KATS: [key: string, context: string, counter: number, challenge: string][] = [
  ['404142434445464748494a4b4c4d4e4f', JPKI_AID, 0x000001, '893235055dd03709'],
  ['404142434445464748494a4b4c4d4e4f', JPKI_AID, 0x123456, '898a921d8e76b710'],
  ['404142434445464748494a4b4c4d4e4f', JPKI_AID, 0xffffff, 'd7697a4e01947d29'],
  ['404142434445464748494a4b4c4d4e4f', 'A000000001', 0x000001, '66e7e4c484f44160'],
  ['000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', JPKI_AID, 0x000001, 'c887733667e0702c'],
  ['000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'A000000001', 0x123456, 'c53bf8ee6babfa86'],
];

for (const [key, context, counter, challenge] of KATS) {
  test(`pseudo-random card challenge KAT: ${key.length * 4}-bit K-ENC, counter ${counter.toString(16).padStart(6, '0')}, AID ${context}`, () => {
    assert.equal(toHexLower(pseudoRandomCardChallenge(hex(key), counter, hex(context))), challenge);
    const ctx = oracle.cat(hex(counter.toString(16).padStart(6, '0')), hex(context));
    assert.equal(toHexLower(oracle.kdf(hex(key), 0x02, ctx, 64)), challenge, 'the oracle agrees');
  });
}

const keys: Scp03StaticKeys = {
  enc: hex('404142434445464748494a4b4c4d4e4f'),
  mac: hex('505152535455565758595a5b5c5d5e5f'),
  dek: hex('606162636465666768696a6b6c6d6e6f'),
  kvn: 0x01,
};
const serial = hex('4a554b49303030303030');
const hostChallenge = hex('0011223344556677');
const commands: CommandFields[] = [
  { cla: 0x80, ins: 0xe2, p1: 0x80, p2: 0x00, data: hex('0102030405') },
  { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: hex(JPKI_AID), le: 0 },
  { cla: 0x80, ins: 0xf2, p1: 0x80, p2: 0x02, data: new Uint8Array(0) },
];
const options = { keys, diversificationData: serial, sequenceCounter: 41, context: hex(JPKI_AID), level: 0x33 as const, hostChallenge, commands };

const KAT_SCRIPT = {
  cardChallenge: 'f5106c2ef091e5e5',
  externalAuthenticate: '8482330010803ffec580619a1152a0dfb1a6241df2',
  commands: [
    '84e2800018bb7542f014a09bc1f2d28f1fc556e53e87773844d0abc3df',
    '04a4040018424261ea9d1b59783cc448fb03bd2c83b2f598d1b1b5fd9800',
    '84f280020829b394c1ec4874fc',
  ],
};

test('pre-computed script KAT: INITIALIZE UPDATE, the expected answer and EXTERNAL AUTHENTICATE match the spec formulas', () => {
  const script = precomputeScript(options);
  assert.equal(script.sequenceCounter, 42);
  assert.equal(toHexLower(encodeCommand(script.initializeUpdate)), '80500100080011223344556677' + '00');
  // Oracle: §6.2.2.1 challenge, §6.2.1 S-MAC, §6.2.2.2/§6.2.2.3 cryptograms, §6.2.4 C-MAC from MCV 0.
  const cc = oracle.kdf(keys.enc, 0x02, oracle.cat(hex('00002a'), hex(JPKI_AID)), 64);
  const ctx = oracle.cat(hostChallenge, cc);
  const sMac = oracle.kdf(keys.mac, 0x06, ctx, 128);
  const cardCrypto = oracle.kdf(sMac, 0x00, ctx, 64);
  const hostCrypto = oracle.kdf(sMac, 0x01, ctx, 64);
  const expectedIu = oracle.cat(serial, hex('010370'), cc, cardCrypto, hex('00002a'));
  assert.equal(toHexLower(script.expectedInitializeUpdateResponse), toHexLower(expectedIu));
  const eaMac = oracle.cmac(sMac, oracle.cat(new Uint8Array(16), hex('8482330010'), hostCrypto)).subarray(0, 8);
  assert.equal(toHexLower(encodeCommand(script.externalAuthenticate)), toHexLower(oracle.cat(hex('8482330010'), hostCrypto, eaMac)));
  // Known answers (computed from the formulas above when this test was written).
  assert.equal(toHexLower(cc), KAT_SCRIPT.cardChallenge);
  assert.equal(toHexLower(encodeCommand(script.externalAuthenticate)), KAT_SCRIPT.externalAuthenticate);
  assert.deepEqual(script.commands.map((c) => toHexLower(encodeCommand(c))), KAT_SCRIPT.commands);
});

test('pre-computed script KAT: the first command is C-ENC then C-MAC exactly as §6.2.6 and §6.2.4 say', () => {
  const script = precomputeScript(options);
  const cc = oracle.kdf(keys.enc, 0x02, oracle.cat(hex('00002a'), hex(JPKI_AID)), 64);
  const ctx = oracle.cat(hostChallenge, cc);
  const sEnc = oracle.kdf(keys.enc, 0x04, ctx, 128);
  const sMac = oracle.kdf(keys.mac, 0x06, ctx, 128);
  const hostCrypto = oracle.kdf(sMac, 0x01, ctx, 64);
  const mcv = oracle.cmac(sMac, oracle.cat(new Uint8Array(16), hex('8482330010'), hostCrypto));
  const icv = oracle.ecb(sEnc, hex('00000000000000000000000000000001'));
  const enc = oracle.cbc(sEnc, icv, hex('01020304058000000000000000000000'));
  const mac = oracle.cmac(sMac, oracle.cat(mcv, hex('84e2800018'), enc)).subarray(0, 8);
  assert.equal(toHexLower(encodeCommand(script.commands[0]!)), toHexLower(oracle.cat(hex('84e2800018'), enc, mac)));
});


test('a pre-computed script replays on the card it was made for: every command accepted, responses opened where the keys are (groundwork for the bureau batches of R3.1.3i)', () => {
  const script = precomputeScript(options);
  const card = new Scp03CardChannel({ keys, diversificationData: serial, challenge: { mode: 'pseudo-random', sequenceCounter: 41, context: hex(JPKI_AID) } });
  const iu = card.initializeUpdate(script.initializeUpdate);
  assert.equal(iu.sw, 0x9000);
  assert.ok(scriptFitsCard(script, iu.data));
  assert.equal(card.sequenceCounter, 42);
  assert.deepEqual(card.externalAuthenticate(script.externalAuthenticate), { sw: 0x9000 });
  const responses = script.commands.map((c, k) => {
    const plain = card.unwrapCommand(c);
    assert.deepEqual(plain, commands[k]);
    const data = hex(`aa${k}0bbcc`);
    return { data: card.wrapResponse(data, 0x9000), sw: 0x9000 };
  });
  const opened = openScriptResponses(options, responses);
  assert.deepEqual(opened.map(toHexLower), ['aa00bbcc', 'aa10bbcc', 'aa20bbcc']);
  const forged = responses.map((r) => ({ ...r, data: r.data.map((b, i) => (i === 0 ? b ^ 1 : b)) }));
  assert.throws(() => openScriptResponses(options, forged), { code: 'JUKI_ERR_SCP_INTEGRITY' });
});

test('a pre-computed script plays at most once: the card\'s counter has moved on and it refuses the old EXTERNAL AUTHENTICATE', () => {
  const script = precomputeScript(options);
  const card = new Scp03CardChannel({ keys, diversificationData: serial, challenge: { mode: 'pseudo-random', sequenceCounter: 41, context: hex(JPKI_AID) } });
  assert.ok(scriptFitsCard(script, card.initializeUpdate(script.initializeUpdate).data));
  const again = card.initializeUpdate(script.initializeUpdate);
  assert.equal(card.sequenceCounter, 43);
  assert.ok(!scriptFitsCard(script, again.data));
  assert.deepEqual(card.externalAuthenticate(script.externalAuthenticate), { sw: 0x6300 });
  assert.ok(!card.isOpen);
});

test('a pre-computed script does not fit another card (other keys, other AID) and holds no key material', () => {
  const script = precomputeScript(options);
  const other = new Scp03CardChannel({ keys: { ...keys, enc: hex('404142434445464748494a4b4c4d4e40') }, diversificationData: serial, challenge: { mode: 'pseudo-random', sequenceCounter: 41, context: hex(JPKI_AID) } });
  assert.ok(!scriptFitsCard(script, other.initializeUpdate(script.initializeUpdate).data));
  const otherAid = new Scp03CardChannel({ keys, diversificationData: serial, challenge: { mode: 'pseudo-random', sequenceCounter: 41, context: hex('A000000001') } });
  assert.ok(!scriptFitsCard(script, otherAid.initializeUpdate(script.initializeUpdate).data));
  const bytes = toHexLower(oracle.cat(...[script.initializeUpdate, script.externalAuthenticate, ...script.commands].map(encodeCommand), script.expectedInitializeUpdateResponse));
  for (const k of [keys.enc, keys.mac, keys.dek]) assert.ok(!bytes.includes(toHexLower(k)));
});

test('a pseudo-random card refuses INITIALIZE UPDATE once its sequence counter is exhausted (69 85)', () => {
  const card = new Scp03CardChannel({ keys, diversificationData: serial, challenge: { mode: 'pseudo-random', sequenceCounter: 0xffffff, context: hex(JPKI_AID) } });
  const r = card.initializeUpdate({ cla: 0x80, ins: 0x50, p1: 0, p2: 0, data: hostChallenge, le: 0 });
  assert.equal(r.sw, 0x6985);
  assert.equal(card.sequenceCounter, 0xffffff);
  assert.throws(() => precomputeScript({ ...options, sequenceCounter: 0xffffff }), { code: 'JUKI_ERR_INVALID_INPUT' });
});

test('a pre-computed script needs a card announcing a pseudo-random challenge', () => {
  assert.throws(() => precomputeScript({ ...options, i: 0x60 }), { code: 'JUKI_ERR_INVALID_INPUT', message: /pseudo-random/ });
});
