/**
 * Where the outbox and inbox keep their rows: one interface, two implementations, the same
 * logic above it (outbox.ts, inbox.ts). `SqlNetStore` is the real one (the node's database,
 * migration 0004_net); `MemoryNetStore` keeps the same rows in maps with rollback, for the
 * deterministic simulation, which runs thousands of networks a minute.
 *
 * `T` is the transaction handle of the caller's own change (a Kysely transaction for the SQL
 * store): an outbox row and an inbox row are written in the same transaction as the effect.
 */
import type { Envelope } from './envelope.ts';

export type OutboxState = 'pending' | 'delivered' | 'dead';
export type InboxState = 'applied' | 'held';

export interface OutboxRecord {
  readonly envelope: Envelope;
  readonly state: OutboxState;
  /** Sends started so far. */
  readonly attempts: number;
  /** When a pending message is (re)sent next: ISO-8601 UTC. */
  readonly nextAttemptAt: string;
  readonly lastError: string | null;
  readonly deliveredAt: string | null;
}

export interface InboxRecord {
  readonly envelope: Envelope;
  readonly state: InboxState;
  readonly receivedAt: string;
  readonly appliedAt: string | null;
}

/** The net rows reachable inside one transaction; `trx` is that transaction for the caller's effect. */
export interface NetTx<T> {
  readonly trx: T;
  /**
   * Run `hook` right after this transaction commits (never if it rolls back); false if the
   * store cannot tell (a transaction the caller opened itself), and then nothing is registered.
   */
  afterCommit(hook: () => void): boolean;
  /** The next sequence number of (sender, receiver, key): 1 for the first message. */
  nextSeq(sender: string, receiver: string, key: string): Promise<number>;
  /** A new pending row; `attempts` above 0 writes it already claimed (sent right after commit). */
  insertOutbox(envelope: Envelope, encoded: string, nextAttemptAt: string, attempts?: number): Promise<void>;
  /** Record a received message; false (and nothing written) if its id is already in the inbox. */
  insertInbox(envelope: Envelope, encoded: string, state: InboxState, at: string): Promise<boolean>;
  markApplied(id: string, at: string): Promise<void>;
  /** The last sequence number applied for (receiver, sender, key), 0 if none; locks it until commit (PostgreSQL). */
  cursor(receiver: string, sender: string, key: string): Promise<number>;
  /** Set (or create) the cursor of (receiver, sender, key). */
  setCursor(receiver: string, sender: string, key: string, seq: number): Promise<void>;
  /** The held message with exactly this sequence number, if any. */
  held(receiver: string, sender: string, key: string, seq: number): Promise<Envelope | undefined>;
}

export interface ClaimedMessage {
  readonly envelope: Envelope;
  /** Including this one. */
  readonly attempts: number;
}

export interface NetStore<T> {
  /** Run `fn` in a new transaction: all of it commits, or none of it. */
  transaction<R>(fn: (tx: NetTx<T>) => Promise<R>): Promise<R>;
  /** The net rows inside a transaction the caller already holds. */
  within(trx: T): NetTx<T>;
  /**
   * Atomically take up to `limit` pending messages of `sender` due at `now`, oldest first,
   * counting the attempt and moving each one's next attempt to `retryAt(attempts)` before it
   * is sent: if no acknowledgement comes (lost, crashed), it is simply due again then.
   */
  claimDue(sender: string, now: string, limit: number, retryAt: (attempts: number) => string): Promise<ClaimedMessage[]>;
  /** Mark a pending message delivered; false if it was not pending. */
  markDelivered(id: string, at: string): Promise<boolean>;
  /** Mark several pending messages delivered at once (one statement); how many were pending. */
  markDeliveredMany(ids: readonly string[], at: string): Promise<number>;
  /** Record why a send failed; `dead` stops retrying (the receiver refused it for good). */
  markFailed(id: string, error: string, dead: boolean): Promise<void>;
  /** The earliest next attempt among `sender`'s pending messages. */
  nextDue(sender: string): Promise<string | undefined>;
  /** Outbox rows in these states, oldest first. */
  listOutbox(states: readonly OutboxState[], limit: number): Promise<OutboxRecord[]>;
  /** Inbox rows held for a gap, oldest first. */
  listHeld(limit: number): Promise<InboxRecord[]>;
}
