import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { diversifyKey, diversifyKeySet, KEY_DOMAINS, Scp03CardChannel, Scp03HostChannel } from '../../src/crypto/index.ts';
import { hex, toHexLower } from './apdu.ts';
import * as oracle from './oracle.ts';

const master = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const serialA = hex('4a554b49000000000001');
const serialB = hex('4a554b49000000000002');

test('[R2.2.3] per-card keys are diversified from the master key with the card serial', () => {
  const a = diversifyKey(master, serialA, KEY_DOMAINS.basic, 'mac');
  const b = diversifyKey(master, serialB, KEY_DOMAINS.basic, 'mac');
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  assert.deepEqual(diversifyKey(master, serialA, KEY_DOMAINS.basic, 'mac'), a, 'deterministic');
  assert.notDeepEqual(diversifyKey(hex('ff'.repeat(32)), serialA, KEY_DOMAINS.basic, 'mac'), a, 'depends on the master');
});

test('diversification matches the documented SP 800-108 construction (independent oracle, AES-128 and AES-256)', () => {
  for (const m of [master, master.subarray(0, 16)]) {
    const bits = m.length * 8;
    const fixed = oracle.cat(new TextEncoder().encode('juki-div/v1:transport/enc'), hex('00'), serialA, hex(bits.toString(16).padStart(4, '0')));
    const expected = oracle.cat(...Array.from({ length: Math.ceil(bits / 128) }, (_, i) => oracle.cmac(m, oracle.cat(Uint8Array.of(i + 1), fixed)))).subarray(0, m.length);
    assert.equal(toHexLower(diversifyKey(m, serialA, 'transport', 'enc')), toHexLower(expected));
  }
});

test('[R2.2.6] each key family and each key of a set gets a different key from the same master and serial', () => {
  const domains = [KEY_DOMAINS.transport, KEY_DOMAINS.issuer, KEY_DOMAINS.basic, KEY_DOMAINS.jpki, 'ordinance:library'];
  const seen = new Set<string>();
  for (const d of domains) for (const k of ['enc', 'mac', 'dek'] as const) seen.add(toHexLower(diversifyKey(master, serialA, d, k)));
  assert.equal(seen.size, domains.length * 3);
});

test('diversification is injective in practice: random distinct (serial, label) pairs give distinct keys', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.constantFrom('enc' as const, 'mac' as const, 'dek' as const), (s1, s2, k) => {
      fc.pre(toHexLower(s1) !== toHexLower(s2));
      assert.notDeepEqual(diversifyKey(master, s1, 'basic', k), diversifyKey(master, s2, 'basic', k));
    }),
    { numRuns: 100 },
  );
});

test('diversification refuses bad inputs with precise messages', () => {
  assert.throws(() => diversifyKey(master, new Uint8Array(0), 'basic', 'enc'), { message: /serial: expected 1 to 64 bytes, got 0/ });
  assert.throws(() => diversifyKey(master, serialA, 'Basic', 'enc'), { message: /domain: expected 1 to 64 characters/ });
  assert.throws(() => diversifyKey(master, serialA, 'basic', 'kek' as 'enc'), { message: /key: expected enc, mac or dek/ });
  assert.throws(() => diversifyKey(new Uint8Array(20), serialA, 'basic', 'enc'), { message: /master: expected an AES key/ });
});

test('[R2.2.3] a host holding only master keys opens SCP03 with a card personalised with its diversified keys', () => {
  const masters = { enc: master, mac: hex('20'.repeat(32)), dek: hex('30'.repeat(32)) };
  const cardKeys = diversifyKeySet(masters, serialA, KEY_DOMAINS.basic, 0x01);
  const card = new Scp03CardChannel({ keys: cardKeys, diversificationData: serialA, challenge: { mode: 'random' } });
  const host = new Scp03HostChannel({ keys: (div, kvn) => diversifyKeySet(masters, div, KEY_DOMAINS.basic, kvn), level: 0x33 });
  const iu = card.initializeUpdate(host.initializeUpdateCommand(0));
  assert.deepEqual(card.externalAuthenticate(host.onInitializeUpdateResponse(iu.data)), { sw: 0x9000 });
  const other = new Scp03CardChannel({ keys: diversifyKeySet(masters, serialB, KEY_DOMAINS.basic, 0x01), diversificationData: serialA, challenge: { mode: 'random' } });
  const h2 = new Scp03HostChannel({ keys: (div, kvn) => diversifyKeySet(masters, div, KEY_DOMAINS.basic, kvn), level: 0x33 });
  assert.throws(() => h2.onInitializeUpdateResponse(other.initializeUpdate(h2.initializeUpdateCommand(0)).data), { code: 'JUKI_ERR_SCP_AUTHENTICATION' });
});
