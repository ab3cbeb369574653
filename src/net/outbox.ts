/**
 * The transactional outbox: a state change and the messages announcing it commit together
 * (`enqueue(trx, draft)` inside the caller's transaction), so a message is never sent for a
 * change that rolled back, nor lost for one that committed. A relay (relay.ts) claims due
 * messages, sends them, and marks them delivered on acknowledgement; until then they are
 * retried with exponential backoff and jitter, forever: only a receiver's permanent refusal
 * makes a message `dead`, and dead messages stay visible (`juki net pending`).
 */
import { JukiError, invalid, timeOrderedId } from '../util/index.ts';
import { checkDraft, ENVELOPE_VERSION, encodeEnvelope, type Draft, type Envelope, type MessageType } from './envelope.ts';
import type { NetStore, OutboxRecord, OutboxState, InboxRecord } from './store.ts';

export interface Backoff {
  /** Wait before the first retry, ms; it doubles per attempt. Default 1000. */
  readonly baseMs: number;
  /** Longest wait between attempts, ms. Default 300000 (5 minutes). */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 300_000 };

/**
 * How long to wait after attempt `attempts` (1, 2, ...) before the next: exponential,
 * capped, with "equal jitter" (half fixed, half random) so that many senders retrying after
 * the same outage spread out instead of arriving together.
 *   delay = min(max, base * 2^(attempts-1));  wait = delay/2 + random() * delay/2
 */
export function backoffDelay(attempts: number, random: () => number, backoff: Backoff = DEFAULT_BACKOFF): number {
  const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempts - 1, 40));
  return Math.floor(delay / 2 + random() * (delay / 2));
}

export interface OutboxOptions {
  /** Milliseconds since the epoch (the simulation injects virtual time). */
  readonly now?: () => number;
  /** Uniform in [0, 1) (the simulation injects a seeded generator). */
  readonly random?: () => number;
  readonly newId?: () => string;
  readonly backoff?: Backoff;
}

export interface PendingReport {
  readonly undelivered: readonly OutboxRecord[];
  readonly dead: readonly OutboxRecord[];
  /** Received but waiting for an earlier sequence number of the same sender and key. */
  readonly held: readonly InboxRecord[];
}

/**
 * Who sends a message as soon as its transaction committed (a started relay): the outbox then
 * writes the row already claimed (attempt 1, next attempt after the backoff), so no claim has
 * to find it, and hands the envelope over right after the commit.
 */
export interface Dispatcher {
  /** Whether it can take one more message now (else the row is written due, for a claim). */
  canTake(): boolean;
  /** Called right after the commit of the enqueuing transaction. */
  dispatch(envelope: Envelope): void;
}

export class Outbox<T> {
  readonly node: string;
  readonly store: NetStore<T>;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #newId: () => string;
  readonly #backoff: Backoff;
  readonly #listeners = new Set<() => void>();
  #dispatcher: Dispatcher | undefined;

  constructor(store: NetStore<T>, node: string, options: OutboxOptions = {}) {
    this.store = store;
    this.node = node;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    // Time-ordered: the outbox and inbox rows keyed by it are appended to their index.
    this.#newId = options.newId ?? (() => timeOrderedId(this.#now()));
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    if (!(this.#backoff.baseMs > 0 && this.#backoff.maxMs >= this.#backoff.baseMs)) throw invalid('backoff', `expected 0 < baseMs <= maxMs, got ${JSON.stringify(this.#backoff)}`);
  }

  /**
   * Write a message to the outbox inside the caller's transaction `trx`, numbered next in its
   * (from, to, key) sequence. Returns the envelope as it will be sent. Checks the draft first
   * and writes nothing when it refuses.
   */
  async enqueue<M extends MessageType>(trx: T, draft: Draft<M>): Promise<Envelope<M>> {
    const key = checkDraft(draft);
    if (draft.from !== this.node) throw invalid('message.from', `this outbox sends as ${this.node}, got ${JSON.stringify(draft.from)}`);
    const tx = this.store.within(trx);
    const seq = await tx.nextSeq(draft.from, draft.to, key);
    const now = this.#now();
    const at = new Date(now).toISOString();
    const envelope: Envelope<M> = Object.freeze({ v: ENVELOPE_VERSION, id: this.#newId(), type: draft.type, from: draft.from, to: draft.to, key, seq, createdAt: at, body: draft.body });
    const dispatcher = this.#dispatcher;
    // Sent right after the commit, by the dispatcher: written as its first attempt, so if that
    // send is lost (no answer, a crash) the message is simply due again after the backoff.
    if (dispatcher && dispatcher.canTake() && tx.afterCommit(() => dispatcher.dispatch(envelope))) {
      await tx.insertOutbox(envelope, encodeEnvelope(envelope), this.#retryAt(now, 1), 1);
      return envelope;
    }
    await tx.insertOutbox(envelope, encodeEnvelope(envelope), at);
    for (const listener of this.#listeners) listener();
    return envelope;
  }

  /** Hand messages enqueued in the store's own transactions to `dispatcher` after commit (a started relay); undefined detaches. */
  attachDispatcher(dispatcher: Dispatcher | undefined): void {
    this.#dispatcher = dispatcher;
  }

  #retryAt(now: number, attempts: number): string {
    return new Date(now + backoffDelay(attempts, this.#random, this.#backoff)).toISOString();
  }

  /**
   * Be told of every enqueue left for a claim (a relay wakes up instead of waiting for its idle
   * timer; enqueues handed to the dispatcher are not told). Called
   * right after the row is written, inside the caller's still open transaction: a listener must
   * not read the outbox there and then, only schedule its read for later (the relay does so at
   * the end of the event loop's turn). Returns the function that unsubscribes.
   */
  onEnqueued(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Enqueue in a transaction of its own (a message that records no other change). */
  send<M extends MessageType>(draft: Draft<M>): Promise<Envelope<M>> {
    return this.store.transaction((tx) => this.enqueue(tx.trx, draft));
  }

  /**
   * Claim the messages due now (at most `limit`), each with its next retry already scheduled
   * (backoff and jitter), so a send that never hears back is retried without more bookkeeping.
   */
  claimDue(limit = 32): Promise<Envelope[]> {
    const now = this.#now();
    return this.store
      .claimDue(this.node, new Date(now).toISOString(), limit, (attempts) => this.#retryAt(now, attempts))
      .then((claimed) => claimed.map((c) => c.envelope));
  }

  /** The receiver acknowledged: its inbox holds the message. */
  delivered(id: string): Promise<boolean> {
    return this.store.markDelivered(id, new Date(this.#now()).toISOString());
  }

  /** The receiver acknowledged each of these (a batch): one statement for all of them. */
  deliveredMany(ids: readonly string[]): Promise<number> {
    return this.store.markDeliveredMany(ids, new Date(this.#now()).toISOString());
  }

  /** A send failed; a permanent refusal (`JukiError` with details.permanent) makes it dead. */
  failed(id: string, error: unknown): Promise<void> {
    const permanent = error instanceof JukiError && error.details.permanent === true;
    const text = error instanceof JukiError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
    return this.store.markFailed(id, text.slice(0, 500), permanent);
  }

  /** Milliseconds until the next pending message is due (0 if one is due now), or undefined if none. */
  async nextDueIn(): Promise<number | undefined> {
    const due = await this.store.nextDue(this.node);
    return due === undefined ? undefined : Math.max(0, Date.parse(due) - this.#now());
  }

  /** Undelivered and dead messages, and messages held in the inbox for a gap. */
  async pending(limit = 1000): Promise<PendingReport> {
    const rows = await this.store.listOutbox(['pending', 'dead'] satisfies OutboxState[], limit);
    return {
      undelivered: rows.filter((r) => r.state === 'pending'),
      dead: rows.filter((r) => r.state === 'dead'),
      held: await this.store.listHeld(limit),
    };
  }
}
