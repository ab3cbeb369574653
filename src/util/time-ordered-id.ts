/**
 * Ids that sort by creation time: the UUID version 7 layout (RFC 9562): 48 bits of Unix
 * milliseconds, then random bits. Rows keyed by them (outbox and inbox message ids) are inserted
 * at the right edge of their primary-key index instead of at random places in it, so a commit
 * writes a few index pages instead of one per row; for everything else they are as unique and
 * unguessable as random UUIDs (74 random bits).
 */
import { randomFillSync } from 'node:crypto';

const POOL = 4096;
const pool = Buffer.alloc(POOL);
let offset = POOL;

function random10(): Buffer {
  // One system call per 409 ids, as randomUUID does with its own cache.
  if (offset + 10 > POOL) {
    randomFillSync(pool);
    offset = 0;
  }
  const b = pool.subarray(offset, offset + 10);
  offset += 10;
  return b;
}

export function timeOrderedId(now: number = Date.now()): string {
  const r = random10();
  const ms = now.toString(16).padStart(12, '0').slice(-12);
  const hex = r.toString('hex');
  // version 7 in the 13th digit, variant 10xx in the 17th.
  const variant = ((r[2]! & 0x3f) | 0x80).toString(16).padStart(2, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${hex.slice(0, 3)}-${variant}${hex.slice(6, 8)}-${hex.slice(8, 20)}`;
}
