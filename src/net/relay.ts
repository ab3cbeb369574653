/**
 * The delivery loop: claim due messages from the outbox, send them through a transport, mark
 * each delivered on acknowledgement or record the failure. Sends run concurrently (up to
 * `concurrency`); a claimed message already has its retry scheduled, so the loop keeps no
 * state that a crash could lose. `tick()` is one round (the simulation calls it on virtual
 * time); `start()` runs rounds on timers until `stop()`.
 *
 * A started relay wakes up on every enqueue of its outbox (`Outbox.onEnqueued`) and on
 * `notify()`, and runs a round at the end of that turn of the event loop (timer 0), so a message
 * goes out as soon as its transaction committed instead of at the next idle round; everything
 * enqueued in the meantime goes in the same round (one claim, up to `concurrency` messages). A
 * wake-up during a round is kept and runs another round right after it. On SQLite the round's
 * claim waits for the enqueuing transaction (one connection); on PostgreSQL a round that runs
 * before that commit misses the message, which then goes at the next round (after the next
 * enqueue, a send settling, or the idle timer).
 */
import type { Envelope } from './envelope.ts';
import type { Outbox } from './outbox.ts';
import type { Transport } from './transport.ts';

export interface RelayOptions {
  /** Sends in flight at most. Default 64. */
  readonly concurrency?: number;
  /** Longest sleep between rounds when nothing is due, ms. Default 1000. */
  readonly idleMs?: number;
  /**
   * Envelopes for one receiver sent in one exchange at most, when the transport can
   * (`Transport.sendBatch`, HTTPS). Default 64; 1 sends each alone.
   */
  readonly maxBatch?: number;
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

export class Relay<T> {
  readonly #outbox: Outbox<T>;
  readonly #transport: Transport;
  readonly #concurrency: number;
  readonly #maxBatch: number;
  readonly #idleMs: number;
  readonly #onFailure: (envelope: Envelope, error: unknown) => void;
  readonly #timers: RelayTimers;
  readonly #inFlight = new Set<Promise<void>>();
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
    this.#concurrency = options.concurrency ?? 64;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 64);
    this.#idleMs = options.idleMs ?? 1000;
    this.#onFailure = options.onFailure ?? (() => {});
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  /** One round: claim what is due (up to free capacity) and start sending it. Returns how many started. */
  async tick(): Promise<number> {
    const room = this.#concurrency - this.#inFlight.size;
    if (room <= 0) return 0;
    const due = await this.#outbox.claimDue(room);
    for (const [envelope, delivery, marked] of this.#send(due)) {
      const p: Promise<void> = this.#settleOne(envelope, delivery, marked).finally(() => {
        this.#inFlight.delete(p);
        // Claim again once half the room is free (or all of it, with nothing left in flight),
        // not after every send: each claim reads the due messages, and under load many small
        // claims cost far more than a few large ones.
        if (this.#running && (this.#inFlight.size === 0 || this.#inFlight.size <= this.#concurrency / 2)) this.notify();
      });
      this.#inFlight.add(p);
    }
    return due.length;
  }

  /**
   * Start sending `due`: alone, or, when the transport can, in batches of the envelopes for the
   * same receiver (claim order kept within each batch, so a card's messages go in sequence).
   * Each envelope's outcome is still its own: a batch's acknowledged envelopes are marked
   * delivered together (one statement; `marked` true), the failed ones each on its own.
   */
  #send(due: readonly Envelope[]): [Envelope, Promise<unknown>, boolean][] {
    const sendBatch = this.#transport.sendBatch?.bind(this.#transport);
    if (!sendBatch || this.#maxBatch === 1 || due.length < 2) return due.map((e) => [e, this.#transport.send(e), false]);
    const byReceiver = new Map<string, Envelope[]>();
    for (const e of due) {
      const list = byReceiver.get(e.to);
      if (list) list.push(e);
      else byReceiver.set(e.to, [e]);
    }
    const out: [Envelope, Promise<unknown>, boolean][] = [];
    for (const list of byReceiver.values()) {
      for (let i = 0; i < list.length; i += this.#maxBatch) {
        const batch = list.slice(i, i + this.#maxBatch);
        if (batch.length === 1) {
          out.push([batch[0]!, this.#transport.send(batch[0]!), false]);
          continue;
        }
        const results = sendBatch(batch).then(async (r) => {
          const acked = batch.filter((_, k) => r[k]?.ok === true).map((e) => e.id);
          // If this fails (database), each envelope fails as a transient error and is sent again.
          if (acked.length > 0) await this.#outbox.deliveredMany(acked);
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
    if (!marked) await this.#outbox.delivered(envelope.id);
  }

  /** Wait until every send started so far has settled (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Run rounds on timers until stop(), waking up on every enqueue of the outbox. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.#outbox.onEnqueued(() => this.notify());
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
