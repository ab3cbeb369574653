/**
 * One seed of the deterministic simulation: build a small real-code network from the seed,
 * drive card status changes through it under faults, run to quiescence on virtual time within
 * a budget, then check the invariants:
 *
 *   1. every status change reached every node it must (issuer's prefecture, the national
 *      center, every agency), in order: each node saw versions 1, 2, ..., V of each card;
 *   2. no message was applied twice;
 *   3. all nodes agree on every card's status (the issuer's);
 *   4. nothing is left pending, dead or held;
 *   5. no agency accepted a card it had been told was suspended, abolished or collected
 *      (agency desks check cards at random times during the run, R4.2.2).
 *
 * A failure names the seed and how to replay it: `npm run sim -- --seed N`.
 */
import { CARD_STATUSES, type CardStatus } from '../envelope.ts';
import { parseTopology, subsetTopology } from '../topology.ts';
import { VirtualClock } from './clock.ts';
import { SimRandom } from './prng.ts';
import { World, refusesCard, type Faults, type SimNode } from './world.ts';

export interface SimOptions {
  /** Most events one seed may take before it counts as not converging. Default 200000. */
  readonly maxEvents?: number;
  /** Most virtual time, ms. Default one hour. */
  readonly maxVirtualMs?: number;
  /** Print every step (replaying one seed). */
  readonly trace?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violations: readonly string[];
  readonly nodes: number;
  readonly cards: number;
  readonly changes: number;
  readonly events: number;
  readonly virtualMs: number;
  readonly crashes: number;
  /** Card checks at agency desks, and how many were refused. */
  readonly checks: number;
  readonly refused: number;
}

/** The command that replays a seed with a full trace. */
export function replayCommand(seed: number): string {
  return `npm run sim -- --seed ${seed}`;
}

const START = Date.parse('2025-04-01T00:00:00.000Z');

/** Statuses after `from` that the issuing municipality may record. */
const NEXT: Record<CardStatus, readonly CardStatus[]> = {
  active: ['suspended', 'abolished'],
  suspended: ['active', 'abolished'],
  abolished: ['collected'],
  collected: [],
};

/** Run one seed and check the invariants. */
export async function runSeed(seed: number, options: SimOptions = {}): Promise<SimResult> {
  const rng = new SimRandom(seed);
  const clock = new VirtualClock(START);
  const prefs = rng.chance(0.5) ? ['13'] : ['13', rng.pick(['14', '27', '01'])];
  const agencies = rng.chance(0.5) ? ['passport'] : ['passport', 'pension'];
  const topology = parseTopology(subsetTopology({ prefectures: prefs, municipalitiesPerPrefecture: rng.int(1, 2), agencies, jpki: false }));
  const faults: Faults = {
    drop: rng.next() * 0.2,
    duplicate: rng.next() * 0.2,
    dropAck: rng.next() * 0.1,
    delay: rng.next() * 0.2,
    crashInApply: rng.next() * 0.03,
  };
  const world = new World(topology, clock, rng, { faults, timeoutMs: 250, ...(options.trace ? { trace: options.trace } : {}) });
  options.trace?.(`seed ${seed}: ${topology.nodes.map((n) => n.id).join(', ')}; faults ${JSON.stringify(faults, (_k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}`);

  // Cards and their status changes: issued active, then a valid walk, at random times.
  const municipalities = [...world.nodes.values()].filter((n) => n.spec.role === 'municipality');
  const cards: { card: string; issuer: SimNode }[] = [];
  let changes = 0;
  for (const m of municipalities) {
    for (let i = 0, k = rng.int(1, 2); i < k; i++) {
      const card = `${m.spec.code}-${String(i + 1).padStart(4, '0')}`;
      cards.push({ card, issuer: m });
      const walk: CardStatus[] = ['active'];
      for (let j = rng.int(0, 3); j > 0 && NEXT[walk.at(-1)!].length; j--) walk.push(rng.pick(NEXT[walk.at(-1)!]));
      changes += walk.length;
      // Each change after the previous one committed; while the issuer is down, a change waits.
      const step = (j: number): void => {
        if (j >= walk.length) return;
        clock.after(rng.int(0, 1500), async () => {
          if (await world.change(m, card, walk[j]!)) step(j + 1);
          else clock.after(100, () => void stepRetry(j));
        });
      };
      const stepRetry = async (j: number): Promise<void> => {
        if (await world.change(m, card, walk[j]!)) step(j + 1);
        else clock.after(100, () => void stepRetry(j));
      };
      step(0);
    }
  }
  // Agency desks check cards at random times (R4.2.2).
  const agencyNodes = [...world.nodes.values()].filter((n) => n.spec.role === 'agency');
  for (const a of agencyNodes) {
    for (let i = 0, k = rng.int(3, 8); i < k; i++) {
      const { card } = rng.pick(cards);
      clock.after(rng.int(0, 6000), () => world.check(a, card));
    }
  }
  // Crashes: any node, any time in the first seconds, down for a while.
  const crashes = rng.int(0, 3);
  const all = [...world.nodes.values()];
  for (let i = 0; i < crashes; i++) {
    const node = rng.pick(all);
    clock.after(rng.int(0, 4000), () => world.crash(node, rng.int(50, 3000)));
  }

  const maxEvents = options.maxEvents ?? 200_000;
  const maxMs = options.maxVirtualMs ?? 3_600_000;
  const violations: string[] = [];
  while (await clock.step()) {
    if (clock.events >= maxEvents || clock.now() - START > maxMs) {
      violations.push(`budget exceeded: ${clock.events} events, ${clock.now() - START} virtual ms, ${clock.pending} events still queued`);
      break;
    }
  }
  if (violations.length === 0) violations.push(...(await checkInvariants(world, cards)));
  return {
    seed, ok: violations.length === 0, violations, nodes: world.nodes.size, cards: cards.length, changes,
    events: clock.events, virtualMs: clock.now() - START, crashes, checks: world.checks.length, refused: world.checks.filter((c) => !c.accepted).length,
  };
}

async function checkInvariants(world: World, cards: readonly { card: string; issuer: SimNode }[]): Promise<string[]> {
  const out: string[] = [];
  for (const { card, issuer } of cards) {
    const final = issuer.cards.get(card);
    if (!final) {
      out.push(`${card}: never issued at ${issuer.id}`);
      continue;
    }
    const must = [world.topology.prefectureOf(issuer.spec.code!), world.topology.national, ...world.topology.agencies];
    for (const id of must) {
      const got = world.nodes.get(id)!.cards.get(card);
      if (!got || got.version !== final.version || got.status !== final.status) {
        out.push(`${card}: ${id} has ${got ? `v${got.version} ${got.status}` : 'nothing'}, issuer ${issuer.id} has v${final.version} ${final.status}`);
      }
    }
  }
  for (const c of world.checks) {
    if (c.accepted && c.told && refusesCard(c.told) && c.told.version > (c.held?.version ?? 0)) {
      out.push(`${c.agency} accepted ${c.card} although told it was ${c.told.status} (v${c.told.version}); its list held ${c.held ? `v${c.held.version} ${c.held.status}` : 'nothing'}`);
    }
    if (c.accepted && refusesCard(c.held)) out.push(`${c.agency} accepted ${c.card} with a ${c.held!.status} notice on its list`);
  }
  for (const node of world.nodes.values()) {
    for (const [id, n] of node.applied) if (n !== 1) out.push(`${node.id}: message ${id} applied ${n} times`);
    out.push(...node.outOfOrder);
    const p = await node.outbox.pending();
    for (const r of p.undelivered) out.push(`${node.id}: still pending after quiescence: ${r.envelope.to} ${r.envelope.key}#${r.envelope.seq}`);
    for (const r of p.dead) out.push(`${node.id}: dead: ${r.envelope.to} ${r.envelope.key}#${r.envelope.seq}: ${r.lastError}`);
    for (const r of p.held) out.push(`${node.id}: still held: from ${r.envelope.from} ${r.envelope.key}#${r.envelope.seq}`);
    for (const status of [...node.cards.values()].map((c) => c.status)) if (!CARD_STATUSES.includes(status)) out.push(`${node.id}: unknown status ${status}`);
  }
  return out;
}

export interface SeedsSummary {
  readonly seeds: number;
  readonly failed: readonly SimResult[];
  readonly events: number;
  readonly changes: number;
  readonly ms: number;
}

/** Run seeds `from`..`from + count - 1`; stops collecting after `maxFailures` failures. */
export async function runSeeds(from: number, count: number, options: SimOptions & { maxFailures?: number; onResult?: (r: SimResult) => void } = {}): Promise<SeedsSummary> {
  const started = performance.now();
  const failed: SimResult[] = [];
  let events = 0;
  let changes = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = await runSeed(seed, options);
    events += r.events;
    changes += r.changes;
    options.onResult?.(r);
    if (!r.ok) {
      failed.push(r);
      if (failed.length >= (options.maxFailures ?? 10)) break;
    }
  }
  return { seeds: count, failed, events, changes, ms: performance.now() - started };
}
