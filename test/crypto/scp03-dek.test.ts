import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dekDecrypt, dekEncrypt, keyCheckValue } from '../../src/crypto/index.ts';
import { hex, toHexLower } from './apdu.ts';
import * as oracle from './oracle.ts';

test('K-DEK encryption is AES-CBC with a zero ICV and round-trips', () => {
  const dek = hex('202122232425262728292a2b2c2d2e2f');
  const key = hex('000102030405060708090a0b0c0d0e0f');
  const c = dekEncrypt(dek, key);
  assert.equal(toHexLower(c), toHexLower(oracle.cbc(dek, new Uint8Array(16), key)));
  assert.deepEqual(dekDecrypt(dek, c), key);
  assert.throws(() => dekEncrypt(dek, new Uint8Array(24)), { message: /multiple of 16 bytes, got 24/ });
});

test('the AES key check value is the first 3 bytes of AES(key, 16 × 01)', () => {
  const key = hex('404142434445464748494a4b4c4d4e4f');
  assert.equal(toHexLower(keyCheckValue(key)), toHexLower(oracle.ecb(key, new Uint8Array(16).fill(1)).subarray(0, 3)));
});
