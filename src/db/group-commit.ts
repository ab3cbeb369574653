/**
 * Group commit: callers submit items one at a time; a single writer commits them in batches,
 * each batch one transaction (one fsync), and settles every caller of a batch only after that
 * batch's transaction has finished:
 *
 *   committed  -> each caller gets its own result (in submission order)
 *   failed     -> every caller of that batch gets the same error; nothing of the batch remains
 *
 * While a batch is being written, new submissions queue up and form the next batch, so under
 * load batches grow by themselves and a lone caller waits for no timer: a batch starts at the
 * end of the current turn of the event loop (setImmediate), gathering whatever the requests
 * handled in that turn submitted. That matters on SQLite, whose better-sqlite3 commit (and its
 * fsync) blocks the event loop: started on a microtask, each batch would hold one entry and
 * block the requests behind it. Batches run one at a time, in submission order.
 */
import type { Transaction } from 'kysely';
import { Statement } from './statement.ts';
import type { Database } from './open.ts';
import type { Schema } from './schema.ts';

export interface GroupCommitOptions {
  /** Most items per batch (default 256). */
  readonly maxBatch?: number;
}

export interface GroupCommitStats {
  /** Batches that committed. */
  readonly batches: number;
  /** Items in committed batches. */
  readonly items: number;
  /** Batches that failed (each failing all of its callers). */
  readonly failedBatches: number;
  /** The largest committed batch. */
  readonly largest: number;
}

interface Waiter<I, O> {
  readonly item: I;
  readonly resolve: (out: O) => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit<I, O> {
  readonly #commit: (items: readonly I[]) => Promise<readonly O[]>;
  readonly #maxBatch: number;
  #queue: Waiter<I, O>[] = [];
  #running = false;
  #stats = { batches: 0, items: 0, failedBatches: 0, largest: 0 };

  /**
   * `commit(items)` writes one batch in one transaction and returns one result per item, in
   * order; it must leave nothing behind when it throws (a rolled-back transaction).
   */
  constructor(commit: (items: readonly I[]) => Promise<readonly O[]>, options: GroupCommitOptions = {}) {
    const maxBatch = options.maxBatch ?? 256;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) throw new RangeError(`group commit: maxBatch must be a whole number >= 1, got ${maxBatch}`);
    this.#commit = commit;
    this.#maxBatch = maxBatch;
  }

  /** Submit one item; resolves with its result once the batch holding it committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  get stats(): GroupCommitStats {
    return { ...this.#stats };
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        let out: readonly O[];
        try {
          out = await this.#commit(batch.map((w) => w.item));
          if (out.length !== batch.length) throw new Error(`group commit: ${out.length} results for a batch of ${batch.length}`);
        } catch (e) {
          this.#stats.failedBatches += 1;
          for (const w of batch) w.reject(e);
          continue;
        }
        this.#stats.batches += 1;
        this.#stats.items += batch.length;
        this.#stats.largest = Math.max(this.#stats.largest, batch.length);
        batch.forEach((w, i) => w.resolve(out[i]!));
      }
    } finally {
      this.#running = false;
    }
  }
}

/**
 * Group commit of whole transactions: concurrent `transaction(fn)` calls are run one after the
 * other inside one real transaction and committed together (one fsync for the lot). A job that
 * throws is rolled back alone and its caller gets its error; the others still commit. If the
 * transaction itself fails (commit, connection, a crash), every caller of that batch gets the
 * error and none of it remains. Every caller is released only after the real COMMIT returned, so
 * what a caller was told committed is durable.
 *
 * Jobs nearly always succeed, so a batch first runs them without savepoints (two statements a
 * job saved). If one throws, that whole transaction is rolled back and the batch runs again from
 * the start, each job under its own savepoint (a job that throws is rolled back to it alone).
 * A job may thus run twice, the first run rolled back: it must keep its effects inside the
 * transaction, or register them with `onCommit` (hooks of a rolled-back run are dropped).
 *
 * A job must not wait for another transaction of the same database (it would wait for its own
 * batch); the same holds for a plain transaction on SQLite, whose one connection is held.
 */
export class TransactionGroup {
  readonly #group: GroupCommit<GroupJob, { ok: true; value: unknown } | { ok: false; error: unknown }>;

  constructor(database: Database, options: GroupCommitOptions = {}) {
    this.#group = new GroupCommit(
      async (jobs) => {
        // What committed jobs asked to run after the commit, in job order; a job rolled back to
        // its savepoint takes its own away, a failed transaction takes all.
        let after: (() => void)[] = [];
        const onCommit = (fn: () => void) => void after.push(fn);
        let out: ({ ok: true; value: unknown } | { ok: false; error: unknown })[];
        try {
          out = await database.transaction(async (trx) => {
            const results: { ok: true; value: unknown }[] = [];
            for (let i = 0; i < jobs.length; i++) {
              try {
                results.push({ ok: true, value: await jobs[i]!(trx, onCommit) });
              } catch (error) {
                // Alone in its batch, the job's failure is the transaction's.
                throw jobs.length === 1 ? error : new JobFailed(error);
              }
            }
            return results;
          });
        } catch (e) {
          after = [];
          if (!(e instanceof JobFailed)) throw e;
          out = await database.transaction(async (trx) => {
            const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
            for (const job of jobs) {
              const mark = after.length;
              await SAVEPOINT.run(trx, []);
              try {
                const value = await job(trx, onCommit);
                await RELEASE.run(trx, []);
                results.push({ ok: true, value });
              } catch (error) {
                after.length = mark;
                await ROLLBACK_TO.run(trx, []);
                await RELEASE.run(trx, []);
                results.push({ ok: false, error });
              }
            }
            return results;
          });
        }
        for (const fn of after) {
          try {
            fn();
          } catch {
            // An after-commit hook only schedules work (a send); its failure changes nothing committed.
          }
        }
        return out;
      },
      options,
    );
  }

  /**
   * Run `fn` in the next batch's transaction; resolves with its result once that committed.
   * `fn` may register hooks with `onCommit`: they run right after the COMMIT (before any caller
   * is released), only if its job committed.
   */
  async transaction<T>(fn: (trx: Transaction<Schema>, onCommit: (hook: () => void) => void) => Promise<T>): Promise<T> {
    const r = await this.#group.submit(fn);
    if (!r.ok) throw r.error;
    return r.value as T;
  }

  get stats(): GroupCommitStats {
    return this.#group.stats;
  }
}

type GroupJob = (trx: Transaction<Schema>, onCommit: (hook: () => void) => void) => Promise<unknown>;

/** A job of a batch run without savepoints threw: the batch runs again, each job under a savepoint. */
class JobFailed extends Error {
  constructor(readonly error: unknown) {
    super('a job of the batch failed');
  }
}

// Fixed text: not rebuilt by the query builder each time.
const SAVEPOINT = new Statement('SAVEPOINT juki_group');
const RELEASE = new Statement('RELEASE SAVEPOINT juki_group');
const ROLLBACK_TO = new Statement('ROLLBACK TO SAVEPOINT juki_group');
