/**
 * Random bytes for challenges, from node:crypto's CSPRNG through a small pool.
 *
 * Each `randomBytes` call is a system call (getrandom), which costs more than a whole
 * SCP03 command on a loaded machine; an 8-byte challenge does not need its own. The pool
 * is refilled 4 KiB at a time with randomFillSync; bytes handed out are copied and zeroed
 * in the pool, so none is ever given twice. Requests of 16 bytes or more (anything the size
 * of a key) bypass the pool, so no key material ever waits in it.
 */
import { randomFillSync } from 'node:crypto';

const POOL = 4096;
const pool = new Uint8Array(POOL);
let used = POOL;

/** `n` fresh random bytes (any n; 16 or more come straight from randomFillSync). */
export function secureRandom(n: number): Uint8Array {
  if (n >= 16) return randomFillSync(new Uint8Array(n));
  if (used + n > POOL) {
    randomFillSync(pool);
    used = 0;
  }
  const out = pool.slice(used, used + n);
  pool.fill(0, used, used + n);
  used += n;
  return out;
}
