/**
 * A small Juki-net for tests: real nodes (SQL store from openTestDb(), outbox, inbox with the
 * role's handler, Gate, relay, query service) over the in-process transport or HTTPS with
 * mutual TLS on loopback, on a test clock. Relays are driven by `pump()` (no timers, no sleeps):
 * it runs rounds on every running node until a round sends nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePki, inProcessPlan, prepareNodeNet, type NetworkPki, type NetworkPlan, type StartedNodeNet } from '../../src/cli/network.ts';
import type { Database } from '../../src/db/index.ts';
import { parseTopology, type NodeSpec, type ReturnedCardHook, type Topology, type TopologyFile } from '../../src/net/index.ts';
import { openTestDb } from '../helpers/db.ts';
import { freePort } from '../helpers/ports.ts';

export type Kind = 'in-process' | 'https';

export interface TestNode {
  readonly id: string;
  readonly spec: NodeSpec;
  readonly db: Database;
  net: StartedNodeNet | undefined;
}

export interface TestNetwork {
  readonly nodes: Map<string, TestNode>;
  readonly topology: Topology;
  readonly pki: NetworkPki;
  readonly plan: NetworkPlan;
  /** The test clock, ms. */
  now: number;
  node(id: string): TestNode & { net: StartedNodeNet };
  /** Take a node off the network (its database stays). */
  stop(id: string): Promise<void>;
  /** Bring it back over the same database. */
  start(id: string): Promise<void>;
  /** Relay rounds on every running node until one sends nothing; returns messages sent. */
  pump(): Promise<number>;
  close(): Promise<void>;
}

export async function startTestNetwork(kind: Kind, specs: readonly NodeSpec[], hooks: { returnedCard?: (node: string) => ReturnedCardHook } = {}): Promise<TestNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'juki-net-'));
  const file: TopologyFile = {
    version: 1,
    nodes: await Promise.all(specs.map(async (s) => ({ role: s.role, ...(s.code ? { code: s.code } : {}), ...(kind === 'https' ? { address: `https://127.0.0.1:${await freePort()}` } : {}) }))),
  };
  const topology = parseTopology(file);
  const pki = await ensurePki(join(dir, 'pki'), topology);
  const plan: NetworkPlan = kind === 'in-process' ? inProcessPlan(pki, topology) : { kind: 'https', pki, topology };
  const nodes = new Map<string, TestNode>();
  const net: TestNetwork = {
    nodes, topology, pki, plan, now: Date.parse('2025-04-01T00:00:00.000Z'),
    node(id) {
      const n = nodes.get(id);
      if (!n?.net) throw new Error(`${id} is not running`);
      return n as TestNode & { net: StartedNodeNet };
    },
    async stop(id) {
      const n = nodes.get(id)!;
      await n.net?.close();
      n.net = undefined;
    },
    async start(id) {
      const n = nodes.get(id)!;
      n.net = prepareNodeNet(plan, n.spec, n.db, { now: () => net.now, autoRelay: false });
      const hook = hooks.returnedCard?.(id);
      await n.net.start(hook ? { returnedCard: hook } : {});
    },
    async pump() {
      let total = 0;
      for (let round = 0; round < 100; round++) {
        let sent = 0;
        for (const n of nodes.values()) if (n.net) sent += await n.net.pump();
        total += sent;
        if (sent === 0) return total;
      }
      throw new Error('pump: still sending after 100 rounds');
    },
    async close() {
      for (const n of nodes.values()) await n.net?.close().catch(() => {});
      for (const n of nodes.values()) await n.db.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const n of topology.nodes) {
      nodes.set(n.id, { id: n.id, spec: n.spec, db: await openTestDb(), net: undefined });
      await net.start(n.id);
    }
  } catch (e) {
    await net.close();
    throw e;
  }
  return net;
}

/** An identity record as a municipality's register announces it. */
export function identityRecord(residentCode: string, municipality: string, o: { family?: string; given?: string; birthDate?: string; address?: string; status?: string } = {}) {
  const name = { family: o.family ?? '山田', given: o.given ?? '太郎' };
  const address = o.address ?? (municipality.startsWith('13') ? '東京都千代田区千代田1-1' : '神奈川県横浜市中区1-1');
  return {
    residentCode, municipality, name, birthDate: o.birthDate ?? '1980-01-02', sex: 'male', address, status: o.status ?? 'registered',
    change: { reason: 'birth', date: o.birthDate ?? '1980-01-02' }, substitute: { name, address },
  };
}
