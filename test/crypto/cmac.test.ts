import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { aesCmac } from '../../src/crypto/index.ts';
import { hex, toHexLower } from './apdu.ts';

const { vectors } = JSON.parse(readFileSync(new URL('../vectors/aes-cmac.json', import.meta.url), 'utf8')) as {
  vectors: { source: string; key: string; message: string; tag: string }[];
};

/** An independent oracle: CMAC block by block with AES-ECB, exactly as SP 800-38B §6.2 writes it. */
function oracleCmac(key: Uint8Array, m: Uint8Array): Uint8Array {
  const ecb = (b: Uint8Array) => {
    const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([c.update(b), c.final()]));
  };
  const dbl = (b: Uint8Array) => {
    const x = BigInt('0x' + toHexLower(b)) << 1n;
    const r = (x & ((1n << 128n) - 1n)) ^ (b[0]! & 0x80 ? 0x87n : 0n);
    return hex(r.toString(16).padStart(32, '0'));
  };
  const k1 = dbl(ecb(new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(m.length / 16));
  let x: Uint8Array = new Uint8Array(16);
  for (let j = 0; j < n; j++) {
    const blk = new Uint8Array(16);
    const part = m.subarray(j * 16, j * 16 + 16);
    blk.set(part);
    if (j === n - 1) {
      const complete = part.length === 16;
      if (!complete) blk[part.length] = 0x80;
      const k = complete ? k1 : k2;
      for (let i = 0; i < 16; i++) blk[i]! ^= k[i]!;
    }
    for (let i = 0; i < 16; i++) x[i]! ^= blk[i]!;
    x = ecb(x);
  }
  return x;
}

for (const v of vectors) {
  test(`AES-CMAC ${v.source}: ${v.key.length * 4}-bit key, ${v.message.length / 2}-byte message`, () => {
    assert.equal(toHexLower(aesCmac(hex(v.key), hex(v.message))), v.tag);
    assert.equal(toHexLower(oracleCmac(hex(v.key), hex(v.message))), v.tag, 'the in-test oracle agrees with the published vector');
  });
}

test('AES-CMAC agrees with the block-by-block oracle for random keys and messages of every length', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(16, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      fc.uint8Array({ maxLength: 100 }),
      (key, m) => {
        assert.equal(toHexLower(aesCmac(key, m)), toHexLower(oracleCmac(key, m)));
      },
    ),
    { numRuns: 300 },
  );
});

test('AES-CMAC refuses a key that is not 16, 24 or 32 bytes', () => {
  assert.throws(() => aesCmac(new Uint8Array(15), new Uint8Array(0)), { code: 'JUKI_ERR_INVALID_INPUT', message: /expected an AES key of 16, 24 or 32 bytes, got 15/ });
});
