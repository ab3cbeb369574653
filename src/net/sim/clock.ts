/**
 * Virtual time: an event queue ordered by (time, insertion). Nothing in the simulation reads
 * the real clock or sets a real timer; `run` takes events in order until none are left or the
 * budget is spent.
 */
interface Event {
  readonly at: number;
  readonly n: number;
  readonly run: () => void | Promise<void>;
}

export class VirtualClock {
  #now: number;
  /** Where virtual time began. */
  readonly start: number;
  #n = 0;
  /** A binary min-heap. */
  readonly #heap: Event[] = [];
  events = 0;

  constructor(start: number) {
    this.#now = start;
    this.start = start;
  }

  now(): number {
    return this.#now;
  }

  /** Run `fn` at now + delay (delay >= 0). */
  after(delay: number, fn: () => void | Promise<void>): void {
    this.#push({ at: this.#now + Math.max(0, delay), n: this.#n++, run: fn });
  }

  get pending(): number {
    return this.#heap.length;
  }

  /** Take the next event, advance time to it and run it; false when the queue is empty. */
  async step(): Promise<boolean> {
    const e = this.#pop();
    if (!e) return false;
    this.#now = e.at;
    this.events++;
    await e.run();
    // Let the continuations the event resolved (acknowledgements reaching the outbox) finish
    // before the next event: everything is in memory, so one macrotask turn drains them.
    await new Promise<void>((resolve) => setImmediate(resolve));
    return true;
  }

  #less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.n < b.n);
  }

  #push(e: Event): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Event | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
