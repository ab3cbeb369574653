/**
 * The simulated network: nodes with their real Outbox, Inbox, Relay and Gate over a memory
 * store (their "disk"), a transport that loses, duplicates, delays and reorders messages and
 * acknowledgements, and crashes that wipe everything a node holds but its store.
 */
import { encodeEnvelope, type CardStatus, type CardStatusBody, type Envelope } from '../envelope.ts';
import { Gate } from '../gate.ts';
import { Inbox, type Receipt } from '../inbox.ts';
import { MemoryNetStore, type MemoryTx } from '../memory-store.ts';
import { Outbox } from '../outbox.ts';
import { Relay } from '../relay.ts';
import { type NodeSpec } from '../roles.ts';
import type { Topology } from '../topology.ts';
import { permanentFailure, transientFailure, type Transport } from '../transport.ts';
import type { VirtualClock } from './clock.ts';
import type { SimRandom } from './prng.ts';

export interface Faults {
  /** Probability a request is lost on the way. */
  readonly drop: number;
  /** Probability a request arrives twice. */
  readonly duplicate: number;
  /** Probability an acknowledgement is lost on the way back. */
  readonly dropAck: number;
  /** Probability a message is held up for 100-1500 ms (and so overtaken). */
  readonly delay: number;
  /** Probability a node crashes in the middle of applying a message (its transaction rolls back). */
  readonly crashInApply: number;
}

export interface WorldOptions {
  readonly faults: Faults;
  /** Sender-side timeout of one send, virtual ms. */
  readonly timeoutMs: number;
  readonly trace?: (line: string) => void;
}

export interface CardState {
  readonly status: CardStatus;
  readonly version: number;
}

/** One node: durable state (store, cards, application counts) and what a crash loses. */
export class SimNode {
  readonly id: string;
  readonly spec: NodeSpec;
  // Durable: written only inside store transactions, so a rollback undoes them.
  readonly store = new MemoryNetStore();
  readonly cards = new Map<string, CardState>();
  readonly applied = new Map<string, number>();
  readonly outOfOrder: string[] = [];
  // Volatile.
  up = true;
  incarnation = 0;
  crashNow = false;
  tickAt = Infinity;
  tickToken = 0;
  outbox!: Outbox<MemoryTx>;
  inbox!: Inbox<MemoryTx>;
  relay!: Relay<MemoryTx>;
  gate!: Gate;

  constructor(id: string, spec: NodeSpec) {
    this.id = id;
    this.spec = spec;
  }
}

/** One card check at an agency desk (R4.2.2), and what the agency had been told by then. */
export interface AgencyCheck {
  readonly agency: string;
  readonly card: string;
  readonly accepted: boolean;
  /** The latest notice the agency had acknowledged as applied (a receipt `applied`; a `duplicate` may be a held one). */
  readonly told?: CardState;
  /** What its notice list held. */
  readonly held?: CardState;
}

/** The agency's rule (src/agency/notice-list.ts `refuses`): any status but active refuses the card. */
export function refusesCard(notice: CardState | undefined): boolean {
  return notice !== undefined && notice.status !== 'active';
}

export class World {
  readonly nodes = new Map<string, SimNode>();
  /** Per agency, per card: the newest notice it acknowledged as applied. */
  readonly told = new Map<string, Map<string, CardState>>();
  readonly checks: AgencyCheck[] = [];
  readonly clock: VirtualClock;
  readonly rng: SimRandom;
  readonly topology: Topology;
  readonly #o: WorldOptions;

  constructor(topology: Topology, clock: VirtualClock, rng: SimRandom, options: WorldOptions) {
    this.topology = topology;
    this.clock = clock;
    this.rng = rng;
    this.#o = options;
    for (const n of topology.nodes) {
      if (n.spec.role === 'jpki') continue;
      const node = new SimNode(n.id, n.spec);
      this.nodes.set(n.id, node);
      this.#boot(node);
    }
  }

  #trace(line: string): void {
    this.#o.trace?.(`${String(this.clock.now() - this.clock.start).padStart(7)} ms  ${line}`);
  }

  /** (Re)start a node's volatile parts over its durable store. */
  #boot(node: SimNode): void {
    const now = () => this.clock.now();
    const random = () => this.rng.next();
    node.outbox = new Outbox(node.store, node.id, { now, random, newId: () => this.rng.hex(), backoff: { baseMs: 100, maxMs: 2000 } });
    node.inbox = new Inbox(node.store, node.id, (trx, e) => this.#apply(node, trx, e), { now });
    node.relay = new Relay(node.outbox, this.#transport(node), { concurrency: 16 });
    // Messages enqueued in the store's transactions go to the relay after commit (as under a
    // started relay); the rounds stay the simulation's.
    node.outbox.attachDispatcher(node.relay);
    node.gate = new Gate({ self: node.spec, inbox: node.inbox });
  }

  /** The node's effect for a card-status message, and the next hop of its route. */
  async #apply(node: SimNode, trx: MemoryTx, e: Envelope): Promise<void> {
    const body = e.body as CardStatusBody;
    const prev = node.cards.get(body.cardNumber)?.version ?? 0;
    if (body.version !== prev + 1) {
      node.outOfOrder.push(`${node.id}: card ${body.cardNumber} v${body.version} applied after v${prev}`);
      trx.onRollback(() => node.outOfOrder.pop());
    }
    trx.set(node.cards, body.cardNumber, { status: body.status, version: body.version });
    trx.set(node.applied, e.id, (node.applied.get(e.id) ?? 0) + 1);
    if (this.rng.chance(this.#o.faults.crashInApply)) {
      node.crashNow = true;
      throw new Error('simulated crash while applying');
    }
    // Routes: municipality -> prefecture (R3.2.1u) -> national (R3.2.1e) -> agencies (R3.2.1o).
    if (node.spec.role === 'prefecture') {
      await node.outbox.enqueue(trx, { type: 'card.status', from: node.id, to: this.topology.national, body });
    } else if (node.spec.role === 'national') {
      for (const a of this.topology.agencies) await node.outbox.enqueue(trx, { type: 'agency.notice', from: node.id, to: a, body });
    }
    this.tick(node, 0);
  }

  /** The issuing municipality changes a card's status: state and message in one transaction. */
  async change(m: SimNode, card: string, status: CardStatus): Promise<boolean> {
    if (!m.up) return false;
    await m.store.transaction(async (tx) => {
      const version = (m.cards.get(card)?.version ?? 0) + 1;
      tx.trx.set(m.cards, card, { status, version });
      const body: CardStatusBody = { cardNumber: card, status, issuer: m.spec.code!, version, changedAt: new Date(this.clock.now()).toISOString() };
      await m.outbox.enqueue(tx.trx, { type: 'card.status', from: m.id, to: this.topology.prefectureOf(m.spec.code!), body });
    });
    this.#trace(`${m.id} card ${card} -> ${status}`);
    this.tick(m, 0);
    return true;
  }

  /** An agency desk checks a card against the agency's notice list (R4.2.2). */
  check(agency: SimNode, card: string): void {
    if (!agency.up) return;
    const held = agency.cards.get(card);
    const told = this.told.get(agency.id)?.get(card);
    const accepted = !refusesCard(held);
    this.checks.push({ agency: agency.id, card, accepted, ...(told ? { told } : {}), ...(held ? { held } : {}) });
    this.#trace(`${agency.id} checks ${card}: ${accepted ? 'accepted' : `refused (${held!.status})`}`);
  }

  /** Schedule a relay round of `node` in `delay` ms (keeps only the earliest). */
  tick(node: SimNode, delay: number): void {
    const at = this.clock.now() + delay;
    if (!node.up || node.tickAt <= at) return;
    node.tickAt = at;
    const token = ++node.tickToken;
    this.clock.after(delay, async () => {
      if (token !== node.tickToken || !node.up) return;
      node.tickAt = Infinity;
      const started = await node.relay.tick();
      const due = await node.outbox.nextDueIn();
      // Due now but nothing started: the relay is full; a settling send schedules the next round.
      if (due !== undefined && !(due === 0 && started === 0)) this.tick(node, due);
    });
  }

  crash(node: SimNode, downMs: number): void {
    if (!node.up) return;
    this.#trace(`${node.id} CRASH (down ${downMs} ms)`);
    node.up = false;
    node.crashNow = false;
    node.incarnation++;
    node.tickToken++;
    node.tickAt = Infinity;
    this.clock.after(downMs, () => {
      this.#trace(`${node.id} restart`);
      node.up = true;
      this.#boot(node);
      this.tick(node, 0);
    });
  }

  #latency(): number {
    return this.rng.chance(this.#o.faults.delay) ? this.rng.int(100, 1500) : this.rng.int(1, 20);
  }

  /** The lossy network as seen from `sender`. */
  #transport(sender: SimNode): Transport {
    const incarnation = sender.incarnation;
    const f = this.#o.faults;
    return {
      close: async () => {},
      send: (env: Envelope) =>
        new Promise<Receipt>((resolve, reject) => {
          let settled = false;
          const settle = (fn: () => void): void => {
            if (settled) return;
            settled = true;
            // A reply to a crashed incarnation reaches nobody.
            if (sender.incarnation !== incarnation || !sender.up) return;
            fn();
            this.tick(sender, 0);
          };
          this.clock.after(this.#o.timeoutMs, () => settle(() => reject(transientFailure('timeout'))));
          if (this.rng.chance(f.drop)) {
            this.#trace(`lost      ${env.from} -> ${env.to} ${env.key}#${env.seq}`);
            return;
          }
          const copies = this.rng.chance(f.duplicate) ? 2 : 1;
          for (let i = 0; i < copies; i++) {
            this.clock.after(this.#latency(), async () => {
              const r = this.nodes.get(env.to);
              if (!r || !r.up) {
                this.clock.after(this.#latency(), () => settle(() => reject(transientFailure(`${env.to} is down`))));
                return;
              }
              const reply = await r.gate.accept(sender.spec, encodeEnvelope(env));
              if (reply.ok && reply.receipt === 'applied' && !r.crashNow && env.type === 'agency.notice') {
                const b = env.body as CardStatusBody;
                const told = this.told.get(r.id) ?? new Map<string, CardState>();
                this.told.set(r.id, told);
                if ((told.get(b.cardNumber)?.version ?? 0) < b.version) told.set(b.cardNumber, { status: b.status, version: b.version });
              }
              this.#trace(`delivered ${env.from} -> ${env.to} ${env.key}#${env.seq}: ${reply.ok ? reply.receipt : reply.message}`);
              if (r.crashNow) {
                this.crash(r, this.rng.int(50, 2000));
                return;
              }
              if (this.rng.chance(f.dropAck)) return;
              this.clock.after(this.#latency(), () =>
                settle(() => (reply.ok ? resolve(reply.receipt) : reject(reply.permanent ? permanentFailure('JUKI_ERR_NET_DENIED', reply.message) : transientFailure(reply.message)))),
              );
            });
          }
        }),
    };
  }
}
