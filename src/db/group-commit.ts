/**
 * Group commit: callers submit items one at a time; a single writer commits them in batches,
 * each batch one transaction (one fsync), and settles every caller of a batch only after that
 * batch's transaction has finished:
 *
 *   committed  -> each caller gets its own result (in submission order)
 *   failed     -> every caller of that batch gets the same error; nothing of the batch remains
 *
 * While a batch is being written, new submissions queue up and form the next batch, so under
 * load batches grow by themselves and a lone caller waits for no timer (the first batch starts
 * on the next microtask, gathering whatever was submitted in the same turn). Batches run one at
 * a time, in submission order.
 */

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
        queueMicrotask(() => void this.#drain());
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
