/**
 * NIST SP 800-108 key derivation in counter mode with AES-CMAC as the PRF, with an 8-bit
 * counter (r = 8) placed between two parts of the fixed input data. Two layouts use it:
 *
 *   SCP03 (GP Amd D §4.1.5):   00×11 ‖ constant ‖ 00 ‖ L ‖ [i] ‖ context   (counter in the middle)
 *   juki diversification:      [i] ‖ label ‖ 00 ‖ context ‖ L              (counter first, SP 800-108 §5.1)
 */
import { Cmac } from './cmac.ts';
import { invalid } from '../util/index.ts';

export interface CounterKdfInput {
  /** The key derivation key K_I (an AES key: the PRF is AES-CMAC), raw or prepared once as a Cmac. */
  readonly key: Uint8Array | Cmac;
  /** L, the number of bits to derive: a positive multiple of 8. */
  readonly bits: number;
  /** Fixed input data before the counter. */
  readonly before: Uint8Array;
  /** Fixed input data after the counter. */
  readonly after: Uint8Array;
}

/** SP 800-108 §5.1 counter mode: K(i) = PRF(K_I, before ‖ [i]_8 ‖ after) for i = 1..n, output = leftmost L bits of K(1) ‖ … ‖ K(n). */
export function counterKdfCmac({ key, bits, before, after }: CounterKdfInput): Uint8Array {
  if (!Number.isInteger(bits) || bits <= 0 || bits % 8 !== 0) throw invalid('bits', `expected a positive multiple of 8, got ${bits}`);
  const n = Math.ceil(bits / 128);
  // §5.1 step 2: n ≤ 2^r − 1 with r = 8.
  if (n > 255) throw invalid('bits', `at most ${255 * 128} bits can be derived with an 8-bit counter, asked for ${bits}`);
  const prf = key instanceof Cmac ? key : new Cmac(key);
  const out = new Uint8Array(n * 16);
  const input = new Uint8Array(before.length + 1 + after.length);
  input.set(before);
  input.set(after, before.length + 1);
  for (let i = 1; i <= n; i++) {
    input[before.length] = i;
    const k = prf.mac(input);
    out.set(k, (i - 1) * 16);
    k.fill(0);
  }
  if (prf !== key) prf.dispose();
  const result = out.slice(0, bits / 8);
  out.fill(0);
  return result;
}
