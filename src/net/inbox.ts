/**
 * The idempotent, ordered inbox. `receive(envelope)` runs one transaction that records the
 * message id (primary key) together with its effect, so a message is applied exactly once
 * however often it arrives; and it applies each (sender, key)'s messages in sequence order:
 *
 *   seq <= last applied, or id already known   -> duplicate: acknowledged, not applied again
 *   seq == last applied + 1                    -> applied now, then any held successors
 *   seq >  last applied + 1                    -> held (stored, acknowledged) until the gap fills
 *
 * A held message is stored before it is acknowledged, so acknowledging it loses nothing if the
 * node then crashes. Effects run through the node's one `apply` handler, which is what lets a
 * held message be applied later, from another delivery.
 */
import type { Envelope } from './envelope.ts';
import { encodeEnvelope } from './envelope.ts';
import type { NetStore, NetTx } from './store.ts';

/** What the receiver did with a message; every receipt is an acknowledgement. */
export type Receipt = 'applied' | 'duplicate' | 'held';

/** A node's effect for a message, run inside the inbox's transaction. */
export type ApplyMessage<T> = (trx: T, envelope: Envelope) => Promise<void>;

export interface InboxOptions {
  readonly now?: () => number;
}

/** What a gate needs from an inbox. */
export interface MessageSink {
  receive(envelope: Envelope): Promise<Receipt>;
}

export class Inbox<T> implements MessageSink {
  readonly node: string;
  readonly #store: NetStore<T>;
  readonly #apply: ApplyMessage<T>;
  readonly #now: () => number;

  constructor(store: NetStore<T>, node: string, apply: ApplyMessage<T>, options: InboxOptions = {}) {
    this.#store = store;
    this.node = node;
    this.#apply = apply;
    this.#now = options.now ?? Date.now;
  }

  /** Record and (in order) apply a message addressed to this node; see the table above. */
  receive(envelope: Envelope): Promise<Receipt> {
    if (envelope.to !== this.node) throw new Error(`inbox of ${this.node} given a message for ${envelope.to}`);
    return this.#store.transaction(async (tx) => {
      const applied = await tx.cursor(this.node, envelope.from, envelope.key);
      // A lower seq under a new id would be the sender re-numbering; it is not applied twice.
      if (envelope.seq <= applied) return 'duplicate';
      const at = new Date(this.#now()).toISOString();
      const state = envelope.seq > applied + 1 ? 'held' : 'applied';
      // An id already in the inbox (held, or applied under another seq) is a duplicate too.
      if (!(await tx.insertInbox(envelope, encodeEnvelope(envelope), state, at))) return 'duplicate';
      if (state === 'held') return 'held';
      await this.#apply(tx.trx, envelope);
      const last = await this.#drain(tx, envelope, at);
      await tx.setCursor(this.node, envelope.from, envelope.key, last);
      return 'applied';
    });
  }

  /** Apply the held successors of `first`, in order; returns the last seq applied. */
  async #drain(tx: NetTx<T>, first: Envelope, at: string): Promise<number> {
    let seq = first.seq;
    for (;;) {
      const next = await tx.held(this.node, first.from, first.key, seq + 1);
      if (!next) return seq;
      await this.#apply(tx.trx, next);
      await tx.markApplied(next.id, at);
      seq += 1;
    }
  }
}
