/**
 * Verifying a node's chain: walk it in seq order, a batch at a time (constant memory for any
 * length), recompute every hash, check seq continuity and prev-hash links, compare the end with
 * the recorded head and every externally held checkpoint. Stops at the first broken entry and
 * says why. See docs/audit.md for what each problem means.
 */
import type { Kysely } from 'kysely';
import type { Schema } from '../db/index.ts';
import { invalid } from '../util/index.ts';
import { GENESIS_HASH, checkNodeId, entryHash, type AuditEntry } from './entry.ts';
import { entryFromRow } from './row.ts';

/**
 * A signed-later statement "node N's chain had entry `seq` with hash `headHash` at time `at`",
 * held by a peer. A chain that no longer has that hash at that seq was rewritten.
 */
export interface Checkpoint {
  readonly node: string;
  readonly seq: number;
  readonly headHash: string;
  readonly at: string;
}

export type Problem =
  /** The entry's contents no longer hash to its stored hash. */
  | 'edited'
  /** Entries are missing: a gap in seq, or the chain ends before its head or a checkpoint. */
  | 'deleted'
  /** The entry holds the contents of another position in the chain. */
  | 'reordered'
  /** The entry is self-consistent but does not link to its predecessor (one of them was rewritten and re-hashed). */
  | 'bad-link'
  /** The chain's end disagrees with the recorded head (last entry rewritten, or entries added behind the log's back). */
  | 'head-mismatch'
  /** The chain no longer matches a checkpoint held outside it: it was rewritten consistently. */
  | 'checkpoint-mismatch';

export interface BrokenEntry {
  /** The first seq that fails. */
  readonly seq: number;
  readonly problem: Problem;
  readonly message: string;
}

export interface VerifyResult {
  readonly node: string;
  readonly ok: boolean;
  /** How many entries verified intact before the first break (all of them when ok). */
  readonly verified: number;
  /** The head recorded when verification started. */
  readonly headSeq: number;
  readonly headHash: string;
  readonly checkpoints: number;
  readonly broken?: BrokenEntry;
}

export interface VerifyProgress {
  readonly node: string;
  readonly verified: number;
  readonly total: number;
}

export interface VerifyOptions {
  /** Checkpoints held by peers; each must be for this node. */
  readonly checkpoints?: readonly Checkpoint[];
  /** Rows read per query (default 1000). */
  readonly batchSize?: number;
  /** Called after every batch. */
  readonly onProgress?: (p: VerifyProgress) => void;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Verify `node`'s chain in `db`. Never throws for a broken chain: the result says where and
 * why. Throws JukiError only for bad arguments.
 */
export async function verifyChain(db: Kysely<Schema>, node: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  checkNodeId(node);
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalid('batchSize', `expected a positive integer, got ${batchSize}`);
  const checkpoints = [...(options.checkpoints ?? [])].map((c, i) => checkCheckpoint(c, node, i)).sort((a, b) => a.seq - b.seq);

  // Verify up to the head as it stands now; entries appended meanwhile are the next run's.
  // An entry and its head advance commit together, so every seq up to this head exists.
  const headRow = await db.selectFrom('audit_heads').select(['seq', 'hash']).where('node_id', '=', node).executeTakeFirst();
  const headSeq = headRow ? Number(headRow.seq) : 0;
  const headHash = headRow ? headRow.hash : GENESIS_HASH;
  const base = { node, headSeq, headHash, checkpoints: checkpoints.length };
  const fail = (verified: number, seq: number, problem: Problem, message: string): VerifyResult => ({
    ...base, ok: false, verified, broken: { seq, problem, message },
  });

  let prevSeq = 0;
  let prevHash = GENESIS_HASH;
  let cpIndex = 0;
  let lastGoodCheckpoint = 0;
  // A checkpoint at seq 0 holds the genesis hash and nothing else.
  while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.seq === 0) {
    const cp = checkpoints[cpIndex++]!;
    if (cp.headHash !== GENESIS_HASH) return fail(0, 0, 'checkpoint-mismatch', `a checkpoint taken at ${cp.at} records seq 0 with a hash other than the genesis hash`);
  }

  while (prevSeq < headSeq) {
    const rows = await db
      .selectFrom('audit_entries')
      .selectAll()
      .where('node_id', '=', node)
      .where('seq', '>', prevSeq)
      .where('seq', '<=', headSeq)
      .orderBy('seq')
      .limit(batchSize)
      .execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      const e = entryFromRow(row);
      const expected = prevSeq + 1;
      if (e.seq !== expected) {
        const range = e.seq - 1 === expected ? `entry ${expected} is` : `entries ${expected}..${e.seq - 1} are`;
        return fail(prevSeq, expected, 'deleted', `${range} missing (deleted): seq jumps from ${prevSeq} to ${e.seq}`);
      }
      const selfConsistent = entryHash(e) === e.hash;
      const linked = e.prevHash === prevHash;
      if (!selfConsistent) {
        const original = linked ? undefined : await originalPosition(db, e);
        if (original !== undefined && original !== e.seq) {
          return fail(prevSeq, e.seq, 'reordered', `entry ${e.seq} holds the contents of entry ${original} (rows were reordered)`);
        }
        return fail(prevSeq, e.seq, 'edited', `entry ${e.seq} was edited: its contents no longer hash to its stored hash`);
      }
      if (!linked) {
        return fail(prevSeq, e.seq, 'bad-link', `entry ${e.seq} does not link to entry ${prevSeq}: one of them was rewritten and re-hashed`);
      }
      while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.seq === e.seq) {
        const cp = checkpoints[cpIndex++]!;
        if (cp.headHash !== e.hash) {
          return fail(prevSeq, e.seq, 'checkpoint-mismatch',
            `entry ${e.seq} no longer matches the checkpoint taken at ${cp.at}: the chain was rewritten after seq ${lastGoodCheckpoint} (the last checkpoint that matched), up to seq ${e.seq}`);
        }
        lastGoodCheckpoint = e.seq;
      }
      prevSeq = e.seq;
      prevHash = e.hash;
    }
    options.onProgress?.({ node, verified: prevSeq, total: headSeq });
  }

  if (prevSeq < headSeq) {
    const range = prevSeq + 1 === headSeq ? `entry ${headSeq} is` : `entries ${prevSeq + 1}..${headSeq} are`;
    return fail(prevSeq, prevSeq + 1, 'deleted', `${range} missing (deleted): the chain ends at ${prevSeq} but its head records ${headSeq}`);
  }
  if (prevHash !== headHash) {
    return fail(prevSeq - 1, headSeq, 'head-mismatch', `entry ${headSeq} does not match the recorded head: the last entry or the head was rewritten`);
  }
  // Checkpoints past the head we started from: the chain may have grown since; if not, it was cut.
  for (; cpIndex < checkpoints.length; cpIndex++) {
    const cp = checkpoints[cpIndex]!;
    const row = await db.selectFrom('audit_entries').select('hash').where('node_id', '=', node).where('seq', '=', cp.seq).executeTakeFirst();
    if (!row) {
      return fail(prevSeq, prevSeq + 1, 'deleted', `the chain ends at ${prevSeq} but a checkpoint taken at ${cp.at} records seq ${cp.seq}: entries were deleted and the head rewound`);
    }
    if (row.hash !== cp.headHash) {
      return fail(prevSeq, cp.seq, 'checkpoint-mismatch', `entry ${cp.seq} no longer matches the checkpoint taken at ${cp.at}: the chain was rewritten`);
    }
  }
  // Entries past the head are not part of the chain: someone inserted rows behind the log's back.
  // Read the highest seq before the head: a legitimate append commits both together, so an
  // entry visible first has its head visible after.
  const maxRow = await db.selectFrom('audit_entries').select((eb) => eb.fn.max('seq').as('max')).where('node_id', '=', node).executeTakeFirst();
  const maxSeq = maxRow?.max === null || maxRow?.max === undefined ? 0 : Number(maxRow.max);
  const nowHead = await db.selectFrom('audit_heads').select('seq').where('node_id', '=', node).executeTakeFirst();
  const nowHeadSeq = nowHead ? Number(nowHead.seq) : 0;
  if (maxSeq > nowHeadSeq) {
    return fail(prevSeq, nowHeadSeq + 1, 'head-mismatch', `entries up to ${maxSeq} exist past the recorded head ${nowHeadSeq}: they were added behind the log's back (or the head was rewound)`);
  }
  return { ...base, ok: true, verified: prevSeq };
}

/**
 * Where an entry's contents were first appended: its own seq if they hash correctly there,
 * else one past the original position of the entry whose hash it names as predecessor (found
 * by hash, itself possibly moved: followed up to 16 steps). Undefined when no position fits.
 * Lookups by hash scan, but only on a chain already known to be broken.
 */
async function originalPosition(db: Kysely<Schema>, e: AuditEntry, depth = 0): Promise<number | undefined> {
  if (entryHash(e) === e.hash) return e.seq;
  if (depth >= 16) return undefined;
  let predecessor: number | undefined;
  if (e.prevHash === GENESIS_HASH) predecessor = 0;
  else {
    const row = await db.selectFrom('audit_entries').selectAll().where('node_id', '=', e.node).where('hash', '=', e.prevHash).executeTakeFirst();
    if (row) predecessor = await originalPosition(db, entryFromRow(row), depth + 1);
  }
  if (predecessor === undefined) return undefined;
  const seq = predecessor + 1;
  return entryHash({ ...e, seq }) === e.hash ? seq : undefined;
}

function checkCheckpoint(c: Checkpoint, node: string, i: number): Checkpoint {
  const field = `checkpoints[${i}]`;
  if (!c || typeof c !== 'object') throw invalid(field, 'expected {node, seq, headHash, at}');
  if (c.node !== node) throw invalid(`${field}.node`, `expected a checkpoint of node ${node}, got ${JSON.stringify(c.node)}`);
  if (!Number.isSafeInteger(c.seq) || c.seq < 0) throw invalid(`${field}.seq`, `expected a non-negative integer, got ${JSON.stringify(c.seq)}`);
  if (typeof c.headHash !== 'string' || !HEX64.test(c.headHash)) throw invalid(`${field}.headHash`, 'expected 64 lower-case hex digits');
  if (typeof c.at !== 'string') throw invalid(`${field}.at`, 'expected an ISO-8601 time');
  return c;
}
