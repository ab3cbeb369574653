/**
 * The delivery loop: send the outbox's messages through a transport, mark each delivered on
 * acknowledgement or record the failure. Sends run concurrently (up to `concurrency`); a message
 * being sent already has its retry scheduled in its row, so the loop keeps no state that a crash
 * could lose. `tick()` is one round (the simulation calls it on virtual time); `start()` runs
 * rounds on timers until `stop()`.
 *
 * Two ways in. A message enqueued in one of the store's own transactions (an inbox receipt that
 * forwards, `outbox.send`) is written already claimed and handed to the relay right after its
 * commit (`Dispatcher`): no claim has to find it, no commit is spent on claiming it. A message
 * enqueued in a transaction the caller opened itself (the CS books) is written due; the
 * relay's claim finds it. A started relay wakes up on either (`Outbox.onEnqueued`, `dispatch`)
 * and on `notify()`, and runs a round at the end of that turn of the event loop (timer 0):
 * handed-over messages first, then a claim when one may find something (an enqueue left for a
 * claim, the last claim filled its room, or the idle timer: retries fall due on their own). A
 * wake-up during a round is kept and runs another round right after it. On PostgreSQL a claim
 * that runs before the enqueuing transaction commits misses the message, which then goes at
 * the next round (after the next enqueue, a send settling, or the idle timer).
 *
 * Acknowledged messages are marked delivered in batches (`markDelayMs`), one statement for all
 * acknowledged in that window: a mark lost in a crash costs only a resend, which the receiver
 * acknowledges as a duplicate.
 */
import type { Envelope } from './envelope.ts';
import type { Dispatcher, Outbox } from './outbox.ts';
import type { Transport } from './transport.ts';

export interface RelayOptions {
  /** Sends (envelopes) in flight at most. Default 512. */
  readonly concurrency?: number;
  /** Longest sleep between rounds when nothing is due, ms. Default 1000. */
  readonly idleMs?: number;
  /**
   * Envelopes for one receiver sent in one exchange at most, when the transport can
   * (`Transport.sendBatch`, HTTPS). Default 256; 1 sends each alone.
   */
  readonly maxBatch?: number;
  /**
   * Exchanges in flight to one receiver at most, when the transport batches (default 2). What
   * comes meanwhile waits and goes in the next exchange: under load batches grow by themselves,
   * and with them the receiver's commits (one per exchange), instead of many small exchanges
   * each costing a commit; a lone message still goes at once.
   */
  readonly maxExchanges?: number;
  /**
   * How long acknowledged messages wait to be marked delivered together, ms (default 10; 0 marks
   * each batch at once). A mark lost in a crash costs a resend, which the receiver's inbox
   * acknowledges as a duplicate; batching the marks saves a commit per acknowledgement.
   */
  readonly markDelayMs?: number;
  /** Told about each failed send (logging). */
  readonly onFailure?: (envelope: Envelope, error: unknown) => void;
  /** The timers rounds run on (tests inject virtual ones); default the global setTimeout. */
  readonly timers?: RelayTimers;
}

/** What the relay needs of a clock: one-shot timers. */
export interface RelayTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: RelayTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class Relay<T> implements Dispatcher {
  readonly #outbox: Outbox<T>;
  readonly #transport: Transport;
  readonly #concurrency: number;
  readonly #maxBatch: number;
  readonly #maxExchanges: number;
  /** Exchanges in flight by receiver (batching transports). */
  readonly #exchanges = new Map<string, number>();
  readonly #idleMs: number;
  readonly #onFailure: (envelope: Envelope, error: unknown) => void;
  readonly #timers: RelayTimers;
  readonly #markDelayMs: number;
  readonly #inFlight = new Set<Promise<void>>();
  /** Committed messages handed over by the outbox (already claimed), waiting for room. */
  #handed: Envelope[] = [];
  /** A claim may find something: an enqueue left for a claim, or the last claim filled its room. */
  #claimWanted = true;
  /** Acknowledged, not yet marked delivered. */
  #acked: string[] = [];
  #markTimer: unknown;
  #marking: Promise<void> = Promise.resolve();
  #timer: unknown;
  /** The pending timer is a wake-up (0 ms), not an idle round. */
  #wakeScheduled = false;
  /** A wake-up came during a round: run another right after it. */
  #again = false;
  #running = false;
  #round: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(outbox: Outbox<T>, transport: Transport, options: RelayOptions = {}) {
    this.#outbox = outbox;
    this.#transport = transport;
    this.#concurrency = options.concurrency ?? 512;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 256);
    this.#maxExchanges = Math.max(1, options.maxExchanges ?? 2);
    this.#idleMs = options.idleMs ?? 1000;
    this.#markDelayMs = Math.max(0, options.markDelayMs ?? 10);
    this.#onFailure = options.onFailure ?? (() => {});
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  /**
   * Dispatcher (the outbox hands committed messages to a started relay, or to one a driver
   * attached with `outbox.attachDispatcher`): room for one more, in flight and waiting at most
   * twice the concurrency.
   */
  canTake(): boolean {
    return this.#inFlight.size + this.#handed.length < 2 * this.#concurrency;
  }

  /** Dispatcher: a committed, already claimed message; it goes out in the next round. */
  dispatch(envelope: Envelope): void {
    this.#handed.push(envelope);
    this.notify();
  }

  /**
   * One round: the messages handed over first, then claim what is due (up to free capacity),
   * and start sending. Returns how many started. A round woken only by handed-over messages
   * does not claim: nothing was left due for it.
   */
  async tick(): Promise<number> {
    let room = this.#concurrency - this.#inFlight.size;
    if (room <= 0) return 0;
    // How many more envelopes each receiver may take in this round (batching transports).
    const allowance = new Map<string, number>();
    const admits = (to: string): boolean => {
      if (!this.#batching()) return true;
      const left = allowance.get(to) ?? (this.#maxExchanges - (this.#exchanges.get(to) ?? 0)) * this.#maxBatch;
      allowance.set(to, left - 1);
      return left > 0;
    };
    const handed: Envelope[] = [];
    const waiting: Envelope[] = [];
    for (const e of this.#handed) (handed.length < room && admits(e.to) ? handed : waiting).push(e);
    this.#handed = waiting;
    room -= handed.length;
    let claimed: Envelope[] = [];
    if (room > 0 && (this.#claimWanted || !this.#running)) {
      this.#claimWanted = false;
      claimed = await this.#outbox.claimDue(room);
      if (claimed.length === room) this.#claimWanted = true;
      // Claimed for a receiver with no exchange free: sent with the next one (its retry is set).
      const now: Envelope[] = [];
      for (const e of claimed) (admits(e.to) ? now : this.#handed).push(e);
      claimed = now;
    }
    const due = handed.length === 0 ? claimed : claimed.length === 0 ? handed : [...handed, ...claimed];
    for (const [envelope, delivery, marked] of this.#send(due)) {
      const p: Promise<void> = this.#settleOne(envelope, delivery, marked).finally(() => {
        this.#inFlight.delete(p);
        // Claim again once half the room is free (or all of it, with nothing left in flight),
        // not after every send: each claim reads the due messages, and under load many small
        // claims cost far more than a few large ones. Messages waiting for an exchange go now.
        if (this.#running && (this.#inFlight.size === 0 || this.#inFlight.size <= this.#concurrency / 2 || this.#handed.length > 0)) this.notify();
      });
      this.#inFlight.add(p);
    }
    return due.length;
  }

  #batching(): boolean {
    return this.#transport.sendBatch !== undefined && this.#maxBatch > 1;
  }

  /**
   * Start sending `due`: alone, or, when the transport can, in batches of the envelopes for the
   * same receiver (claim order kept within each batch, so a card's messages go in sequence).
   * Each envelope's outcome is still its own: a batch's acknowledged envelopes are marked
   * delivered together (one statement; `marked` true), the failed ones each on its own.
   */
  #send(due: readonly Envelope[]): [Envelope, Promise<unknown>, boolean][] {
    const sendBatch = this.#transport.sendBatch?.bind(this.#transport);
    if (!sendBatch || !this.#batching()) return due.map((e) => [e, this.#transport.send(e), false]);
    const byReceiver = new Map<string, Envelope[]>();
    for (const e of due) {
      const list = byReceiver.get(e.to);
      if (list) list.push(e);
      else byReceiver.set(e.to, [e]);
    }
    const out: [Envelope, Promise<unknown>, boolean][] = [];
    for (const [to, list] of byReceiver) {
      for (let i = 0; i < list.length; i += this.#maxBatch) {
        const batch = list.slice(i, i + this.#maxBatch);
        this.#exchanges.set(to, (this.#exchanges.get(to) ?? 0) + 1);
        const done = () => {
          const n = (this.#exchanges.get(to) ?? 1) - 1;
          if (n > 0) this.#exchanges.set(to, n);
          else this.#exchanges.delete(to);
        };
        if (batch.length === 1) {
          out.push([batch[0]!, this.#transport.send(batch[0]!).finally(done), false]);
          continue;
        }
        const results = sendBatch(batch).finally(done).then(async (r) => {
          const acked = batch.filter((_, k) => r[k]?.ok === true).map((e) => e.id);
          if (acked.length > 0) await this.#markDelivered(acked);
          return r;
        });
        batch.forEach((e, k) => out.push([e, results.then((r) => {
          const one = r[k];
          if (!one) throw new Error(`the transport answered ${r.length} results for a batch of ${batch.length}`);
          if (!one.ok) throw one.error;
          return one.ack;
        }), true]));
      }
    }
    return out;
  }

  async #settleOne(envelope: Envelope, delivery: Promise<unknown>, marked: boolean): Promise<void> {
    try {
      await delivery;
    } catch (e) {
      this.#onFailure(envelope, e);
      await this.#outbox.failed(envelope.id, e);
      return;
    }
    if (!marked) await this.#markDelivered([envelope.id]);
  }

  /**
   * Mark acknowledged messages delivered: at once when the relay is driven by hand (tick), else
   * together with the others acknowledged within markDelayMs (one statement, one commit).
   * If the mark fails (database), the messages stay pending and are sent again when due; the
   * receiver acknowledges them as duplicates.
   */
  async #markDelivered(ids: readonly string[]): Promise<void> {
    if (!this.#running || this.#markDelayMs === 0) {
      await this.#outbox.deliveredMany(ids);
      return;
    }
    this.#acked.push(...ids);
    if (this.#markTimer === undefined) this.#markTimer = this.#timers.setTimeout(() => void this.#flushMarks(), this.#markDelayMs);
  }

  #flushMarks(): Promise<void> {
    if (this.#markTimer !== undefined) this.#timers.clearTimeout(this.#markTimer);
    this.#markTimer = undefined;
    const ids = this.#acked.splice(0);
    if (ids.length === 0) return this.#marking;
    this.#marking = this.#marking.then(async () => {
      for (let i = 0; i < ids.length; i += 500) {
        await this.#outbox.deliveredMany(ids.slice(i, i + 500)).catch(() => {});
      }
    });
    return this.#marking;
  }

  /** Wait until every send started so far has settled and its delivery is marked (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#flushMarks();
  }

  /** Run rounds on timers until stop(), waking up on every enqueue of the outbox. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#claimWanted = true;
    const unsubscribe = this.#outbox.onEnqueued(() => {
      this.#claimWanted = true;
      this.notify();
    });
    this.#outbox.attachDispatcher(this);
    this.#unsubscribe = () => {
      unsubscribe();
      this.#outbox.attachDispatcher(undefined);
    };
    this.notify();
  }

  /**
   * Run a round soon: at the end of this turn of the event loop, or right after the round in
   * progress. Wake-ups before the round starts are one round.
   */
  notify(): void {
    if (!this.#running) return;
    if (this.#round) {
      this.#again = true;
      return;
    }
    if (this.#wakeScheduled) return;
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#wakeScheduled = ms === 0;
    this.#timer = this.#timers.setTimeout(() => void this.#loop(), ms);
  }

  async #loop(): Promise<void> {
    // A round on the idle timer claims: retries fall due without anyone waking the relay.
    if (!this.#wakeScheduled) this.#claimWanted = true;
    this.#timer = undefined;
    this.#wakeScheduled = false;
    if (!this.#running || this.#round) return;
    this.#again = false;
    this.#round = (async () => {
      try {
        await this.tick();
      } catch {
        // A failed round (database busy, closed) is retried at the next one.
      }
    })();
    await this.#round;
    this.#round = undefined;
    if (!this.#running) return;
    if (this.#again) {
      this.#again = false;
      this.#schedule(0);
      return;
    }
    let wait = this.#idleMs;
    // With sends in flight, each one settling wakes the relay; looking for the next due time
    // (a scan of the pending messages) is only worth it when nothing is.
    if (this.#inFlight.size === 0) {
      try {
        const due = await this.#outbox.nextDueIn();
        if (due !== undefined) wait = Math.min(wait, due);
      } catch {
        // as above
      }
    }
    // A wake-up that came while looking for the next due time has already scheduled a round.
    if (this.#running && this.#timer === undefined) this.#schedule(Math.max(wait, 5));
  }

  /** Stop the timers and wait for sends in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wakeScheduled = false;
    await this.#round;
    await this.settle();
  }
}
