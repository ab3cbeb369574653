/**
 * The delivery loop: claim due messages from the outbox, send them through a transport, mark
 * each delivered on acknowledgement or record the failure. Sends run concurrently (up to
 * `concurrency`); a claimed message already has its retry scheduled, so the loop keeps no
 * state that a crash could lose. `tick()` is one round (the simulation calls it on virtual
 * time); `start()` runs rounds on real timers until `stop()`.
 */
import type { Envelope } from './envelope.ts';
import type { Outbox } from './outbox.ts';
import type { Transport } from './transport.ts';

export interface RelayOptions {
  /** Sends in flight at most. Default 16. */
  readonly concurrency?: number;
  /** Longest sleep between rounds when nothing is due, ms. Default 1000. */
  readonly idleMs?: number;
  /** Told about each failed send (logging). */
  readonly onFailure?: (envelope: Envelope, error: unknown) => void;
}

export class Relay<T> {
  readonly #outbox: Outbox<T>;
  readonly #transport: Transport;
  readonly #concurrency: number;
  readonly #idleMs: number;
  readonly #onFailure: (envelope: Envelope, error: unknown) => void;
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #round: Promise<void> | undefined;

  constructor(outbox: Outbox<T>, transport: Transport, options: RelayOptions = {}) {
    this.#outbox = outbox;
    this.#transport = transport;
    this.#concurrency = options.concurrency ?? 16;
    this.#idleMs = options.idleMs ?? 1000;
    this.#onFailure = options.onFailure ?? (() => {});
  }

  /** One round: claim what is due (up to free capacity) and start sending it. Returns how many started. */
  async tick(): Promise<number> {
    const room = this.#concurrency - this.#inFlight.size;
    if (room <= 0) return 0;
    const due = await this.#outbox.claimDue(room);
    for (const envelope of due) {
      const p: Promise<void> = this.#deliver(envelope).finally(() => {
        this.#inFlight.delete(p);
        if (this.#running) this.notify();
      });
      this.#inFlight.add(p);
    }
    return due.length;
  }

  async #deliver(envelope: Envelope): Promise<void> {
    try {
      await this.#transport.send(envelope);
    } catch (e) {
      this.#onFailure(envelope, e);
      await this.#outbox.failed(envelope.id, e);
      return;
    }
    await this.#outbox.delivered(envelope.id);
  }

  /** Wait until every send started so far has settled (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Run rounds on real timers until stop(). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.notify();
  }

  /** Run a round soon (call after enqueueing, to send without waiting for the next timer). */
  notify(): void {
    if (!this.#running) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#loop(), 0);
  }

  async #loop(): Promise<void> {
    this.#timer = undefined;
    if (!this.#running || this.#round) return;
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
    let wait = this.#idleMs;
    try {
      const due = await this.#outbox.nextDueIn();
      if (due !== undefined) wait = Math.min(wait, due);
    } catch {
      // as above
    }
    if (this.#running && !this.#timer) this.#timer = setTimeout(() => void this.#loop(), Math.max(wait, 5));
  }

  /** Stop the timers and wait for sends in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
    await this.settle();
  }
}
