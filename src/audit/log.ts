/**
 * A node's audit log: append (inside the caller's transaction, so a state change and its entry
 * commit together or not at all), list, checkpoint and verify.
 *
 * Appends are serialised by the node's head row: every append locks it (`SELECT ... FOR UPDATE`
 * on PostgreSQL; on SQLite the write transaction is already exclusive), reads the last seq and
 * hash, inserts seq + 1 and advances the head, all in one transaction. Two appends can never
 * take the same seq or link to the same predecessor.
 *
 * `record(event)` (an event that records no other change) goes through a group commit
 * (src/db/group-commit.ts): concurrent records are appended in batches, one transaction each, in the
 * order they were made; each caller's promise settles only after its batch's transaction
 * committed (the entry is durable) or failed (then every caller of that batch gets the error
 * and nothing of the batch remains: the chain stays intact).
 */
import type { Kysely, Transaction } from 'kysely';
import { GroupCommit, Statement, type Database, type GroupCommitStats, type Schema } from '../db/index.ts';
import { JukiError, invalid } from '../util/index.ts';
import { GENESIS_HASH, checkNodeId, encodeEvent, entryHash, type AuditEntry, type AuditEventInput, type EntryFields } from './entry.ts';
import { entryFromRow } from './row.ts';
import { verifyChain, type Checkpoint, type VerifyOptions, type VerifyResult } from './verify.ts';

export interface AuditLogOptions {
  /** The clock for entry times (tests inject one). */
  readonly now?: () => Date;
  /** Most entries `record` commits in one transaction (default 256; 1 turns group commit off). */
  readonly maxBatch?: number;
}


/** The head of a chain: its last seq (0 when empty) and that entry's hash (GENESIS_HASH when empty). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export class AuditLog {
  readonly node: string;
  readonly #database: Database;
  readonly #now: () => Date;
  readonly #group: GroupCommit<EntryFields, AuditEntry>;

  constructor(database: Database, node: string, options: AuditLogOptions = {}) {
    this.#database = database;
    this.node = checkNodeId(node);
    this.#now = options.now ?? (() => new Date());
    this.#group = new GroupCommit((batch) => this.#database.transaction((trx) => this.#appendEncoded(trx, batch)), { maxBatch: options.maxBatch ?? 256 });
  }

  /**
   * Append an event inside `trx`; returns the entry as stored. Validates first (catalogue,
   * subject, details shape, no secret-looking field) and writes nothing when it refuses.
   */
  async append(trx: Transaction<Schema>, event: AuditEventInput): Promise<AuditEntry> {
    if (!trx || !trx.isTransaction) throw invalid('trx', 'expected a transaction: an audit entry commits with the change it records');
    const fields = encodeEvent(this.node, event, this.#now());
    return (await this.#appendEncoded(trx, [fields]))[0]!;
  }

  /**
   * Append already validated entries, in order, inside `trx`: one head lock, one head move.
   * The statements are fixed SQL text (src/db/statement.ts), not built by the query builder on
   * every batch:
   *
   *   INSERT INTO audit_heads (node_id, seq, hash) VALUES (?, 0, GENESIS) ON CONFLICT (node_id) DO NOTHING
   *   SELECT seq, hash FROM audit_heads WHERE node_id = ?            (FOR UPDATE on PostgreSQL)
   *   INSERT INTO audit_entries (...11 columns) VALUES (...), ...     (at most 64 rows a statement)
   *   UPDATE audit_heads SET seq = ?, hash = ? WHERE node_id = ? AND seq = ?
   */
  async #appendEncoded(trx: Transaction<Schema>, batch: readonly EntryFields[]): Promise<AuditEntry[]> {
    // Make sure the head row exists, then lock it: the lock is what serialises appends.
    await APPEND.ensureHead.run(trx, [this.node, GENESIS_HASH]);
    const [head] = await (this.#database.dialect === 'postgres' ? APPEND.lockHeadForUpdate : APPEND.lockHead).rows(trx, [this.node]);
    if (!head) throw new JukiError('JUKI_ERR_CONFLICT', `audit: the head of ${this.node} is missing`);
    const prevSeq = Number(head.seq);
    const entries: AuditEntry[] = [];
    let prev = { seq: prevSeq, hash: head.hash };
    for (const fields of batch) {
      const unhashed = { ...fields, seq: prev.seq + 1, prevHash: prev.hash };
      const entry: AuditEntry = { ...unhashed, hash: entryHash(unhashed) };
      entries.push(entry);
      prev = { seq: entry.seq, hash: entry.hash };
    }
    // 11 columns a row: 64 rows a statement stay far below either database's parameter limit.
    for (let i = 0; i < entries.length; i += 64) {
      const rows = entries.slice(i, i + 64);
      const params: unknown[] = [];
      for (const e of rows) params.push(e.node, e.seq, e.at, e.type, e.actor, e.subject, e.outcome, e.reason, e.details, e.prevHash, e.hash);
      await insertEntries(rows.length).run(trx, params);
    }
    const moved = await APPEND.moveHead.changes(trx, [prev.seq, prev.hash, this.node, prevSeq]);
    // Unreachable while the head is locked; a guard against a future change that drops the lock.
    if (moved !== 1) throw new JukiError('JUKI_ERR_CONFLICT', `audit: the head of ${this.node} moved during an append`);
    return entries;
  }

  /**
   * Append an event in a transaction of its own (for events that record no other change),
   * group-committed with concurrent records (see the top of this file). Resolves once the entry
   * is durable; validates first and refuses bad input without touching anyone else's batch.
   */
  async record(event: AuditEventInput): Promise<AuditEntry> {
    const fields = encodeEvent(this.node, event, this.#now());
    return this.#group.submit(fields);
  }

  /** How `record`'s group commit has batched so far (benchmarks, diagnostics). */
  get groupCommitStats(): GroupCommitStats {
    return this.#group.stats;
  }

  /** The chain's head as recorded (seq 0 and GENESIS_HASH for an empty chain). */
  async head(db: Kysely<Schema> = this.#database.db): Promise<ChainHead> {
    const row = await db.selectFrom('audit_heads').select(['seq', 'hash']).where('node_id', '=', this.node).executeTakeFirst();
    return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /**
   * A checkpoint of the current head, ready to be signed with the node's key and sent to a
   * peer. Verifying later against it detects a chain rewritten up to or past its seq.
   */
  async checkpoint(db: Kysely<Schema> = this.#database.db): Promise<Checkpoint> {
    const head = await this.head(db);
    return { node: this.node, seq: head.seq, headHash: head.hash, at: this.#now().toISOString() };
  }

  /** The last `limit` entries (default 20), oldest first; `beforeSeq` pages backwards. */
  async list(options: { limit?: number; beforeSeq?: number } = {}): Promise<AuditEntry[]> {
    const limit = options.limit ?? 20;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100000) throw invalid('limit', `expected an integer from 1 to 100000, got ${limit}`);
    let q = this.#database.db.selectFrom('audit_entries').selectAll().where('node_id', '=', this.node);
    if (options.beforeSeq !== undefined) q = q.where('seq', '<', options.beforeSeq);
    const rows = await q.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(entryFromRow).reverse();
  }

  /** Walk the whole chain and report the first broken entry, if any (see verifyChain). */
  verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    return verifyChain(this.#database.db, this.node, options);
  }
}

const ENTRY_COLUMNS = ['node_id', 'seq', 'at', 'event_type', 'actor', 'subject', 'outcome', 'reason', 'details', 'prev_hash', 'hash'];

const APPEND = {
  ensureHead: new Statement('INSERT INTO audit_heads (node_id, seq, hash) VALUES (?, 0, ?) ON CONFLICT (node_id) DO NOTHING'),
  lockHead: new Statement<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_heads WHERE node_id = ?'),
  lockHeadForUpdate: new Statement<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_heads WHERE node_id = ? FOR UPDATE'),
  moveHead: new Statement('UPDATE audit_heads SET seq = ?, hash = ? WHERE node_id = ? AND seq = ?'),
};

/** The insert of `rows` entries in one statement (1..64 rows), made once per row count. */
const inserts: Statement[] = [];
function insertEntries(rows: number): Statement {
  const row = `(${ENTRY_COLUMNS.map(() => '?').join(', ')})`;
  return (inserts[rows] ??= new Statement(`INSERT INTO audit_entries (${ENTRY_COLUMNS.join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`));
}

/** The node ids that have an audit chain (head or entries) in this database, sorted. */
export async function auditNodes(db: Kysely<Schema>): Promise<string[]> {
  const nodes = new Set((await db.selectFrom('audit_heads').select('node_id').execute()).map((r) => r.node_id));
  // Entries without a head (a deleted head row) still name a chain to verify. One index seek
  // per node rather than a DISTINCT over millions of rows.
  let after = '';
  for (;;) {
    const row = await db.selectFrom('audit_entries').select((eb) => eb.fn.min('node_id').as('node')).where('node_id', '>', after).executeTakeFirst();
    const node = row?.node as string | null | undefined;
    if (node === null || node === undefined) break;
    nodes.add(node);
    after = node;
  }
  return [...nodes].sort();
}
