/**
 * The outbox and inbox rows in memory, with the same semantics as SqlNetStore: transactions
 * are serialised and all-or-nothing (every write registers its undo; a throw rolls back).
 * The deterministic simulation gives each node one of these as its "database": it survives the
 * node's crashes, like a disk, while everything else the node held is lost.
 */
import type { Envelope } from './envelope.ts';
import type { ClaimedMessage, InboxRecord, InboxState, NetStore, NetTx, OutboxRecord, OutboxState } from './store.ts';

/** A transaction of the memory store; effects register how to undo themselves. */
export class MemoryTx {
  readonly #undo: (() => void)[] = [];
  readonly #after: (() => void)[] = [];
  /** Run `hook` after the transaction committed. */
  afterCommit(hook: () => void): void {
    this.#after.push(hook);
  }
  /** @internal */
  committed(): void {
    for (const hook of this.#after.splice(0)) hook();
  }
  /** Register how to undo a write if the transaction rolls back. */
  onRollback(undo: () => void): void {
    this.#undo.push(undo);
  }
  /** Set `map[key] = value`, undone on rollback. */
  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const old = map.get(key);
    map.set(key, value);
    this.onRollback(() => (had ? map.set(key, old as V) : map.delete(key)));
  }
  /** @internal */
  rollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]!();
    this.#undo.length = 0;
  }
}

interface OutRow { envelope: Envelope; state: OutboxState; attempts: number; nextAttemptAt: string; lastError: string | null; deliveredAt: string | null; order: number }
interface InRow { envelope: Envelope; state: InboxState; receivedAt: string; appliedAt: string | null; order: number }

const k3 = (a: string, b: string, c: string): string => `${a}\u0000${b}\u0000${c}`;

export class MemoryNetStore implements NetStore<MemoryTx> {
  readonly #sequences = new Map<string, number>();
  readonly #outbox = new Map<string, OutRow>();
  /** Ids of pending outbox rows: the due scan looks only at these. */
  readonly #pending = new Set<string>();
  readonly #inbox = new Map<string, InRow>();
  /** (receiver, sender, key, seq) -> id of a held message. */
  readonly #held = new Map<string, string>();
  readonly #cursors = new Map<string, number>();
  #order = 0;
  #lock: Promise<unknown> = Promise.resolve();

  async transaction<R>(fn: (tx: NetTx<MemoryTx>) => Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      const trx = new MemoryTx();
      let result: R;
      try {
        result = await fn(this.within(trx));
      } catch (e) {
        trx.rollback();
        throw e;
      }
      trx.committed();
      return result;
    };
    const result = this.#lock.then(run, run);
    this.#lock = result.catch(() => undefined);
    return result;
  }

  within(trx: MemoryTx): NetTx<MemoryTx> {
    return {
      trx,
      afterCommit: (hook) => {
        trx.afterCommit(hook);
        return true;
      },
      nextSeq: async (sender, receiver, key) => {
        const k = k3(sender, receiver, key);
        const seq = (this.#sequences.get(k) ?? 0) + 1;
        trx.set(this.#sequences, k, seq);
        return seq;
      },
      insertOutbox: async (envelope, _encoded, nextAttemptAt, attempts = 0) => {
        if (this.#outbox.has(envelope.id)) throw Object.assign(new Error(`duplicate outbox id ${envelope.id}`), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
        trx.set(this.#outbox, envelope.id, { envelope, state: 'pending', attempts, nextAttemptAt, lastError: null, deliveredAt: null, order: this.#order++ });
        this.#pending.add(envelope.id);
        trx.onRollback(() => this.#pending.delete(envelope.id));
      },
      insertInbox: async (envelope, _encoded, state, at) => {
        if (this.#inbox.has(envelope.id)) return false;
        trx.set(this.#inbox, envelope.id, { envelope, state, receivedAt: at, appliedAt: state === 'applied' ? at : null, order: this.#order++ });
        if (state === 'held') trx.set(this.#held, `${k3(envelope.to, envelope.from, envelope.key)}\u0000${envelope.seq}`, envelope.id);
        return true;
      },
      markApplied: async (id, at) => {
        const row = this.#inbox.get(id);
        if (!row) return;
        trx.set(this.#inbox, id, { ...row, state: 'applied', appliedAt: at });
        const hk = `${k3(row.envelope.to, row.envelope.from, row.envelope.key)}\u0000${row.envelope.seq}`;
        if (this.#held.get(hk) === id) {
          this.#held.delete(hk);
          trx.onRollback(() => this.#held.set(hk, id));
        }
      },
      cursor: async (receiver, sender, key) => this.#cursors.get(k3(receiver, sender, key)) ?? 0,
      setCursor: async (receiver, sender, key, seq) => trx.set(this.#cursors, k3(receiver, sender, key), seq),
      held: async (receiver, sender, key, seq) => {
        const id = this.#held.get(`${k3(receiver, sender, key)}\u0000${seq}`);
        return id === undefined ? undefined : this.#inbox.get(id)?.envelope;
      },
    };
  }

  async claimDue(sender: string, now: string, limit: number, retryAt: (attempts: number) => string): Promise<ClaimedMessage[]> {
    const due = [...this.#pending]
      .map((id) => this.#outbox.get(id)!)
      .filter((r) => r.envelope.from === sender && r.nextAttemptAt <= now)
      .sort((a, b) => (a.nextAttemptAt < b.nextAttemptAt ? -1 : a.nextAttemptAt > b.nextAttemptAt ? 1 : a.order - b.order))
      .slice(0, limit);
    return due.map((r) => {
      r.attempts += 1;
      r.nextAttemptAt = retryAt(r.attempts);
      return { envelope: r.envelope, attempts: r.attempts };
    });
  }

  async markDelivered(id: string, at: string): Promise<boolean> {
    const r = this.#outbox.get(id);
    if (!r || r.state !== 'pending') return false;
    r.state = 'delivered';
    r.deliveredAt = at;
    r.lastError = null;
    this.#pending.delete(id);
    return true;
  }

  async markDeliveredMany(ids: readonly string[], at: string): Promise<number> {
    let n = 0;
    for (const id of ids) if (await this.markDelivered(id, at)) n++;
    return n;
  }

  async markFailed(id: string, error: string, dead: boolean): Promise<void> {
    const r = this.#outbox.get(id);
    if (!r || r.state !== 'pending') return;
    r.lastError = error;
    if (dead) {
      r.state = 'dead';
      this.#pending.delete(id);
    }
  }

  async nextDue(sender: string): Promise<string | undefined> {
    let min: string | undefined;
    for (const id of this.#pending) {
      const r = this.#outbox.get(id)!;
      if (r.envelope.from === sender && (min === undefined || r.nextAttemptAt < min)) min = r.nextAttemptAt;
    }
    return min;
  }

  async listOutbox(states: readonly OutboxState[], limit: number): Promise<OutboxRecord[]> {
    return [...this.#outbox.values()]
      .filter((r) => states.includes(r.state))
      .sort((a, b) => a.order - b.order)
      .slice(0, limit)
      .map(({ order: _o, ...r }) => ({ ...r }));
  }

  async listHeld(limit: number): Promise<InboxRecord[]> {
    return [...this.#inbox.values()]
      .filter((r) => r.state === 'held')
      .sort((a, b) => a.order - b.order)
      .slice(0, limit)
      .map(({ order: _o, ...r }) => ({ ...r }));
  }

  /** Every inbox row's id and state (the simulation's invariant checks). */
  inboxIds(): ReadonlyMap<string, InboxState> {
    return new Map([...this.#inbox].map(([id, r]) => [id, r.state]));
  }
}
